"""The cache: warm runs equal cold runs, and only what a change can affect is re-checked.

The command runs its entry point in this process (`run_in_process`: options, cache and output
are the command's own); worker pools, a full disk and one run from above the projects run the
real command in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_cases import WORKER_PADDING, run_cli, run_in_process, spread_over_workers

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None  # type: ignore[assignment]

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
    result = run_in_process(
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
    # db.py changed and now makes an async engine, which SL012 checks (whether anything
    # disposes it); routes.py uses its factory: triaged again, and no rule can flag its
    # awaited async session any more (its SL004 is gone); unrelated.py came from the cache.
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


def _spread_modules(folder: Path) -> None:
    """Enough source that the fact and rule passes spread it over processes (they fork
    by bytes of source: `parallel.parallel_map`'s sizes)."""
    for index in range(48):
        (folder / f"module_{index}.py").write_text(
            "from sqlalchemy import create_engine\n\n"
            f'engine = create_engine("postgresql://app@db/app{index}")\n' + WORKER_PADDING
        )
    assert spread_over_workers(sorted(folder.glob("*.py")))


def test_output_is_identical_with_one_and_two_jobs(tmp_path: Path) -> None:
    _spread_modules(tmp_path)
    serial = run_cli("check", "--no-cache", "--format", "json", "--jobs", "1", ".", cwd=tmp_path)
    parallel = run_cli("check", "--no-cache", "--format", "json", "--jobs", "2", ".", cwd=tmp_path)
    assert serial.stdout == parallel.stdout
    assert len(json.loads(serial.stdout)) == 48


def test_checking_one_file_uses_the_cached_facts_of_the_others(project: Path) -> None:
    alone = run_in_process("check", "--no-cache", "--format", "json", "app/routes.py", cwd=project)
    assert json.loads(alone.stdout) == []  # on its own, SessionLocal is unknown: nothing flagged
    check(project)  # a full run fills the cache
    one, _ = check(project, "app/routes.py")
    assert [(d["filename"], d["code"]) for d in one] == [("app/routes.py", "SL004")]
    (project / "app" / "db.py").write_text(ASYNC_DB)  # a changed neighbour is not trusted
    again, _ = check(project, "app/routes.py")
    assert again == []


def test_fix_with_parallel_fact_pass_fixes_every_file(tmp_path: Path) -> None:
    """Regression: files whose facts came from a worker process were neither fixed nor reported."""
    _spread_modules(tmp_path)
    result = run_cli("check", "--no-cache", "--fix", "--jobs", "2", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    for index in range(48):
        assert "pool_pre_ping=True" in (tmp_path / f"module_{index}.py").read_text()


# -- the no-change shortcut by the files' stamps (size, times, inode): nothing read ------------


def _check_in_process(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list[str]]:
    """Findings, and the files the run read."""
    import sessionlint.read.inputs
    from sessionlint.entry.run import RunOptions, check_paths
    from sessionlint.settings.config import Settings

    read: list[str] = []
    read_file = sessionlint.read.inputs.read_file

    def counting(path: Path):  # type: ignore[no-untyped-def]
        read.append(path.name)
        return read_file(path)

    monkeypatch.setattr(sessionlint.read.inputs, "read_file", counting)
    monkeypatch.chdir(folder)
    report = check_paths([Path(".")], Settings(root=folder), RunOptions(cache_dir=folder / ".cache", jobs=1))
    return [(d.path, d.location, d.code) for d in report.diagnostics], read


def test_unchanged_stamps_answer_without_reading(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.cache.store

    monkeypatch.setattr(sessionlint.cache.store, "RACY_NS", 0)  # the files were written just now
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
    import sessionlint.cache.store

    monkeypatch.setattr(sessionlint.cache.store, "RACY_NS", 0)
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


def test_an_incremental_run_reads_only_the_changed_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other files' stamps vouch for the digests the snapshot compares: unread."""
    import sessionlint.cache.store

    monkeypatch.setattr(sessionlint.cache.store, "RACY_NS", 0)
    first, _ = _check_in_process(project, monkeypatch)
    (project / "app" / "db.py").write_text(DB + "# an edit\n")
    edited, read = _check_in_process(project, monkeypatch)
    assert (edited, read) == (first, ["db.py"])


def test_a_file_changed_since_the_snapshot_not_since_its_stamps_is_read(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """routes.py is emptied (a full run: the snapshot holds a file never read), then put
    back (the no-change shortcut: the stamps hold its finding's version); then db.py gets a
    comment. The stamps vouch for routes.py, the snapshot does not: the run reads it."""
    import sessionlint.cache.store

    monkeypatch.setattr(sessionlint.cache.store, "RACY_NS", 0)
    first, _ = _check_in_process(project, monkeypatch)
    assert any(path == "app/routes.py" for path, *_ in first)
    routes = project / "app" / "routes.py"
    routes.write_text("pass\n")
    _check_in_process(project, monkeypatch)
    routes.write_text(ROUTES)
    assert _check_in_process(project, monkeypatch) == (first, ["routes.py"])
    (project / "app" / "db.py").write_text(DB + "# an edit\n")
    after, read = _check_in_process(project, monkeypatch)
    assert after == first and "routes.py" in read


# -- a cached run answers as a run without the cache would, whatever changed around it ---------
# Each runs the command from the folder above the project, as a script or editor would.

SYNC_ROUTES = """\
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.db import SessionLocal

app = FastAPI()


@app.get("/items")
def items():
    db = SessionLocal()
    return db.query(1).all()
"""
SYNC_ROUTES_FINDING = ("proj/app/routes.py", 11, "SL002")


def _sync_project(folder: Path, *, config: str = "") -> Path:
    (folder / "app").mkdir(parents=True)
    (folder / "app" / "__init__.py").write_text("")
    (folder / "app" / "db.py").write_text(DB)
    (folder / "app" / "routes.py").write_text(SYNC_ROUTES)
    if config:
        (folder / "pyproject.toml").write_text("[tool.sessionlint]\n" + config)
    return folder


def check_from(cwd: Path, *args: str) -> set[tuple[str, int, str]]:
    result = run_in_process("check", "--format", "json", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stdout.decode() + result.stderr.decode()
    return {(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(result.stdout)}


def test_a_file_newly_ignored_by_gitignore_feeds_no_later_run(tmp_path: Path) -> None:
    """Its facts stay in the cache; a run that no longer reaches the file must not use them."""
    project = _sync_project(tmp_path / "proj", config="select = ['SL']\n")
    (project / ".git").mkdir()
    args = ("--cache-dir", "proj/.cache", "proj")
    assert SYNC_ROUTES_FINDING in check_from(tmp_path, *args)
    (project / ".gitignore").write_text("app/db.py\n")
    assert check_from(tmp_path, *args) == check_from(tmp_path, "--no-cache", "proj") == set()
    # Nor under --fix (the finding has no fix: a wrong one would still be reported here).
    assert check_from(tmp_path, "--fix", *args) == set()


def test_a_cache_folder_shared_by_two_projects_keeps_them_apart(tmp_path: Path) -> None:
    """Project b imports `app.db` too, but has none: a's `SessionLocal` must not answer for it."""
    _sync_project(tmp_path / "a", config="select = ['SL']\n")
    b = tmp_path / "b"
    _sync_project(b, config="select = ['SL']\n")
    (b / "app" / "db.py").unlink()
    shared = ("--cache-dir", str(tmp_path / "shared"))
    assert ("a/app/routes.py", 11, "SL002") in check_from(tmp_path, *shared, "a")
    assert check_from(tmp_path, *shared, "b/app/routes.py") == set()
    assert check_from(tmp_path, *shared, "b") == check_from(tmp_path, "--no-cache", "b") == set()
    fixed = run_cli("check", "--fix", "--unsafe-fixes", *shared, "b", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout.decode() + fixed.stderr.decode()
    assert (b / "app" / "routes.py").read_text() == SYNC_ROUTES


def test_per_file_ignores_follow_the_folder_of_the_configuration_file(tmp_path: Path) -> None:
    """The same configuration text in another folder: its patterns match other files."""
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "app" / "db.py").write_text(DB.replace("sqlite:///app.db", "postgresql://app@db/app"))
    config = "[tool.sessionlint]\nper-file-ignores = { 'app/db.py' = ['SL005'] }\n"
    (project / "pyproject.toml").write_text(config)
    (project / "app" / "other.toml").write_text(config)
    cache = ("--cache-dir", "proj/.cache")
    assert check_from(tmp_path, *cache, "--config", "proj/pyproject.toml", "proj") == set()
    moved = check_from(tmp_path, *cache, "--config", "proj/app/other.toml", "proj")
    assert moved == check_from(tmp_path, "--no-cache", "--config", "proj/app/other.toml", "proj")
    assert moved == {("proj/app/db.py", 4, "SL005")}


@pytest.mark.parametrize("change", ["added", "removed"])
def test_an_init_file_beside_files_named_explicitly(tmp_path: Path, change: str) -> None:
    """`app/__init__.py` makes `app/db.py` the module `app.db` that routes.py imports from;
    it is not in the run (only the two files are named), yet it changes the findings."""
    project = _sync_project(tmp_path / "proj")
    init = project / "app" / "__init__.py"
    if change == "added":
        init.unlink()
    args = ("proj/app/db.py", "proj/app/routes.py")
    before = check_from(tmp_path, "--cache-dir", "proj/.cache", *args)
    if change == "added":
        init.write_text("")
    else:
        init.unlink()
    after = check_from(tmp_path, "--cache-dir", "proj/.cache", *args)
    assert after == check_from(tmp_path, "--no-cache", *args)
    assert (SYNC_ROUTES_FINDING in after) == (change == "added") != (SYNC_ROUTES_FINDING in before)
    # An incremental run (one file edited) must see the new layout as well.
    (project / "app" / "routes.py").write_text(SYNC_ROUTES + "# edited\n")
    assert check_from(tmp_path, "--cache-dir", "proj/.cache", *args) == after


def _run_on_a_full_disk(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real command with no room to write any file (RLIMIT_FSIZE 0: every write fails
    with EFBIG, as on a full disk; Python ignores the SIGXFSZ that would end it)."""

    def no_room() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    return subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", *args],
        cwd=folder,
        capture_output=True,
        timeout=120,
        preexec_fn=no_room,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.skipif(resource is None, reason="needs RLIMIT_FSIZE")
def test_a_full_disk_leaves_no_litter_in_the_cache(tmp_path: Path) -> None:
    project = _sync_project(tmp_path / "proj")
    cache = project / ".sessionlint_cache"
    for _ in range(2):
        result = _run_on_a_full_disk(tmp_path, "--cache-dir", str(cache), "proj")
        assert result.returncode == 1, result.stderr.decode()  # the finding, and no error
        assert b"Traceback" not in result.stderr
        leftovers = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
        assert leftovers == [], leftovers
    # With room again, the cache folder is written whole, `.gitignore` first.
    assert SYNC_ROUTES_FINDING in check_from(tmp_path, "--cache-dir", str(cache), "proj")
    assert (cache / ".gitignore").read_text() == "# Created by sessionlint\n*\n"
    assert not list(cache.glob("*.tmp"))


def test_an_empty_gitignore_left_in_the_cache_is_completed(tmp_path: Path) -> None:
    """What a full disk left behind before: an empty `.gitignore` (git then shows the cache)."""
    project = _sync_project(tmp_path / "proj")
    cache = project / ".sessionlint_cache"
    cache.mkdir()
    (cache / ".gitignore").write_text("")
    check_from(tmp_path, "--cache-dir", str(cache), "proj")
    assert (cache / ".gitignore").read_text() == "# Created by sessionlint\n*\n"


def test_the_cache_is_named_by_the_tools_sources(tmp_path: Path) -> None:
    """An edit of any of the tool's sources (an editable install) names another cache."""
    from sessionlint.cache.store import _source_stamps

    (tmp_path / "rules").mkdir()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "cli.py").write_text("")
    (tmp_path / "rules" / "sl001.py").write_text("x = 1\n")
    (tmp_path / "__pycache__" / "cli.py").write_text("")
    before = _source_stamps(str(tmp_path))
    assert [line.partition(":")[0] for line in before] == ["cli.py", os.path.join("rules", "sl001.py")]
    (tmp_path / "rules" / "sl001.py").write_text("x = 2\n# edited\n")
    assert _source_stamps(str(tmp_path)) != before


# -- what a warm run loads: a run that answers from the cache imports no machinery -------------

# Loaded only to parse and check: never by a run that reuses the findings of the files it read.
MACHINERY = (
    "libcst",
    "sessionlint.rules",
    "sessionlint.rulepass.lint",
    "sessionlint.facts.engine",
    "sessionlint.workspace",
    "sessionlint.entry.batch",
    "sessionlint.report.formats.json",
    "sessionlint.report.formats.sarif",
)


def _imported(*argv: str, cwd: Path) -> set[str]:
    """The modules a run of the real command imports (`python -X importtime`)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", result.stderr, re.MULTILINE)
    assert found, result.stderr[-2000:]
    return set(found)


def test_a_warm_run_imports_no_machinery(project: Path) -> None:
    """Nothing changed: no engine, rules or LibCST. A file no rule reads changed (an
    incremental run): neither the rules nor LibCST, nor a worker pool."""
    (project / "app" / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    check = ["-m", "sessionlint", "check", "--cache-dir", ".cache", project.name]
    cold = _imported(*check, cwd=project.parent)
    assert {"libcst", "sessionlint.rules"} <= cold  # the test sees what a run imports
    warm = _imported(*check, cwd=project.parent)
    assert not warm & set(MACHINERY), warm & set(MACHINERY)
    (project / "app" / "plain.py").write_text("def add(a, b):\n    return a + b  # reviewed\n")
    bare = _imported("-c", "pass", cwd=project.parent)  # what the interpreter loads anyway
    touched = _imported(*check, cwd=project.parent)
    assert "sessionlint.cache.incremental" in touched  # and no full run (`entry.batch`):
    unwanted = {"libcst", "sessionlint.rules", "sessionlint.entry.batch", "multiprocessing"} - bare
    assert not touched & unwanted, touched & unwanted
