"""Incremental runs: a few files changed since the last run are checked alone only when
nothing other files' findings rest on changed; the findings always equal a run from scratch.

The command runs its entry point in this process (`run_in_process`: its options, cache and
output are the command's own); a project named through `..` from another folder, and a run
over one file of it, run the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from sessionlint.entry.run import RunOptions, RunReport, check_paths
from sessionlint.settings.codes import KNOWN_CODES
from sessionlint.settings.config import Settings, load_settings
from tests.fixture_cases import Case, all_cases, run_cli, run_in_process

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite:///app.db")
SessionLocal = sessionmaker(bind=engine)
"""
ROUTES = """\
from fastapi import FastAPI

from app.db import SessionLocal

app = FastAPI()


@app.get("/items")
def items():
    db = SessionLocal()
    return db.query(1).all()
"""
# Imports the database module but names nothing that leads to a session: not read.
HELPERS = """\
from app import db


def describe():
    return "helpers"
"""
PLAIN = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(DB)
    (tmp_path / "app" / "routes.py").write_text(ROUTES)
    (tmp_path / "app" / "helpers.py").write_text(HELPERS)
    (tmp_path / "app" / "plain.py").write_text(PLAIN)
    return tmp_path


def check(folder: Path, *args: str) -> tuple[set[tuple[str, int, str]], str]:
    result = run_in_process(
        "check", "--format", "json", "--verbose", "--cache-dir", ".cache", *args, ".", cwd=folder
    )
    assert result.returncode in (0, 1), result.stderr.decode()
    found = {(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(result.stdout)}
    return found, result.stderr.decode()


def from_scratch(folder: Path) -> set[tuple[str, int, str]]:
    return check(folder, "--no-cache")[0]


def incremental(stderr: str) -> bool:
    return "changed since the last run" in stderr


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_a_comment_is_checked_alone(project: Path) -> None:
    before, _ = check(project)
    assert ("app/routes.py", 10, "SL002") in before
    append(project / "app" / "routes.py", "# reviewed\n")
    after, stderr = check(project)
    assert incremental(stderr), stderr
    assert "1 changed since the last run, 1 of those checked by the rules" in stderr
    assert after == before == from_scratch(project)


def test_a_noqa_comment_takes_effect_incrementally(project: Path) -> None:
    check(project)
    routes = project / "app" / "routes.py"
    routes.write_text(ROUTES.replace("db = SessionLocal()", "db = SessionLocal()  # noqa: SL002"))
    after, stderr = check(project)
    assert incremental(stderr), stderr
    assert ("app/routes.py", 10, "SL002") not in after
    assert after == from_scratch(project)


def test_a_file_never_read_changes_alone(project: Path) -> None:
    check(project)
    append(project / "app" / "plain.py", "\n\ndef sub(a, b):\n    return a - b\n")
    after, stderr = check(project)
    assert incremental(stderr), stderr
    assert "1 changed since the last run, 0 of those checked" in stderr
    assert after == from_scratch(project)


def test_changed_facts_run_in_full(project: Path) -> None:
    """`SessionLocal` is no longer a factory: the routes file's finding goes with it."""
    check(project)
    (project / "app" / "db.py").write_text(DB.replace("sessionmaker(bind=engine)", "dict(bind=engine)"))
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert ("app/routes.py", 10, "SL002") not in after
    assert after == from_scratch(project)


def test_a_file_that_starts_naming_a_factory_runs_in_full(project: Path) -> None:
    """helpers.py was not read; spelling the factory it imports makes it a candidate."""
    before, _ = check(project)
    append(
        project / "app" / "helpers.py",
        "\n\ndef load():\n    session = db.SessionLocal()\n    return session.query(1).all()\n",
    )
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert ("app/helpers.py", 9, "SL002") in after - before
    assert after == from_scratch(project)


def test_a_file_that_starts_importing_the_library_runs_in_full(project: Path) -> None:
    check(project)
    append(
        project / "app" / "plain.py",
        "\nfrom sqlalchemy import create_engine\n\nengine = create_engine('x')\n",
    )
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert ("app/plain.py", 6, "SL005") in after
    assert after == from_scratch(project)


def test_a_new_file_runs_in_full(project: Path) -> None:
    check(project)
    (project / "app" / "more.py").write_text(ROUTES)
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert after == from_scratch(project)


def test_a_corrupt_snapshot_is_ignored(project: Path) -> None:
    before, _ = check(project)
    for snapshot in (project / ".cache").glob("*.snapshot.pickle"):
        snapshot.write_bytes(b"\x80\x05not a snapshot")
    append(project / "app" / "routes.py", "# reviewed\n")
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert "Traceback" not in stderr
    assert after == before


def test_an_incremental_run_writes_only_what_it_changed(project: Path) -> None:
    """The snapshot stays as the full run wrote it; the changed records go beside it, and
    the next incremental run reads them (routes.py changed once: it is not changed again)."""
    before, _ = check(project)
    (snapshot,) = (project / ".cache").glob("*.snapshot.pickle")
    written = snapshot.read_bytes()
    append(project / "app" / "routes.py", "# reviewed\n")
    assert check(project)[0] == before
    assert snapshot.read_bytes() == written
    assert list((project / ".cache").glob("*.snapshot-delta.pickle"))
    append(project / "app" / "plain.py", "# reviewed\n")
    after, stderr = check(project)
    assert "1 changed since the last run" in stderr, stderr
    assert after == before == from_scratch(project)


def test_a_delta_over_another_snapshot_is_ignored(project: Path) -> None:
    """A delta left over an earlier snapshot (a concurrent run's, say) holds records that
    were true of that one: read over a later snapshot, routes.py would keep a finding its
    factory no longer gives it."""
    check(project)
    append(project / "app" / "routes.py", "# reviewed\n")
    before, _ = check(project)
    assert ("app/routes.py", 10, "SL002") in before
    (delta,) = (project / ".cache").glob("*.snapshot-delta.pickle")
    stale = delta.read_bytes()
    (project / "app" / "db.py").write_text(DB.replace("sessionmaker(bind=engine)", "dict(bind=engine)"))
    full, stderr = check(project)
    assert not incremental(stderr), stderr
    assert ("app/routes.py", 10, "SL002") not in full
    delta.write_bytes(stale)
    append(project / "app" / "plain.py", "# reviewed\n")
    after, stderr = check(project)
    assert incremental(stderr), stderr
    assert after == full == from_scratch(project)


PROVIDER = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)


def provide():
    with SessionLocal() as session:
        yield session
"""
ENDPOINT = """\
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy.orm import Session

from app.db import provide

app = FastAPI()


def send(db: Session) -> None:
    ...


@app.post("/x")
def x(background_tasks: BackgroundTasks, db: Session = Depends(provide)):
    background_tasks.add_task(send, db=db)
    return {}
"""


def test_facts_kept_from_a_run_where_the_module_had_another_name(tmp_path: Path) -> None:
    """`app/__init__.py` appears: `app/db.py`, unchanged, is now `app.db`, not `db`; the
    snapshot must not keep its facts from when it was named otherwise."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "db.py").write_text(PROVIDER)
    (tmp_path / "main.py").write_text(ENDPOINT)
    check(tmp_path)
    (tmp_path / "app" / "__init__.py").write_text("")
    full, _ = check(tmp_path)
    assert ("main.py", 15, "SL007") in full
    append(tmp_path / "main.py", "# touched\n")
    after, stderr = check(tmp_path)
    assert incremental(stderr), stderr
    assert after == full == from_scratch(tmp_path)


def test_a_run_over_other_files_ends_the_snapshot(tmp_path: Path) -> None:
    """Checking `lib` caches its facts; a cached run over `app` then knows its factory (as
    checking one file knows the project's), which an incremental run could not. Both are
    folders of one project (its configuration marks the root): facts cached for another
    project never count (see test_cache)."""
    (tmp_path / "pyproject.toml").write_text("[tool.sessionlint]\n")
    for folder, name, text in (("lib", "db.py", PROVIDER), ("app", "work.py", ENDPOINT)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
        (tmp_path / folder / name).write_text(text.replace("from app.db", "from lib.db"))

    def check_in(folder: str) -> tuple[set[tuple[str, int, str]], str]:
        result = run_in_process(
            "check", "--format", "json", "--verbose", "--cache-dir", ".cache", folder, cwd=tmp_path
        )
        found = {(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(result.stdout)}
        return found, result.stderr.decode()

    check_in("app")
    check_in("lib")
    append(tmp_path / "app" / "work.py", "# touched\n")
    after, stderr = check_in("app")
    assert not incremental(stderr), stderr
    assert ("app/work.py", 15, "SL007") in after
    assert check_in("app")[0] == after  # and stays so


def test_facts_of_another_snapshot_are_not_read(project: Path) -> None:
    """The records point into the facts file of their own snapshot: the facts file of an
    earlier one (left by a concurrent run, say) holds other bytes at those places."""
    check(project)
    (facts,) = (project / ".cache").glob("*.snapshot-facts.pickle")
    stale = facts.read_bytes()
    (project / "app" / "db.py").write_text(DB.replace("sessionmaker(bind=engine)", "dict(bind=engine)"))
    full, _ = check(project)
    facts.write_bytes(stale)
    append(project / "app" / "routes.py", "# reviewed\n")
    after, stderr = check(project)
    assert not incremental(stderr), stderr
    assert after == full == from_scratch(project)


def test_a_file_appearing_outside_the_checked_folder_is_not_missed(tmp_path: Path) -> None:
    """`check app` in a project whose every file is under `app` knows the whole project:
    nothing disposes the engine (SL012). A file added outside `app` is one the run does not
    read: it might dispose it, and a run from scratch no longer concludes. Neither may an
    incremental run over the snapshot of the first (it once reused that finding)."""
    (tmp_path / "pyproject.toml").write_text("[tool.sessionlint]\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(
        LIFESPAN.replace("from app.db import Session, engine", ASYNC_DB).replace(
            "    await engine.dispose()\n", ""
        )
    )
    (tmp_path / "app" / "plain.py").write_text(PLAIN)

    def check_app(*args: str) -> tuple[set[tuple[str, int, str]], str]:
        result = run_in_process("check", "--format", "json", "--verbose", *args, "app", cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr.decode()
        found = {(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(result.stdout)}
        return found, result.stderr.decode()

    first, _ = check_app("--cache-dir", ".cache")
    assert [f for f in first if f[2] == "SL012"]
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "other.py").write_text(PLAIN)
    append(tmp_path / "app" / "plain.py", "# touched\n")
    after, _ = check_app("--cache-dir", ".cache")
    clean, _ = check_app("--no-cache")
    assert not [f for f in clean if f[2] == "SL012"]
    assert after == clean


STUB = """\
from sqlalchemy import Engine

engine: Engine
SessionLocal: object
"""


@pytest.mark.parametrize("touched", ["app/routes.py", "app/db.py", "app/db.pyi"])
def test_a_module_with_a_stub_beside_it_runs_incrementally(project: Path, touched: str) -> None:
    """`app/db.py` and `app/db.pyi` are one module: the project holds the facts of the file
    the fact pass reached first (the `.py`, where `SessionLocal` is a factory). An
    incremental run takes the same file's facts, never the stub's (which would drop the
    finding), whichever of the three files changed."""
    (project / "app" / "db.pyi").write_text(STUB)
    before, _ = check(project)
    assert ("app/routes.py", 10, "SL002") in before
    append(project / touched, "# reviewed\n")
    after, stderr = check(project)
    assert incremental(stderr), stderr
    assert after == before == from_scratch(project)


# -- every fixture: an incremental run finds what a run from scratch finds ---------------------

CASES = all_cases()


def _run(folder: Path, cache: Path | None) -> tuple[list[tuple], RunReport]:
    settings = load_settings([folder], None, KNOWN_CODES)
    options = RunOptions(use_cache=cache is not None, cache_dir=cache, jobs=1)
    report = check_paths([Path(".")], settings, options)
    return [(d.path, d.location, d.code, d.message) for d in report.diagnostics], report


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_incremental_runs_equal_runs_from_scratch(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file in turn gets a trailing comment (an incremental run, always), then a
    `# noqa` on the line of its first finding (incremental when its facts stay equal)."""
    folder = case.copy_to(tmp_path / "case")
    monkeypatch.chdir(folder)
    cache = tmp_path / "cache"
    found, _ = _run(folder, cache)
    for file in sorted(folder.rglob("*.py")):
        data = file.read_bytes()
        file.write_bytes(data + b"\n# reviewed\n")
        after, report = _run(folder, cache)
        assert report.files_changed is not None, file  # this file, and the one restored
        assert after == found, file
        file.write_bytes(data)
    for path, location, *_ in found:
        file = folder / path
        if file.suffix != ".py" or not file.exists():
            continue
        lines = file.read_bytes().split(b"\n")
        lines[location.row - 1] += b"  # noqa"
        file.write_bytes(b"\n".join(lines))
        assert _run(folder, cache)[0] == _run(folder, None)[0], path
        break


# -- every project fixture: what the cache keeps never outlives what it was about --------------

PROJECTS = [case for case in CASES if case.is_dir]


def _run_paths(paths: list[Path], settings: Settings, cache: Path | None) -> list[tuple]:
    options = RunOptions(use_cache=cache is not None, cache_dir=cache, jobs=1)
    report = check_paths(paths, settings, options)
    return [(d.path, d.location, d.code, d.message) for d in report.diagnostics]


def _cached_equals_clean(paths: list[Path], settings: Settings, cache: Path, label: object) -> None:
    assert _run_paths(paths, settings, cache) == _run_paths(paths, settings, None), label


@pytest.mark.parametrize("case", PROJECTS, ids=lambda case: case.id)
def test_cached_runs_equal_clean_runs_when_the_project_around_them_changes(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a full cached run, each in turn: a file newly ignored by `.gitignore` (also for
    `--fix`); the same cache folder used by a copy of the project without that file; the
    configuration's folder moved (`per-file-ignores` are relative to it); an `__init__.py`
    added or removed beside files named explicitly. A cached run equals one without it."""
    folder = case.copy_to(tmp_path / "case")
    monkeypatch.chdir(folder)
    settings = load_settings([folder], None, KNOWN_CODES)
    cache = tmp_path / "cache"
    files = sorted(file.relative_to(folder) for file in folder.rglob("*.py"))
    _run_paths([Path(".")], settings, cache)
    for file in files:
        (folder / ".gitignore").write_text(f"/{file.as_posix()}\n")
        _cached_equals_clean([Path(".")], settings, cache, ("ignored", file))
        fix = RunOptions(fix=True, cache_dir=cache, jobs=1)
        assert not check_paths([Path(".")], settings, fix).internal_errors
        (folder / ".gitignore").unlink()
        data = (folder / file).read_bytes()
        _run_paths([Path(".")], settings, cache)  # the whole project's facts, cached again
        other = tmp_path / "other"
        shutil.copytree(folder, other)
        (other / file).unlink()
        monkeypatch.chdir(other)
        _cached_equals_clean([Path(".")], replace(settings, root=other), cache, ("other project", file))
        monkeypatch.chdir(folder)
        shutil.rmtree(other)
        assert (folder / file).read_bytes() == data  # --fix above did not write: ignored
    for file in files[:1]:
        ignored = replace(settings, per_file_ignores=((file.as_posix(), ("SL",)),))
        _run_paths([Path(".")], ignored, cache)
        moved = replace(ignored, root=folder / file.parent / "elsewhere")
        _cached_equals_clean([Path(".")], moved, cache, ("configuration moved", file))
    named = [file for file in files if file.name != "__init__.py"]
    for package in sorted({file.parent for file in named}):
        init = folder / package / "__init__.py"
        before = init.read_bytes() if init.exists() else None
        _run_paths(named, settings, cache)
        if before is None:
            init.write_text("")
        else:
            init.unlink()
        _cached_equals_clean(named, settings, cache, ("__init__.py toggled", package))
        if before is None:
            init.unlink()
        else:
            init.write_bytes(before)


def test_a_project_named_through_dotdot_runs_incrementally(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`check ../project` from another folder names the whole project, as `check .` inside
    it does: one changed file is then checked alone."""
    (project / "pyproject.toml").write_text("[tool.sessionlint]\n")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    target = os.path.relpath(project, elsewhere)
    assert target.startswith("..")
    args = ("check", "--format", "json", "--verbose", "--cache-dir", str(project / ".cache"), target)
    first = run_cli(*args, cwd=elsewhere)
    assert first.returncode in (0, 1), first.stderr.decode()
    append(project / "app" / "plain.py", "# touched\n")
    second = run_cli(*args, cwd=elsewhere)
    assert second.returncode in (0, 1), second.stderr.decode()
    assert incremental(second.stderr.decode()), second.stderr.decode()
    assert json.loads(second.stdout) == json.loads(first.stdout)


# -- project-wide rules: a dispose or remove in one file decides another file's finding --------

ASYNC_DB = """\
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import scoped_session, sessionmaker

engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
Session = scoped_session(sessionmaker())
"""
LIFESPAN = """\
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.db import Session, engine


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/users")
def users():
    try:
        return Session.execute("SELECT 1").all()
    finally:
        Session.remove()
"""
ENGINE_FINDING = ("app/db.py", 4, "SL012")
REGISTRY_FINDING = ("app/db.py", 5, "SL011")


@pytest.fixture
def lifecycle_project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(ASYNC_DB)
    (tmp_path / "app" / "main.py").write_text(LIFESPAN)
    (tmp_path / "app" / "plain.py").write_text(PLAIN)
    return tmp_path


@pytest.mark.parametrize(
    ("call", "finding"),
    [("    await engine.dispose()\n", ENGINE_FINDING), ("        Session.remove()\n", REGISTRY_FINDING)],
    ids=["dispose", "remove"],
)
def test_a_dispose_or_remove_leaving_another_file_changes_the_findings(
    lifecycle_project: Path, call: str, finding: tuple[str, int, str]
) -> None:
    """The finding on db.py rests on main.py's call: cached and incremental runs see it go and
    come back exactly as runs from scratch do."""
    main = lifecycle_project / "app" / "main.py"
    before, _ = check(lifecycle_project)
    assert finding not in before
    main.write_text(LIFESPAN.replace(call, call[: len(call) - len(call.lstrip())] + "pass\n"))
    after, _ = check(lifecycle_project)
    assert finding in after
    assert after == from_scratch(lifecycle_project)
    main.write_text(LIFESPAN)
    restored, _ = check(lifecycle_project)
    assert restored == before == from_scratch(lifecycle_project)


def test_a_dispose_in_a_file_never_read_before_is_seen(lifecycle_project: Path) -> None:
    """plain.py names nothing the rules are about; once it disposes something the checker
    cannot resolve (`request.app.state.engine`), it may be the engine: no finding."""
    main = lifecycle_project / "app" / "main.py"
    main.write_text(LIFESPAN.replace("    await engine.dispose()\n", "    pass\n"))
    assert ENGINE_FINDING in check(lifecycle_project)[0]
    append(
        lifecycle_project / "app" / "plain.py",
        "\n\nasync def close(request):\n    await request.app.state.engine.dispose()\n",
    )
    after, stderr = check(lifecycle_project)
    assert not incremental(stderr), stderr
    assert ENGINE_FINDING not in after
    assert after == from_scratch(lifecycle_project)


def test_nothing_disposes_is_concluded_only_over_the_whole_project(tmp_path: Path) -> None:
    """main.py alone has an engine and a lifespan that does not dispose it; shutdown.py does.
    A run that reads main.py alone cannot know that nothing disposes the engine."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(
        LIFESPAN.replace("from app.db import Session, engine", ASYNC_DB).replace(
            "    await engine.dispose()\n", ""
        )
    )
    (tmp_path / "app" / "shutdown.py").write_text(
        "from app.main import app, engine\n\n\n@app.on_event('shutdown')\n"
        "async def close():\n    await engine.dispose()\n"
    )
    assert not [f for f in from_scratch(tmp_path) if f[2] == "SL012"]
    alone = run_cli("check", "--no-cache", "--format", "json", "app/main.py", cwd=tmp_path)
    assert alone.returncode in (0, 1), alone.stderr.decode()
    assert not [d for d in json.loads(alone.stdout) if d["code"] == "SL012"]
    (tmp_path / "app" / "shutdown.py").unlink()
    assert [f for f in from_scratch(tmp_path) if f[2] == "SL012"]
