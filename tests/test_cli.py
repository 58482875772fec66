"""The `sessionlint` command's behaviour.

Each exit code (0, 1, 2), standard input and the entry points run the real CLI in a
subprocess; the other exit-code cases, selection, reporting and the rule pages run the
command's own entry point in this process (`run_in_process`), without a second of start-up
each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sessionlint import __version__
from sessionlint.rules import ALL_RULES
from tests.fixture_cases import run_cli, run_in_process

UNSAFE = 'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://db/app")\n'
FIXED = UNSAFE.replace('app")', 'app", pool_pre_ping=True)')
PER_REQUEST = """\
from fastapi import FastAPI
from sqlalchemy import create_engine, text

app = FastAPI()


@app.get("/now")
def now():
    engine = create_engine("postgresql://db/app", pool_pre_ping=True)
    with engine.connect() as connection:
        return connection.execute(text("select now()")).scalar()
"""


def cli(*args: str, cwd: Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = run_cli(*args, cwd=cwd, stdin=stdin)
    return result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8")


def command(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`cli` in this process."""
    result = run_in_process(*args, cwd=cwd)
    return result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8")


def codes(stdout: str) -> list[str]:
    return [item["code"] for item in json.loads(stdout)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "db.py").write_text(UNSAFE)
    (tmp_path / "routes.py").write_text(PER_REQUEST)
    return tmp_path


def config(folder: Path, body: str) -> None:
    (folder / "pyproject.toml").write_text("[tool.sessionlint]\n" + body)


# -- exit codes ---------------------------------------------------------------------------


def test_exit_0_when_clean(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(FIXED)
    assert cli("check", "--no-cache", ".", cwd=tmp_path) == (0, "All checks passed!\n", "")


def test_exit_1_with_findings_and_default_path(project: Path) -> None:
    code, out, _ = cli("check", "--no-cache", cwd=project)  # no path: `.`
    assert code == 1
    assert out.splitlines()[-1] == "Found 2 problems (1 fixable with --fix)."


def test_exit_1_for_a_parse_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from sqlalchemy.orm import Session\ndef f(:\n")
    code, out, _ = command("check", "--no-cache", "--format", "json", ".", cwd=tmp_path)
    assert (code, codes(out)) == (1, ["SL000"])
    # A file named on the command line is always parsed, whatever it mentions.
    (tmp_path / "broken.py").write_text("def f(:\n")
    code, out, _ = command("check", "--no-cache", "--format", "json", "broken.py", cwd=tmp_path)
    assert (code, codes(out)) == (1, ["SL000"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--select", "SL999"], "SL999"),
        (["--ignore", "XY1"], "XY1"),
        (["--no-such-option"], "--no-such-option"),
        (["--config", "missing.toml"], "missing.toml"),
        (["--format", "xml"], "xml"),
    ],
)
def test_exit_2_for_bad_usage(project: Path, args: list[str], needle: str) -> None:
    # The first through the real CLI, the others in-process.
    run = cli if args == ["--select", "SL999"] else command
    code, out, err = run("check", *args, ".", cwd=project)
    assert code == 2 and out == ""
    assert needle in err


def test_exit_2_for_an_unknown_config_key_naming_it(project: Path) -> None:
    config(project, 'dependency-name = ["provide_db"]\n')
    code, out, err = command("check", ".", cwd=project)
    assert code == 2 and out == ""
    assert "`dependency-name`" in err and "pyproject.toml" in err


def test_exit_2_for_an_unknown_code_in_config(project: Path) -> None:
    config(project, 'ignore = ["SL777"]\n')
    code, _, err = command("check", ".", cwd=project)
    assert code == 2 and "SL777" in err


def test_exit_zero(project: Path) -> None:
    code, out, _ = command("check", "--no-cache", "--exit-zero", ".", cwd=project)
    assert code == 0 and "SL005" in out


# -- selection ----------------------------------------------------------------------------


def test_select_ignore_and_extend_select(project: Path) -> None:
    def selected(*args: str) -> list[str]:
        return codes(command("check", "--no-cache", "--format", "json", *args, ".", cwd=project)[1])

    assert selected() == ["SL005", "SL003"]
    assert selected("--select", "SL003") == ["SL003"]
    assert selected("--select", "SL00") == ["SL005", "SL003"]
    assert selected("--ignore", "SL005") == ["SL003"]
    assert selected("--select", "SL003", "--extend-select", "SL005") == ["SL005", "SL003"]
    config(project, 'select = ["SL003"]\n')
    assert selected() == ["SL003"]
    assert selected("--extend-select", "SL005") == ["SL005", "SL003"]
    config(project, 'per-file-ignores = { "routes.py" = ["SL003"] }\n')
    assert selected() == ["SL005"]


# -- reporting ----------------------------------------------------------------------------


def test_quiet_prints_findings_only(project: Path) -> None:
    code, out, _ = command("check", "--no-cache", "--quiet", ".", cwd=project)
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == ["db.py", "routes.py"]


def test_statistics(project: Path) -> None:
    code, out, _ = command("check", "--no-cache", "--statistics", ".", cwd=project)
    assert code == 1
    assert out.splitlines() == [
        "    1\tSL003\t[ ] engine-in-function",
        "    1\tSL005\t[*] engine-without-pre-ping",
        "Found 2 problems (1 fixable with --fix).",
    ]


def test_output_file(project: Path) -> None:
    code, out, _ = command(
        "check", "--no-cache", "--format", "json", "--output-file", "report.json", ".", cwd=project
    )
    assert (code, out) == (1, "")
    assert codes((project / "report.json").read_text()) == ["SL005", "SL003"]


def test_json_format_shape(project: Path) -> None:
    _, out, _ = command("check", "--no-cache", "--format", "json", "db.py", cwd=project)
    [item] = json.loads(out)
    assert item["code"] == "SL005" and item["name"] == "engine-without-pre-ping"
    assert item["filename"] == "db.py"
    assert item["location"] == {"row": 3, "column": 10}
    assert item["end_location"] == {"row": 3, "column": 46}
    assert item["fix"]["applicability"] == "safe"
    assert item["fix"]["edits"][0]["content"] == ", pool_pre_ping=True"
    assert item["url"].endswith("/docs/rules/SL005.md")


def test_fix_and_diff(project: Path) -> None:
    code, out, _ = command("check", "--no-cache", "--diff", "db.py", cwd=project)
    assert code == 1
    assert '+engine = create_engine("postgresql://db/app", pool_pre_ping=True)' in out
    assert (project / "db.py").read_text() == UNSAFE, "--diff writes nothing"
    code, out, _ = command("check", "--no-cache", "--fix", "db.py", cwd=project)
    assert code == 0 and "1 fixed, 0 remaining" in out
    assert (project / "db.py").read_text() == FIXED


# -- rules / rule -------------------------------------------------------------------------


def test_rules_table() -> None:
    code, out, _ = command("rules", cwd=Path.cwd())
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"code\s+name\s+fixable\s+summary$", lines[0])
    assert [line.split()[0] for line in lines[1:]] == ["SL000", *(r.code for r in ALL_RULES)]
    sl005 = next(line for line in lines if line.startswith("SL005"))
    assert sl005.split()[1:3] == ["engine-without-pre-ping", "yes"]


def test_rules_json() -> None:
    code, out, _ = command("rules", "--format", "json", cwd=Path.cwd())
    rows = json.loads(out)
    assert code == 0 and [row["code"] for row in rows] == ["SL000", *(r.code for r in ALL_RULES)]
    for row in rows:
        assert set(row) == {"code", "name", "summary", "message", "fix", "url"}
        assert row["fix"] in ("never", "sometimes", "always") and row["summary"]


def test_rule_page_for_the_terminal() -> None:
    code, out, _ = command("rule", "SL005", cwd=Path.cwd())
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "SL005 engine-without-pre-ping"
    assert "```" not in out and "## " not in out
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety"):
        index = lines.index(heading)
        assert lines[index + 1] == "-" * len(heading)
    example = lines[lines.index("Example") + 2 :]
    assert '    engine = create_engine("postgresql+psycopg://app@db/app")' in example
    # By name, in any case, gives the same page.
    assert command("rule", "engine-without-pre-ping", cwd=Path.cwd())[1] == out
    assert command("rule", "sl005", cwd=Path.cwd())[1] == out


def test_unknown_rule() -> None:
    code, out, err = command("rule", "SL999", cwd=Path.cwd())
    assert code == 2 and out == "" and "SL999" in err


# -- stdin --------------------------------------------------------------------------------


def test_stdin_uses_the_given_filename(tmp_path: Path) -> None:
    code, out, _ = cli("check", "-", "--stdin-filename", "app/db.py", cwd=tmp_path, stdin=UNSAFE.encode())
    assert code == 1
    assert out.startswith("app/db.py:3:10: SL005 [*] ")
    code, out, _ = cli("check", "-", cwd=tmp_path, stdin=UNSAFE.encode())
    assert code == 1 and out.startswith("-:3:10: SL005")


def test_stdin_filename_drives_config_and_exemptions(tmp_path: Path) -> None:
    config(tmp_path, 'per-file-ignores = { "app/legacy/*.py" = ["SL005"] }\n')

    def check(name: str) -> tuple[int, str]:
        code, out, _ = cli(
            "check", "-", "--stdin-filename", name, "--format", "json", cwd=tmp_path, stdin=UNSAFE.encode()
        )
        return code, " ".join(codes(out))

    assert check("app/db.py") == (1, "SL005")
    assert check("app/legacy/db.py") == (0, "")  # per-file-ignores match the given name
    assert check("tests/test_db.py") == (0, "")  # a test file: SL005 does not apply


def test_stdin_config_found_from_the_filename(tmp_path: Path) -> None:
    service = tmp_path / "service"
    service.mkdir()
    config(service, 'ignore = ["SL005"]\n')
    code, _, _ = cli("check", "-", "--stdin-filename", "service/db.py", cwd=tmp_path, stdin=UNSAFE.encode())
    assert code == 0


def test_stdin_fix_writes_the_fixed_source_to_stdout(tmp_path: Path) -> None:
    source = ("\ufeff" + UNSAFE.replace("\n", "\r\n")).encode("utf-8")
    result = run_cli("check", "--fix", "-", "--stdin-filename", "db.py", cwd=tmp_path, stdin=source)
    assert result.returncode == 0, result.stderr
    # Byte for byte what `--fix` writes to a file: BOM and CRLF kept, nothing else on stdout.
    assert result.stdout == ("\ufeff" + FIXED.replace("\n", "\r\n")).encode("utf-8")
    assert not list(tmp_path.iterdir()), "nothing is written to disk"


def test_stdin_fix_with_nothing_to_fix_echoes_the_input(tmp_path: Path) -> None:
    result = run_cli(
        "check", "--fix", "-", "--stdin-filename", "routes.py", cwd=tmp_path, stdin=PER_REQUEST.encode()
    )
    assert result.stdout == PER_REQUEST.encode()
    # What remains is reported on stderr, so an editor can replace its buffer with stdout.
    assert result.returncode == 1
    assert result.stderr.decode().startswith("routes.py:9:14: SL003 ")


def test_stdin_fix_keeps_an_unparsable_buffer(tmp_path: Path) -> None:
    result = run_cli("check", "--fix", "-", "--stdin-filename", "x.py", cwd=tmp_path, stdin=b"x = (\n")
    assert result.stdout == b"x = (\n"
    assert result.returncode == 1 and b"SL000" in result.stderr


def test_stdin_diff(tmp_path: Path) -> None:
    code, out, _ = cli(
        "check", "--diff", "-", "--stdin-filename", "app/db.py", cwd=tmp_path, stdin=UNSAFE.encode()
    )
    assert code == 1
    assert out.startswith("--- a/app/db.py\n+++ b/app/db.py\n")


# -- entry points -------------------------------------------------------------------------


def test_version() -> None:
    code, out, _ = cli("--version", cwd=Path.cwd())
    assert (code, out) == (0, f"sessionlint, version {__version__}\n")


def test_python_dash_m_and_console_script_agree(project: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "sessionlint", "--help"], capture_output=True, text=True, timeout=60
    )
    assert module.returncode == 0 and module.stdout.startswith("Usage: sessionlint ")
    for command in ("check", "rules", "rule"):
        assert command in module.stdout
    script = Path(sys.executable).with_name("sessionlint")
    if script.exists():  # installed (pip install -e .): the `[project.scripts]` entry point
        result = subprocess.run(
            [str(script), "check", "--no-cache", "."], cwd=project, capture_output=True, timeout=60
        )
        assert result.returncode == 1 and b"SL005" in result.stdout
