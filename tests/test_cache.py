"""The cache: warm runs equal cold runs, and only what a change can affect is re-checked."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.fixture_cases import run_cli

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite:///app.db")
SessionLocal = sessionmaker(bind=engine)
"""
ASYNC_DB = """\
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("sqlite+aiosqlite:///app.db")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
"""
ROUTES = """\
from fastapi import FastAPI

from app.db import SessionLocal

app = FastAPI()


@app.get("/items")
async def items():
    async with SessionLocal() as db:
        return []
"""
# Could hold an SL002 (it creates a session), so the rules check it; it holds none.
UNRELATED = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

engine = create_engine("postgresql://app@db/app", pool_pre_ping=True)


def count() -> int:
    session = Session(engine)
    try:
        return 0
    finally:
        session.close()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(DB)
    (tmp_path / "app" / "routes.py").write_text(ROUTES)
    (tmp_path / "app" / "unrelated.py").write_text(UNRELATED)
    return tmp_path


def check(folder: Path, *args: str) -> tuple[list[dict], str]:
    result = run_cli(
        "check", "--format", "json", "--verbose", "--cache-dir", ".cache", *args, ".", cwd=folder
    )
    assert result.returncode in (0, 1), result.stderr.decode()
    return json.loads(result.stdout), result.stderr.decode()


def from_cache(stderr: str) -> tuple[int, int]:
    match = re.search(r"(\d+) checked by the rules \((\d+) from the cache\)", stderr)
    assert match, stderr
    return int(match.group(1)), int(match.group(2))


def test_warm_run_equals_cold_run_and_reuses_everything(project: Path) -> None:
    cold, _ = check(project)
    warm, stderr = check(project)
    assert warm == cold
    assert "none changed since the last run" in stderr
    assert cold == check(project, "--no-cache")[0]


def test_an_undone_edit_reuses_the_run_before_it(project: Path) -> None:
    cold, _ = check(project)
    routes = project / "app" / "routes.py"
    routes.write_text(ROUTES + "# an edit\n")
    check(project)
    routes.write_text(ROUTES)  # undone: the inputs are those of the first run again
    warm, stderr = check(project)
    assert warm == cold
    assert "none changed since the last run" in stderr


def test_changing_a_factory_rechecks_the_files_that_use_it_and_nothing_else(project: Path) -> None:
    before, _ = check(project)
    assert {(d["filename"], d["code"]) for d in before} >= {("app/routes.py", "SL004")}
    (project / "app" / "db.py").write_text(ASYNC_DB)
    after, stderr = check(project)
    assert after == check(project, "--no-cache")[0]
    assert ("app/routes.py", "SL004") not in {(d["filename"], d["code"]) for d in after}
    checked, cached = from_cache(stderr)
    # db.py changed, but no rule can flag anything in it: the triage leaves it unchecked.
    # routes.py uses its factory: re-checked; unrelated.py came from the cache.
    assert (checked, cached) == (2, 1)


def test_touching_an_unrelated_file_rechecks_only_that_file(project: Path) -> None:
    check(project)
    with (project / "app" / "unrelated.py").open("a") as handle:
        handle.write("# touched\n")
    after, stderr = check(project)
    # Its facts did not change: an incremental run (see test_incremental.py).
    assert "1 changed since the last run, 1 of those checked by the rules" in stderr
    assert after == check(project, "--no-cache")[0]


def test_a_corrupt_or_foreign_cache_is_ignored(project: Path) -> None:
    cold, _ = check(project)
    for file in (project / ".cache").glob("*.pickle"):
        file.write_bytes(b"not a pickle at all")
    warm, stderr = check(project)
    assert warm == cold
    assert "Traceback" not in stderr


def test_no_cache_writes_nothing(project: Path) -> None:
    check(project, "--no-cache")
    assert not (project / ".cache").exists()


def test_output_is_identical_with_one_and_two_jobs(tmp_path: Path) -> None:
    # Enough files that the work is really spread over processes.
    for index in range(48):
        (tmp_path / f"module_{index}.py").write_text(
            "from sqlalchemy import create_engine\n\n"
            f'engine = create_engine("postgresql://app@db/app{index}")\n'
        )
    serial = run_cli("check", "--no-cache", "--format", "json", "--jobs", "1", ".", cwd=tmp_path)
    parallel = run_cli("check", "--no-cache", "--format", "json", "--jobs", "2", ".", cwd=tmp_path)
    assert serial.stdout == parallel.stdout
    assert len(json.loads(serial.stdout)) == 48


def test_checking_one_file_uses_the_cached_facts_of_the_others(project: Path) -> None:
    alone = run_cli("check", "--no-cache", "--format", "json", "app/routes.py", cwd=project)
    assert json.loads(alone.stdout) == []  # on its own, SessionLocal is unknown: nothing flagged
    check(project)  # a full run fills the cache
    one, _ = check(project, "app/routes.py")
    assert [(d["filename"], d["code"]) for d in one] == [("app/routes.py", "SL004")]
    (project / "app" / "db.py").write_text(ASYNC_DB)  # a changed neighbour is not trusted
    again, _ = check(project, "app/routes.py")
    assert again == []


def test_fix_with_parallel_fact_pass_fixes_every_file(tmp_path: Path) -> None:
    """Regression: files whose facts came from a worker process were neither fixed nor reported."""
    for index in range(48):
        (tmp_path / f"module_{index}.py").write_text(
            "from sqlalchemy import create_engine\n\n"
            f'engine = create_engine("postgresql://app@db/app{index}")\n'
        )
    result = run_cli("check", "--no-cache", "--fix", "--jobs", "2", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    for index in range(48):
        assert "pool_pre_ping=True" in (tmp_path / f"module_{index}.py").read_text()


# -- the no-change shortcut by the files' stamps (size, times, inode): nothing read ------------


def _check_in_process(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list[str]]:
    """Findings, and the files the run read."""
    import sessionlint.inputs
    from sessionlint.config import Settings
    from sessionlint.run import RunOptions, check_paths

    read: list[str] = []
    read_file = sessionlint.inputs.read_file

    def counting(path: Path):  # type: ignore[no-untyped-def]
        read.append(path.name)
        return read_file(path)

    monkeypatch.setattr(sessionlint.inputs, "read_file", counting)
    monkeypatch.chdir(folder)
    report = check_paths([Path(".")], Settings(root=folder), RunOptions(cache_dir=folder / ".cache", jobs=1))
    return [(d.path, d.location, d.code) for d in report.diagnostics], read


def test_unchanged_stamps_answer_without_reading(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.cache

    monkeypatch.setattr(sessionlint.cache, "RACY_NS", 0)  # the files were written just now
    first, read = _check_in_process(project, monkeypatch)
    assert len(read) == 4
    again, read = _check_in_process(project, monkeypatch)
    assert (again, read) == (first, [])
    # Same size, same modification time: the change time still tells the edit.
    db = project / "app" / "db.py"
    stat = db.stat()
    edited = DB.replace("sessionmaker(bind=engine)", "dict(bind=engine)")
    db.write_text(edited.replace("\n\n", "\n\n" + " " * (len(DB) - len(edited)), 1))
    assert db.stat().st_size == stat.st_size
    os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after, read = _check_in_process(project, monkeypatch)
    assert read and after != first
    assert after == _check_in_process(project, monkeypatch)[0]


def test_files_changed_just_before_a_run_are_read_again(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written within two seconds of being read may change again without its times
    changing (they tick coarsely): such a run leaves no stamps to trust."""
    _check_in_process(project, monkeypatch)
    _, read = _check_in_process(project, monkeypatch)
    assert len(read) == 4


def test_an_undone_edit_reads_only_that_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.cache

    monkeypatch.setattr(sessionlint.cache, "RACY_NS", 0)
    first, _ = _check_in_process(project, monkeypatch)
    routes = project / "app" / "routes.py"
    stat = routes.stat()
    routes.write_text(ROUTES + "# an edit\n")
    edited, read = _check_in_process(project, monkeypatch)
    assert edited == first and "routes.py" in read
    routes.write_text(ROUTES)  # undone, its times put back: the change time still differs
    os.utime(routes, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    undone, read = _check_in_process(project, monkeypatch)
    assert (undone, read) == (first, ["routes.py"])
