"""`--verbose` tells where a run's time went, phase by phase (the names, never the figures):
once through the real command in a subprocess, then through its entry point in this process."""

from __future__ import annotations

import re
from pathlib import Path

from sessionlint.report.run import PHASES, RunReport
from tests.fixture_cases import run_cli, run_in_process

FLAGGED = (
    "from sqlalchemy import create_engine\n"
    "from sqlalchemy.orm import sessionmaker\n\n"
    'engine = create_engine("postgresql://db/app")\n'
    "SessionLocal = sessionmaker(engine)\n\n\n"
    "def get_db():\n"
    "    return SessionLocal()\n"
)
CHECK_PHASES = ("discover", "read", "facts", "project index", "triage", "rules", "output")


def phases_shown(stderr: bytes) -> dict[str, str]:
    lines = [
        line for line in stderr.decode().splitlines() if line.startswith("sessionlint: time per phase: ")
    ]
    assert len(lines) == 1, stderr.decode()
    shown = lines[0].removeprefix("sessionlint: time per phase: ")
    return dict(re.findall(r"([a-z ]+?) (\d+\.\d{3}s)(?:, | \(total)", shown))


def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "db.py").write_text(FLAGGED)
    return tmp_path


def test_verbose_check_shows_the_time_of_each_phase(tmp_path: Path) -> None:
    result = run_cli("check", "--no-cache", "--verbose", "app", cwd=project(tmp_path))
    assert result.returncode == 1, result.stderr.decode()
    shown = phases_shown(result.stderr)
    assert set(CHECK_PHASES) <= set(shown), shown
    assert "fixes" not in shown  # a check fixes nothing
    assert list(shown) == [phase for phase in PHASES if phase in shown], "phases out of order"


def test_verbose_fix_shows_the_fixes_phase(tmp_path: Path) -> None:
    folder = project(tmp_path)
    result = run_in_process("check", "--no-cache", "--verbose", "--fix", "--unsafe-fixes", "app", cwd=folder)
    assert result.returncode in (0, 1), result.stderr.decode()
    assert (folder / "app" / "db.py").read_text() != FLAGGED, "the fix ran"
    shown = phases_shown(result.stderr)
    assert {"discover", "read", "facts", "fixes", "output"} <= set(shown), shown


def test_without_verbose_no_times_are_shown(tmp_path: Path) -> None:
    result = run_in_process("check", "--no-cache", "app", cwd=project(tmp_path))
    assert result.returncode == 1, result.stderr.decode()
    assert b"time per phase" not in result.stderr


def test_laps_add_up_per_phase_and_show_in_run_order() -> None:
    report = RunReport()
    for phase in ("rules", "facts", "rules", "output"):
        report.lap(phase)
    assert list(report.phase_seconds) == ["rules", "facts", "output"]
    summary = report.phase_summary()
    assert [name for name in PHASES if f"{name} " in summary] == ["facts", "rules", "output"]
    assert summary.index("facts") < summary.index("rules") < summary.index("output") < summary.index("total")
