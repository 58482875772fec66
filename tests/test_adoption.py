"""Adopting sessionlint on an existing codebase, through the command run from another folder
than the project: `--add-noqa`, SL100, baselines, `--statistics --format json`,
`--show-fixes`, `--show-files`. `--add-noqa` runs the real command in a subprocess; the rest
runs its entry point in this process (`run_in_process`), without a second of start-up each."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.fixture_cases import run_cli, run_in_process

DB = """\
from sqlalchemy import create_engine


def make_engine():
    engine = create_engine("postgresql://app@db/app")
    return engine.connect()


REPLICA = create_engine("postgresql://app@db/replica")  # noqa: E501
DOC = create_engine(\"\"\"postgresql://app@db/doc
\"\"\")
"""


def cli(*args: str, cwd: Path, process: bool = False) -> tuple[int, str, str]:
    """The command's exit code, stdout and stderr; `process`: the real CLI in a subprocess."""
    result = (run_cli if process else run_in_process)(*args, cwd=cwd)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """(the project, another working folder the command runs from)."""
    project = tmp_path / "project"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return project, elsewhere


def test_add_noqa_merges_reports_and_changes_nothing_the_second_time(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    db = project / "db.py"
    db.write_bytes(DB.replace("\n", "\r\n").encode())
    db.chmod(0o640)
    code, _, err = cli("check", "--no-cache", "--add-noqa", "../project", cwd=elsewhere, process=True)
    assert "Traceback" not in err
    text = db.read_bytes().decode()
    assert 'engine = create_engine("postgresql://app@db/app")  # noqa: SL003, SL005\r\n' in text
    # Merged into the existing comment, the other tool's code kept.
    assert '"postgresql://app@db/replica")  # noqa: E501, SL005\r\n' in text
    # The finding on a line that ends inside a string is reported, its line left alone.
    assert 'DOC = create_engine("""postgresql://app@db/doc\r\n' in text
    assert "../project/db.py:10: cannot take a comment: the line ends inside a multi-line string" in err
    assert "Added 3 noqa codes in 1 file(s)." in err
    assert code == 1  # a finding could not be suppressed
    assert text.count("\r\n") == DB.count("\n") and "\n" not in text.replace("\r\n", "")
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
    first = db.read_bytes()
    code, _, err = cli("check", "--no-cache", "--add-noqa", "../project", cwd=elsewhere, process=True)
    assert "Added 0 noqa codes in 0 file(s)." in err
    assert db.read_bytes() == first
    # What is left is the line that could not take a comment.
    code, out, _ = cli("check", "--no-cache", "../project", cwd=elsewhere, process=True)
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["../project/db.py:10:7:"]


def test_add_noqa_follows_per_file_selection(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "pyproject.toml").write_text(
        '[tool.sessionlint]\nper-file-ignores = { "db.py" = ["SL003"] }\n'
    )
    (project / "db.py").write_text(DB)
    cli("check", "--no-cache", "--add-noqa", "../project", cwd=elsewhere)
    assert '"postgresql://app@db/app")  # noqa: SL005\n' in (project / "db.py").read_text()


UNUSED = """\
from sqlalchemy import create_engine

engine = create_engine("postgresql://app@db/app", pool_pre_ping=True)  # noqa: SL005, E501
other = create_engine("postgresql://app@db/other")  # noqa: SL005
"""


def test_unused_noqa_is_opt_in_and_fixed(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "db.py").write_text(UNUSED)
    (project / "notes.py").write_text("import os  # noqa: SL002\n")
    code, out, _ = cli("check", "--no-cache", "../project", cwd=elsewhere)
    assert code == 0, out
    code, out, _ = cli("check", "--no-cache", "--extend-select", "SL100", "../project", cwd=elsewhere)
    assert code == 1
    assert out.splitlines()[:2] == [
        "../project/db.py:3:72: SL100 [*] Unused `noqa` directive (unused: `SL005`)",
        "../project/notes.py:1:12: SL100 [*] Unused `noqa` directive (unused: `SL002`)",
    ]
    code, out, _ = cli(
        "check", "--no-cache", "--extend-select", "SL100", "--fix", "../project", cwd=elsewhere
    )
    assert code == 0, out
    assert (project / "db.py").read_text() == UNUSED.replace("# noqa: SL005, E501", "# noqa: E501")
    assert (project / "notes.py").read_text() == "import os\n"


def test_unused_noqa_with_the_cache_answers_as_a_clean_run(places: tuple[Path, Path]) -> None:
    """Edits that make a suppression used or unused, in a file the pre-filter reads and in one
    it would not: every cached (and incremental) run reports what a run without the cache does."""
    project, elsewhere = places
    (project / "pyproject.toml").write_text('[tool.sessionlint]\nextend-select = ["SL100"]\n')
    db, notes = project / "db.py", project / "notes.py"
    db.write_text(UNUSED)
    notes.write_text("import os\n")
    edits = [
        lambda: None,
        lambda: notes.write_text("import os  # noqa: SL002\n"),
        lambda: db.write_text(UNUSED.replace(", pool_pre_ping=True", "")),
        lambda: db.write_text(UNUSED.replace("# noqa: SL005, E501", "# noqa: SL005")),
        lambda: notes.write_text("import os\n"),
        lambda: db.write_text(
            UNUSED.replace('"postgresql://app@db/other"', '"postgresql://app@db/other", pool_pre_ping=True')
        ),
    ]
    for number, edit in enumerate(edits):
        edit()
        # An absolute path: `..` in the path named keeps a run from being incremental.
        cached = cli("check", "--format", "json", str(project), cwd=elsewhere)
        again = cli("check", "--format", "json", str(project), cwd=elsewhere)
        clean = cli("check", "--no-cache", "--format", "json", str(project), cwd=elsewhere)
        assert cached[:2] == clean[:2] == again[:2], number


BASELINED = """\
from sqlalchemy import create_engine


def make_engine():
    return create_engine("postgresql://app@db/app")


class Jobs:
    def run(self):
        engine = create_engine("postgresql://app@db/jobs")
        return engine.connect()
"""


def test_baseline_hides_recorded_findings_and_reports_new_ones(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    db = project / "db.py"
    db.write_text(BASELINED)
    code, _, err = cli(
        "check", "--no-cache", "--write-baseline", "../project/base.json", "../project", cwd=elsewhere
    )
    assert code == 0 and "Wrote 3 finding(s)" in err
    recorded = json.loads((project / "base.json").read_text())
    assert recorded["sessionlint-baseline"] == 1
    assert {(f["path"], f["code"], f["line"]) for f in recorded["findings"]} == {
        ("db.py", "SL005", 5),
        ("db.py", "SL003", 10),
        ("db.py", "SL005", 10),
    }
    # Lines added above every finding, and a function added: nothing comes back.
    db.write_text(
        BASELINED.replace(
            "\n\ndef make_engine", "\nimport os\n\n\ndef helper():\n    return os.sep\n\n\ndef make_engine"
        )
    )
    code, out, _ = cli(
        "check", "--no-cache", "--baseline", "../project/base.json", "../project", cwd=elsewhere
    )
    assert (code, out) == (0, "All checks passed! (3 in the baseline)\n")
    # A new finding is reported; the same line in another function is new too.
    db.write_text(db.read_text() + '\n\ndef other():\n    return create_engine("postgresql://app@db/app")\n')
    code, out, _ = cli(
        "check", "--no-cache", "--baseline", "../project/base.json", "../project", cwd=elsewhere
    )
    assert code == 1
    assert out.splitlines() == [
        f"../project/db.py:{db.read_text().count(chr(10))}:12: SL005 [*] Engine is created without "
        "`pool_pre_ping=True`; after a database restart or an idle timeout the pool hands out dead connections",
        "Found 1 problem (1 fixable with --fix; 3 in the baseline).",
    ]


def test_baseline_from_the_configuration_and_bad_baselines(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "db.py").write_text(BASELINED)
    (project / "ci").mkdir()
    cli("check", "--no-cache", "--write-baseline", "../project/ci/base.json", "../project", cwd=elsewhere)
    (project / "pyproject.toml").write_text('[tool.sessionlint]\nbaseline = "ci/base.json"\n')
    code, out, _ = cli("check", "--no-cache", "../project", cwd=elsewhere)
    assert (code, out) == (0, "All checks passed! (3 in the baseline)\n")
    (project / "ci" / "base.json").write_text("{not json")
    for args in (["../project"], ["--baseline", "../project/missing.json", "../project"]):
        code, out, err = cli("check", "--no-cache", *args, cwd=elsewhere)
        assert code == 2 and "Traceback" not in err
        assert ("not valid JSON" if len(args) == 1 else "baseline file not found") in err


def test_statistics_as_json(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "db.py").write_text(BASELINED)
    code, out, _ = cli("check", "--no-cache", "--statistics", "--format", "json", "../project", cwd=elsewhere)
    assert code == 1
    assert json.loads(out) == [
        {"code": "SL005", "name": "engine-without-pre-ping", "count": 2, "fixable": True},
        {"code": "SL003", "name": "engine-in-function", "count": 1, "fixable": False},
    ]


def test_show_fixes_available_and_applied(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "db.py").write_text(BASELINED)
    code, out, _ = cli("check", "--no-cache", "--show-fixes", "../project", cwd=elsewhere)
    assert code == 1
    assert out.splitlines()[-4:] == [
        "2 fixes available:",
        "- ../project/db.py:",
        "    2 x SL005 (engine-without-pre-ping)",
        "Found 3 problems (2 fixable with --fix).",
    ]
    code, out, _ = cli("check", "--no-cache", "--fix", "--show-fixes", "../project", cwd=elsewhere)
    assert code == 1
    assert out.splitlines()[-4:] == [
        "Fixed 2 problems:",
        "- ../project/db.py:",
        "    2 x SL005 (engine-without-pre-ping)",
        "Found 3 problems (2 fixed, 1 remaining).",
    ]


def test_show_files_lists_what_a_run_checks(places: tuple[Path, Path]) -> None:
    project, elsewhere = places
    (project / "app").mkdir()
    (project / "app" / "db.py").write_text(BASELINED)
    (project / "app" / "notes.txt").write_text("not python\n")
    (project / "build").mkdir()
    (project / "build" / "gen.py").write_text("x = 1\n")
    (project / "legacy.py").write_text("x = 1\n")
    (project / "pyproject.toml").write_text('[tool.sessionlint]\nextend-exclude = ["legacy.py"]\n')
    code, out, _ = cli("check", "--show-files", "../project", cwd=elsewhere)
    assert (code, out) == (0, "../project/app/db.py\n")
    assert not (project / ".sessionlint_cache").exists()
    assert os.listdir(elsewhere) == []


def test_baseline_holds_for_a_run_over_a_few_files(places: tuple[Path, Path]) -> None:
    """pre-commit names the changed files: the run's root is then their folder, not the
    tree's; the baseline's paths are relative to its own folder, so they still match."""
    project, elsewhere = places
    (project / "app").mkdir()
    (project / "app" / "db.py").write_text(BASELINED)
    cli("check", "--no-cache", "--write-baseline", "../project/base.json", "../project", cwd=elsewhere)
    assert {f["path"] for f in json.loads((project / "base.json").read_text())["findings"]} == {"app/db.py"}
    code, out, _ = cli(
        "check", "--no-cache", "--baseline", "../project/base.json", "../project/app/db.py", cwd=elsewhere
    )
    assert (code, out) == (0, "All checks passed! (3 in the baseline)\n")
