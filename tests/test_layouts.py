"""Real project layouts, through the real CLI in a subprocess run from another working folder
than the checked project's: every path form, configuration per file, the cache at the
project root, excluded files, and the command line's edges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def run(*args: str | bytes, cwd: Path, stdin: bytes | None = None) -> tuple[int, str, str]:
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
    code, out, err = run("check", "--no-cache", str(project / "app"), cwd=elsewhere)
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
    code, out, err = run("check", "--no-cache", b"../caf\xe9", cwd=elsewhere)
    assert (code, err) == (1, "")
    assert findings(out) == [f"../caf\\xe9/{TASKS_FINDING}"]
