"""The command's process ends at once after `check`: what it built is not freed one object
at a time (`streams.exit_now`), yet every byte of the report is out and the exit code kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixture_cases import WORKER_PADDING, spread_over_workers

# The command run as the `sessionlint` script runs it, with a goodbye the interpreter's own
# exit would print (an `atexit` callback): `check` skips it, other commands do not.
_RUN = """\
import atexit, sys
atexit.register(lambda: print("interpreter exit", file=sys.stderr))
sys.argv = ["sessionlint", *sys.argv[1:]]
from sessionlint.__main__ import run
run()
"""
ENGINE = """\
from sqlalchemy import create_engine

engine = create_engine("postgresql://app@db/app")
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_check_ends_at_once_with_its_whole_report(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for number in range(40):  # spread over workers (their exit is part of the run's)
        (project / f"m{number}.py").write_text(ENGINE + WORKER_PADDING)
    assert spread_over_workers(sorted(project.glob("m*.py")))
    result = _run(tmp_path, "check", "--no-cache", "--format", "json", "project")
    assert result.returncode == 1, result.stderr
    assert result.stdout.count('"code": "SL005"') == 40
    assert result.stdout.rstrip().endswith("]")
    assert "interpreter exit" not in result.stderr


def test_other_commands_end_the_usual_way(tmp_path: Path) -> None:
    result = _run(tmp_path, "rules")
    assert result.returncode == 0 and "SL001" in result.stdout
    assert "interpreter exit" in result.stderr
