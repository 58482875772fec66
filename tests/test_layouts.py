"""Real project layouts, through the command run from another working folder than the checked
project's: every path form, configuration per file, the cache at the project root, excluded
files, and the command line's edges.

Most run the command's entry point in this process (`run_in_process`: its options, files,
output and exit code are the command's own, without a second of start-up each); a few per
section run the real CLI in a subprocess (`run_process`), as do what only a process shows:
a path argument of bytes that are not UTF-8, and standard input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_cases import run_in_process

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
"""
# Each finding needs `app/db.py`'s facts: `SessionLocal` is a session factory.
TASKS = """\
from sqlalchemy import text

from app.db import SessionLocal


def report() -> None:
    db = SessionLocal()
    db.execute(text("select 1"))
    db.close()
"""
TASKS_FINDING = "app/tasks.py:7:5: SL002"
ENGINE = 'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://db/app")\n'


def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`sessionlint ARGS` from `cwd`, in this process; output decoded as `run_process` does."""
    result = run_in_process(*args, cwd=cwd)
    return (
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def run_process(*args: str | bytes, cwd: Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    """The `sessionlint` command in a subprocess; output decoded leniently (paths may not be UTF-8)."""
    result = subprocess.run(
        [sys.executable, "-m", "sessionlint", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    return (
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def make_project(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "db.py").write_text(DB)
    (root / "app" / "tasks.py").write_text(TASKS)
    return root


def config(folder: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("[tool.sessionlint]\n" + body)


def findings(stdout: str) -> list[str]:
    """`path:row:col: CODE` of each finding of the text output."""
    return [
        line.partition(": SL")[0] + ": SL" + line.partition(": SL")[2][:3]
        for line in stdout.splitlines()
        if ": SL" in line
    ]


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder that holds none of the checked files."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


# -- 1. paths from anywhere ----------------------------------------------------------------


def test_absolute_path_from_another_folder(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    code, out, err = run_process("check", "--no-cache", str(project / "app"), cwd=elsewhere)
    assert (code, err) == (1, "")
    assert findings(out) == [f"{project}/{TASKS_FINDING}"]


def test_dot_dot_path_printed_as_given(tmp_path: Path, elsewhere: Path) -> None:
    make_project(tmp_path / "project")
    code, out, err = run("check", "--no-cache", "../project/app", cwd=elsewhere)
    assert (code, err) == (1, "")
    assert findings(out) == [f"../project/{TASKS_FINDING}"]


def test_absolute_path_under_the_working_folder_printed_relative(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    code, out, _ = run("check", "--no-cache", str(project / "app"), cwd=project)
    assert (code, findings(out)) == (1, [TASKS_FINDING])


def test_symlinked_folder(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (elsewhere / "linked").symlink_to(project, target_is_directory=True)
    code, out, err = run("check", "--no-cache", "linked", cwd=elsewhere)
    assert (code, err) == (1, "")
    assert findings(out) == [f"linked/{TASKS_FINDING}"]


def test_a_file_and_its_folder_both_named(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    code, out, _ = run(
        "check", "--no-cache", str(project / "app"), str(project / "app" / "tasks.py"), cwd=elsewhere
    )
    assert (code, findings(out)) == (1, [f"{project}/{TASKS_FINDING}"])


def test_path_with_spaces(tmp_path: Path, elsewhere: Path) -> None:
    make_project(tmp_path / "my project")
    code, out, _ = run("check", "--no-cache", "../my project", cwd=elsewhere)
    assert (code, findings(out)) == (1, [f"../my project/{TASKS_FINDING}"])


@pytest.mark.skipif(sys.platform != "linux", reason="file names of arbitrary bytes")
def test_path_with_bytes_that_are_not_utf8(tmp_path: Path, elsewhere: Path) -> None:
    folder = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9"))
    make_project(Path(folder))
    code, out, err = run_process("check", "--no-cache", b"../caf\xe9", cwd=elsewhere)
    assert (code, err) == (1, "")
    assert findings(out) == [f"../caf\\xe9/{TASKS_FINDING}"]


# -- 3. configuration per file -------------------------------------------------------------


def two_projects(tmp_path: Path) -> tuple[Path, Path]:
    """`a/` ignores SL002 in its configuration, `b/` selects everything."""
    a = make_project(tmp_path / "a")
    b = make_project(tmp_path / "b")
    config(a, 'ignore = ["SL002"]\n')
    config(b, 'select = ["SL"]\n')
    return a, b


def test_each_file_takes_its_nearest_configuration_in_any_order(tmp_path: Path, elsewhere: Path) -> None:
    two_projects(tmp_path)
    first = run("check", "--no-cache", "../a", "../b", cwd=elsewhere)
    second = run("check", "--no-cache", "../b", "../a", cwd=elsewhere)
    assert first == second
    assert findings(first[1]) == [f"../b/{TASKS_FINDING}"]


def test_a_nested_configuration_wins_below_its_folder(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    config(project, 'select = ["SL"]\n')
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(ENGINE)
    (project / "new.py").write_text(ENGINE)
    config(project / "legacy", 'ignore = ["SL005"]\n')
    _, out, _ = run("check", "--no-cache", str(project), cwd=elsewhere)
    assert findings(out) == [f"{project}/{TASKS_FINDING}", f"{project}/new.py:3:10: SL005"]


def test_config_option_applies_to_every_file(tmp_path: Path, elsewhere: Path) -> None:
    two_projects(tmp_path)
    (elsewhere / "strict.toml").write_text('[tool.sessionlint]\nselect = ["SL002"]\n')
    _, out, _ = run_process("check", "--no-cache", "--config", "strict.toml", "../a", "../b", cwd=elsewhere)
    assert findings(out) == [f"../a/{TASKS_FINDING}", f"../b/{TASKS_FINDING}"]


def test_per_file_ignores_are_relative_to_their_configuration(tmp_path: Path, elsewhere: Path) -> None:
    a, b = two_projects(tmp_path)
    config(a, 'select = ["SL"]\n')
    config(b, '[tool.sessionlint.per-file-ignores]\n"app/tasks.py" = ["SL002"]\n')
    _, out, _ = run("check", "--no-cache", "../b", "../a", cwd=elsewhere)
    assert findings(out) == [f"../a/{TASKS_FINDING}"]


def test_show_settings_names_each_origin(tmp_path: Path, elsewhere: Path) -> None:
    a, _ = two_projects(tmp_path)
    code, out, err = run("check", "--show-settings", "--ignore", "sl005", "../a/app/tasks.py", cwd=elsewhere)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Settings for ../a/app/tasks.py"
    assert lines[1] == f"  configuration file: {a}/pyproject.toml"
    assert f'  ignore = ["SL002", "SL005"]  # {a}/pyproject.toml + --ignore' in lines
    assert '  select = ["SL"]  # default' in lines


def test_verbose_names_the_configuration_files_used(tmp_path: Path, elsewhere: Path) -> None:
    a, b = two_projects(tmp_path)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.py").write_text(ENGINE)
    _, _, err = run("check", "--no-cache", "-v", "../a", "../b", "../plain", cwd=elsewhere)
    assert f"sessionlint: configuration: {a}/pyproject.toml (3 files)" in err
    assert f"sessionlint: configuration: {b}/pyproject.toml (3 files)" in err
    assert "sessionlint: configuration: none found, the defaults (1 files)" in err


# -- 4. the cache at the project root ------------------------------------------------------


def test_cache_at_the_configuration_folder_from_anywhere(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    config(project, 'select = ["SL"]\n')
    assert run("check", str(project), cwd=elsewhere)[0] == 1
    assert run("check", "tasks.py", cwd=project / "app")[0] == 1
    assert (project / ".sessionlint_cache").is_dir()
    assert not (elsewhere / ".sessionlint_cache").exists()
    assert not (project / "app" / ".sessionlint_cache").exists()


def test_without_configuration_the_cache_is_at_the_checked_paths_root(
    tmp_path: Path, elsewhere: Path
) -> None:
    project = make_project(tmp_path / "project")
    run_process("check", "../project/app", cwd=elsewhere)
    assert (project / "app" / ".sessionlint_cache").is_dir()
    assert not (elsewhere / ".sessionlint_cache").exists()


def test_a_subfolder_run_knows_the_facts_the_project_run_cached(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    config(project, 'select = ["SL"]\n')
    assert findings(run("check", ".", cwd=project)[1]) == [TASKS_FINDING]
    # Only tasks.py is named: `SessionLocal`'s facts come from the project's cache.
    assert findings(run("check", "tasks.py", cwd=project / "app")[1]) == ["tasks.py:7:5: SL002"]


def test_clean_removes_the_project_cache_and_says_so(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    config(project, 'select = ["SL"]\n')
    stray = project / "app" / ".sessionlint_cache"  # left by an earlier version run from app/
    stray.mkdir()
    (stray / "0123456789abcdef-0123456789abcdef.pickle").write_bytes(b"")
    run("check", str(project), cwd=elsewhere)
    code, out, _ = run("clean", "../project", cwd=elsewhere)
    assert code == 0
    assert sorted(out.splitlines()) == sorted(
        [f"Removed {project}/.sessionlint_cache ({count} files)" for count in [_count_line(out)]]
        + ["Removed ../project/app/.sessionlint_cache (1 files)"]
    )
    assert not (project / ".sessionlint_cache").exists() and not stray.exists()
    assert run("clean", "../project", cwd=elsewhere)[1] == "No cache to remove.\n"


def _count_line(out: str) -> int:
    line = next(line for line in out.splitlines() if "app/" not in line)
    return int(line.rpartition("(")[2].split()[0])


def test_clean_keeps_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / ".sessionlint_cache").mkdir()
    (tmp_path / ".sessionlint_cache" / "notes.txt").write_text("mine")
    code, _, err = run("clean", ".", cwd=tmp_path)
    assert code == 2 and "not removed" in err
    assert (tmp_path / ".sessionlint_cache" / "notes.txt").exists()


def test_entries_of_older_versions_are_pruned(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    cache = project / ".sessionlint_cache"
    cache.mkdir()
    old = [cache / "0123456789abcdef-0123456789abcdef.pickle", cache / "0123456789abcdef-00.last-run.pickle"]
    for path in old:
        path.write_bytes(b"old")
    run("check", ".", cwd=project)
    assert not any(path.exists() for path in old)
    assert list(cache.glob("*.pickle"))


# -- 5. excluded files and explicit file names ---------------------------------------------


def test_an_excluded_file_still_informs_the_others(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "app" / "db.py").write_text(DB.replace(", pool_pre_ping=True", ""))  # its own SL005
    assert len(findings(run("check", "--no-cache", str(project), cwd=elsewhere)[1])) == 2
    config(project, 'extend-exclude = ["app/db.py"]\n')
    for args in ([str(project)], ["--extend-exclude", "db.py", str(project)]):
        _, out, _ = run("check", "--no-cache", *args, cwd=elsewhere)
        assert findings(out) == [f"{project}/{TASKS_FINDING}"]


def test_a_syntax_error_in_an_excluded_file_is_not_reported(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "migrations").mkdir()
    (project / "migrations" / "v1.py").write_text("from sqlalchemy import create_engine\ndef f(:\n")
    config(project, 'extend-exclude = ["migrations"]\n')
    _, out, _ = run_process("check", "--no-cache", str(project), cwd=elsewhere)
    assert findings(out) == [f"{project}/{TASKS_FINDING}"]


def test_force_exclude_applies_excludes_to_named_files(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "app" / "db.py").write_text(DB.replace(", pool_pre_ping=True", ""))
    config(project, 'extend-exclude = ["app/db.py"]\n')
    named = [str(project / "app" / "db.py"), str(project / "app" / "tasks.py")]
    _, out, _ = run("check", "--no-cache", *named, cwd=elsewhere)
    assert [line.rpartition(" ")[2] for line in findings(out)] == ["SL005", "SL002"]
    _, out, _ = run("check", "--no-cache", "--force-exclude", *named, cwd=elsewhere)
    assert findings(out) == [f"{project}/{TASKS_FINDING}"]  # db.py still informs tasks.py
    # A default exclude (a virtualenv) drops the file altogether.
    (project / ".venv").mkdir()
    (project / ".venv" / "x.py").write_text(ENGINE)
    code, out, _ = run(
        "check", "--no-cache", "--force-exclude", str(project / ".venv" / "x.py"), cwd=elsewhere
    )
    assert (code, out) == (0, "All checks passed!\n")


def test_the_pre_commit_hook_forces_excludes() -> None:
    hooks = (Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text()
    entry = next(line for line in hooks.splitlines() if line.strip().startswith("entry:"))
    assert entry.split(":", 1)[1].split() == ["sessionlint", "check", "--force-exclude"]


# -- 6. command-line edges -----------------------------------------------------------------


def test_stdin_filename_alone_reads_stdin(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    config(project, 'ignore = ["SL005"]\n')
    (elsewhere / "bad.py").write_text(ENGINE)  # would be found if `.` were checked
    name = str(project / "app" / "engine.py")
    code, out, _ = run_process(
        "check", "--no-cache", "--stdin-filename", name, cwd=elsewhere, stdin=ENGINE.encode()
    )
    assert (code, out) == (0, "All checks passed!\n")  # the project's configuration applies
    code, out, _ = run_process(
        "check", "--no-cache", "--stdin-filename", "x.py", cwd=elsewhere, stdin=ENGINE.encode()
    )
    assert findings(out) == ["x.py:3:10: SL005"]


def test_statistics_as_json_and_text_with_summary(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "app" / "db.py").write_text(DB.replace(", pool_pre_ping=True", ""))
    code, out, _ = run("check", "--no-cache", "--statistics", "--format", "json", str(project), cwd=elsewhere)
    assert code == 1
    assert json.loads(out) == [
        {"code": "SL002", "name": "session-not-closed", "count": 1, "fixable": True},
        {"code": "SL005", "name": "engine-without-pre-ping", "count": 1, "fixable": True},
    ]
    _, out, _ = run("check", "--no-cache", "--statistics", str(project), cwd=elsewhere)
    assert out.splitlines() == [
        "    1\tSL002\t[*] session-not-closed",
        "    1\tSL005\t[*] engine-without-pre-ping",
        "Found 2 problems (2 fixable with --fix).",
    ]


def test_diff_to_an_output_file(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    code, out, _ = run(
        "check", "--no-cache", "--diff", "--output-file", "fix.diff", "../project", cwd=elsewhere
    )
    assert (code, out) == (1, "")
    diff = (elsewhere / "fix.diff").read_text()
    assert diff.startswith("--- a/../project/app/tasks.py\n") and "+    try:\n" in diff
    assert (project / "app" / "tasks.py").read_text() == TASKS


def test_codes_in_any_case(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "app" / "db.py").write_text(DB.replace(", pool_pre_ping=True", ""))
    _, out, err = run("check", "--no-cache", "--select", "sl002", str(project), cwd=elsewhere)
    assert (findings(out), err) == ([f"{project}/{TASKS_FINDING}"], "")
    config(project, 'select = ["sl005"]\n[tool.sessionlint.per-file-ignores]\n"app/*" = ["sl005"]\n')
    code, out, err = run("check", "--no-cache", str(project), cwd=elsewhere)
    assert (code, out, err) == (0, "All checks passed!\n", "")


def test_noqa_inside_a_string_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(ENGINE.replace(")\n", ', echo="# noqa")\n'))
    assert findings(run("check", "--no-cache", "db.py", cwd=tmp_path)[1]) == ["db.py:3:10: SL005"]
    (tmp_path / "db.py").write_text(ENGINE.replace(")\n", ")  # NOQA: sl005\n"))
    assert run("check", "--no-cache", "db.py", cwd=tmp_path)[:2] == (0, "All checks passed!\n")


def test_a_syntax_error_outside_the_vocabulary_is_documented_and_not_reported(tmp_path: Path) -> None:
    (tmp_path / "notes.py").write_text("def f(:\n")
    assert run("check", "--no-cache", ".", cwd=tmp_path)[:2] == (0, "All checks passed!\n")
    assert run("check", "--no-cache", "notes.py", cwd=tmp_path)[0] == 1  # named: always parsed
    help_text = " ".join(run("check", "--help", cwd=tmp_path)[1].split())
    assert "a syntax error in any other file is not reported" in help_text
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert "a syntax error in a file that names no database library is not reported" in readme


def test_a_pyproject_that_does_not_name_the_tool_is_not_read(tmp_path: Path, elsewhere: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "app" / "pyproject.toml").write_text("[tool.other\nbroken = \n")
    config(project, 'ignore = ["SL002"]\n')
    assert run("check", "--no-cache", str(project), cwd=elsewhere)[:2] == (0, "All checks passed!\n")
