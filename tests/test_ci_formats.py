"""`--format gitlab|junit|rdjson`: the reports CI tools read, through the command (the real CLI
in a subprocess once, its entry point in this process otherwise).

Each is checked against what its consumer accepts:
- rdjson against reviewdog's published JSON schema, `tests/data/rdjson-DiagnosticResult.json`
  (`proto/rdf/jsonschema/DiagnosticResult.json` of reviewdog, MIT licence, commit
  6c307503194f0f32bf1956c7fcd2877636338db6, unmodified; sha256 below);
- JUnit XML by `junitparser`, a real consumer from PyPI;
- GitLab Code Quality against the fields GitLab's documentation requires of each issue
  (`description`, `check_name`, `fingerprint`, `severity` in its five levels, `location.path`,
  `location.lines.begin`), written down as a schema here since GitLab publishes none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from tests.fixture_cases import run_cli, run_in_process

RDJSON_SCHEMA = Path(__file__).parent / "data" / "rdjson-DiagnosticResult.json"
RDJSON_SHA256 = "89b09042bc3f833f76c502ab793ee4fceba4bb75919498563b17f2be68569970"

GITLAB_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "pattern": "^[^\\\\]+$"},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

label = "\u00e9\u00e9"; engine = create_engine("postgresql://db/app")
replica = create_engine("postgresql://db/replica")
SessionLocal = sessionmaker(bind=engine)


def get_db():
    return SessionLocal()
"""
MAIN = """\
from fastapi import Depends, FastAPI

from app.db import get_db

app = FastAPI()


@app.get("/")
def index(db=Depends(get_db)):
    return {}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder holding the project `proj/` (the CLI runs from the folder above it)."""
    app = tmp_path / "proj" / "app"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "db.py").write_text(DB, encoding="utf-8")
    (app / "main.py").write_text(MAIN)
    return tmp_path


def report(workdir: Path, output_format: str, path: str = "proj", process: bool = False) -> str:
    """The report on stdout; `process`: the real CLI in a subprocess, else its entry point here."""
    result = (run_cli if process else run_in_process)(
        "check", "--no-cache", "--format", output_format, path, cwd=workdir
    )
    assert result.returncode in (0, 1), result.stderr.decode()
    assert result.stderr == b""
    return result.stdout.decode("utf-8")


def test_rdjson_validates_against_reviewdogs_schema(workdir: Path) -> None:
    assert hashlib.sha256(RDJSON_SCHEMA.read_bytes()).hexdigest() == RDJSON_SHA256
    document = json.loads(report(workdir, "rdjson", process=True))
    jsonschema.validate(document, json.loads(RDJSON_SCHEMA.read_text()))
    found = {(d["code"]["value"], d["location"]["range"]["start"]["line"]) for d in document["diagnostics"]}
    assert found == {("SL005", 4), ("SL005", 5), ("SL001", 10)}
    assert {d["location"]["path"] for d in document["diagnostics"]} == {"proj/app/db.py"}


def test_rdjson_counts_columns_in_utf8_bytes_and_carries_the_fix(workdir: Path) -> None:
    document = json.loads(report(workdir, "rdjson"))
    first = next(d for d in document["diagnostics"] if d["location"]["range"]["start"]["line"] == 4)
    line = DB.splitlines()[3]
    expected = len(line[: line.index("create_engine")].encode("utf-8")) + 1
    # Two characters of two bytes each precede the call: two more bytes than characters.
    assert first["location"]["range"]["start"]["column"] == expected == line.index("create_engine") + 3
    (suggestion,) = first["suggestions"]
    assert "pool_pre_ping=True" in suggestion["text"]
    assert first["code"]["url"].endswith("/SL005.md")


def test_junit_is_read_by_junitparser(workdir: Path) -> None:
    (workdir / "report.xml").write_text(report(workdir, "junit"), encoding="utf-8")
    xml = JUnitXml.fromfile(str(workdir / "report.xml"))
    suites = list(xml)
    assert [suite.name for suite in suites] == ["proj/app/db.py"]
    cases = list(suites[0])
    assert len(cases) == 3
    assert all(isinstance(result, Failure) for case in cases for result in case.result)
    assert sorted(case.result[0].type for case in cases) == ["SL001", "SL005", "SL005"]
    assert suites[0].failures == 3


def test_junit_without_findings_is_one_passing_case(workdir: Path) -> None:
    (workdir / "proj" / "app" / "db.py").write_text("x = 1\n")
    (workdir / "report.xml").write_text(report(workdir, "junit"), encoding="utf-8")
    xml = JUnitXml.fromfile(str(workdir / "report.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == 1 and cases[0].is_passed


def test_gitlab_report_has_the_fields_gitlab_requires(workdir: Path) -> None:
    issues = json.loads(report(workdir, "gitlab"))
    jsonschema.validate(issues, GITLAB_SCHEMA)
    assert sorted((i["check_name"], i["location"]["lines"]["begin"]) for i in issues) == [
        ("SL001", 10),
        ("SL005", 4),
        ("SL005", 5),
    ]
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_gitlab_fingerprints_survive_an_edit_elsewhere(workdir: Path) -> None:
    before = {
        i["check_name"] + str(i["location"]["lines"]["begin"]): i["fingerprint"]
        for i in json.loads(report(workdir, "gitlab"))
    }
    db = workdir / "proj" / "app" / "db.py"
    db.write_text('"""The database."""\n\n' + DB, encoding="utf-8")
    after = {
        i["check_name"] + str(i["location"]["lines"]["begin"] - 2): i["fingerprint"]
        for i in json.loads(report(workdir, "gitlab"))
    }
    assert after == before


def test_reports_read_the_files_as_they_are_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor or a library user renders again after an edit, in the same process: the
    line texts (fingerprints, byte columns) are those of the file now, not of a first read."""
    from sessionlint.report.diagnostics import Diagnostic, Location
    from sessionlint.report.formats import gitlab, rdjson

    monkeypatch.chdir(tmp_path)
    (tmp_path / "db.py").write_text("engine = create_engine(url)\n", encoding="utf-8")
    finding = Diagnostic("SL005", "engine-without-pre-ping", "m", "db.py", Location(1, 10), Location(1, 28))
    first = json.loads(gitlab.render([finding]))[0]["fingerprint"]
    assert (
        json.loads(rdjson.render([finding]))["diagnostics"][0]["location"]["range"]["start"]["column"] == 10
    )
    (tmp_path / "db.py").write_text("éééééé = create_engine(url)\n", encoding="utf-8")
    assert json.loads(gitlab.render([finding]))[0]["fingerprint"] != first
    assert (
        json.loads(rdjson.render([finding]))["diagnostics"][0]["location"]["range"]["start"]["column"] == 16
    )
