"""The workspace API (`sessionlint.workspace`): check, fix and update, as every entry point uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlint.settings.config import Settings
from sessionlint.workspace import Workspace

SESSION = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
"""

NOT_A_FACTORY = """\
def SessionLocal():
    return object()
"""

TASKS = """\
from sqlalchemy import text

from .db import SessionLocal as make_session


def send_reminders() -> None:
    db = make_session()
    for row in db.execute(text("SELECT email FROM users")):
        print(row.email)
    db.close()
"""


def session_package(root: Path) -> Path:
    """A configured project whose `app.db` package re-exports `SessionLocal`: its `app/`."""
    (root / "pyproject.toml").write_text("[tool.sessionlint]\n")
    package = root / "app"
    (package / "db").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "db" / "__init__.py").write_text("from app.db.session import SessionLocal as SessionLocal\n")
    (package / "db" / "session.py").write_text(SESSION)
    return package


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (session_package(tmp_path) / "tasks.py").write_text(TASKS)
    return tmp_path


def codes(workspace: Workspace, path: Path) -> list[tuple[str, int]]:
    check = workspace.check([path])[str(path)]
    return [(d.code, d.location.row) for d in check.diagnostics]


def test_check_finds_a_cross_module_finding(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    checks = workspace.check()
    tasks = project / "app" / "tasks.py"
    assert [(d.code, d.location.row) for d in checks[str(tasks)].diagnostics] == [("SL002", 7)]
    assert checks[str(tasks)].diagnostics[0].fix is not None  # fixable, with its edits
    assert all(not check.diagnostics for path, check in checks.items() if path != str(tasks))


def test_update_of_a_buffer_rechecks_the_files_that_depend_on_it(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    session, tasks = project / "app" / "db" / "session.py", project / "app" / "tasks.py"
    workspace.check()
    # The factory is no longer one in the editor's buffer: the finding in tasks.py goes.
    changed = workspace.update(session, NOT_A_FACTORY)
    assert str(tasks) in changed and changed[str(tasks)].diagnostics == []
    assert codes(workspace, tasks) == []
    assert session.read_text() == SESSION  # nothing written
    # Reverting to the file on disk brings it back.
    changed = workspace.update(session, None)
    assert [d.code for d in changed[str(tasks)].diagnostics] == ["SL002"]


REPORTS = """\
from sqlalchemy import create_engine, text

from .db import SessionLocal


def monthly_report() -> None:
    db = SessionLocal()
    print(db.execute(text("SELECT 1")).scalar())
    db.close()


def ping() -> None:
    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
"""


def test_update_rechecks_a_dependent_that_stays_checked(project: Path) -> None:
    reports = project / "app" / "reports.py"
    reports.write_text(REPORTS)
    workspace = Workspace([project], use_cache=False)
    session = project / "app" / "db" / "session.py"
    assert codes(workspace, reports) == [("SL002", 7), ("SL003", 13)]
    changed = workspace.update(session, NOT_A_FACTORY)
    assert [(d.code, d.location.row) for d in changed[str(reports)].diagnostics] == [("SL003", 13)]


def test_update_of_an_unrelated_part_rechecks_only_the_buffer(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    tasks = project / "app" / "tasks.py"
    workspace.check()
    changed = workspace.update(tasks, TASKS.replace("print(row.email)", "print(row.name)"))
    assert list(changed) == [str(tasks)]
    assert [d.code for d in changed[str(tasks)].diagnostics] == ["SL002"]


def test_a_new_buffer_in_the_workspace_sees_the_project(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    jobs = project / "app" / "jobs.py"  # not on disk: a new, unsaved file
    changed = workspace.update(jobs, TASKS)
    assert [(d.code, d.location.row) for d in changed[str(jobs)].diagnostics] == [("SL002", 7)]


def test_fix_of_a_buffer_returns_the_fixed_text_without_writing(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    tasks = project / "app" / "tasks.py"
    buffer = TASKS.replace("def send_reminders", "def send_reports")
    workspace.update(tasks, buffer)
    fixed = workspace.fix([tasks])[str(tasks)].fixed
    assert fixed is not None and fixed.original == buffer
    assert "finally:\n        db.close()" in fixed.fixed and "def send_reports" in fixed.fixed
    assert tasks.read_text() == TASKS  # nothing written
    refused = workspace.fix([tasks], accept=lambda _: False)[str(tasks)]
    assert refused.fixed is None and [d.code for d in refused.diagnostics] == ["SL002"]


def test_a_buffer_alone_knows_no_other_module() -> None:
    workspace = Workspace.of_buffer("tasks.py", TASKS.encode(), Settings())
    assert workspace.check()["tasks.py"].diagnostics == []  # `SessionLocal` is unknown here
    alone = Workspace.of_buffer("db.py", (SESSION + "db = SessionLocal()\n").encode(), Settings())
    assert [d.code for d in alone.check()["db.py"].diagnostics] == ["SL008"]


def test_cache_serves_a_second_workspace(project: Path) -> None:
    cache = project / "cache"
    first = Workspace([project / "app"], cache_dir=cache)
    first.check()
    first.save_cache()
    assert any(cache.iterdir())
    second = Workspace([project / "app"], cache_dir=cache)
    tasks = project / "app" / "tasks.py"
    assert [d.code for d in second.check()[str(tasks)].diagnostics] == ["SL002"]


def test_reload_reads_a_changed_configuration_and_keeps_the_buffers(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    tasks, jobs = project / "app" / "tasks.py", project / "app" / "jobs.py"
    workspace.update(jobs, TASKS)
    (project / "pyproject.toml").write_text('[tool.sessionlint]\nignore = ["SL002"]\n')
    workspace.reload()
    checks = workspace.check([tasks, jobs])
    assert checks[str(tasks)].diagnostics == [] and checks[str(jobs)].diagnostics == []
    (project / "pyproject.toml").write_text("[tool.sessionlint]\n")
    workspace.reload()
    assert [d.code for d in workspace.check([jobs])[str(jobs)].diagnostics] == ["SL002"]


# -- updates answered from the buffer alone (`sessionlint.quickedit`) ----------------------

API = """\
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.session import SessionLocal

app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/users")
def users(db: Session = Depends(get_db)):
    return db.execute(text("SELECT 1")).all()


def report() -> int:
    db = SessionLocal()
    db.execute(text("SELECT 1"))
    return 1
"""
BODY_EDIT = API.replace("    return 1\n", "    total = 2\n    return total\n")
NEW_IMPORT = "from app.tasks import send_reminders\n" + BODY_EDIT
BROKEN = NEW_IMPORT + "\ndef broken(:\n"
# The factory's value comes from a private name: changing it changes what `SessionLocal` is.
INDIRECT = "from sqlalchemy.ext.asyncio import async_sessionmaker\n" + SESSION.replace(
    "SessionLocal = sessionmaker(bind=engine)",
    "_sync = sessionmaker(bind=engine)\n_async = async_sessionmaker(bind=engine)\n"
    "_factory = _sync\nSessionLocal = _factory",
)
ASYNC_INDIRECT = INDIRECT.replace("_factory = _sync", "_factory = _async")


class Calls:
    """How many times the fact pass ran and how many files were parsed for facts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sessionlint.edits as edits_module
        import sessionlint.workspace as workspace_module
        from sessionlint.facts.engine import Engine

        self.fact_passes = self.analyzed = self.triaged = 0
        fact_pass, analyze, assign = workspace_module.fact_pass, Engine.analyze, workspace_module.assign_rules

        def counted_pass(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.fact_passes += 1
            return fact_pass(*args, **kwargs)

        def counted_analyze(engine, source, **kwargs):  # type: ignore[no-untyped-def]
            self.analyzed += 1
            return analyze(engine, source, **kwargs)

        def counted_assign(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.triaged += 1
            return assign(*args, **kwargs)

        monkeypatch.setattr(workspace_module, "fact_pass", counted_pass)
        monkeypatch.setattr(Engine, "analyze", counted_analyze)
        monkeypatch.setattr(workspace_module, "assign_rules", counted_assign)
        monkeypatch.setattr(edits_module, "assign_rules", counted_assign)

    def reset(self) -> None:
        self.fact_passes = self.analyzed = self.triaged = 0


def rebuilt(root: Path, buffers: dict[str, str]) -> Workspace:
    """A workspace built from scratch over the disk with these buffers."""
    fresh = Workspace([root], use_cache=False)
    for key, text in buffers.items():
        fresh._set_source(key, fresh._new_source(key, key, text), True)
    fresh.reload()
    return fresh


def assert_as_rebuilt(workspace: Workspace, root: Path, buffers: dict[str, str]) -> None:
    fresh = rebuilt(root, buffers)
    assert list(workspace._checked) == list(fresh._checked)
    assert [s.rule_codes for s in workspace.checked] == [s.rule_codes for s in fresh.checked]
    assert workspace.followed is not None and fresh.followed is not None
    assert workspace.followed.by_module == fresh.followed.by_module
    # The whole-project indexes an update kept or built are those built from scratch.
    assert workspace.project.all_indexes() == fresh.project.all_indexes()
    assert workspace.check() == fresh.check()


@pytest.fixture
def api_project(project: Path) -> Path:
    (project / "app" / "api.py").write_text(API)
    return project


def test_updates_answer_as_a_workspace_built_from_scratch(
    api_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, session = str(api_project / "app" / "api.py"), str(api_project / "app" / "db" / "session.py")
    workspace = Workspace([api_project], use_cache=False)
    workspace.check()
    calls = Calls(monkeypatch)
    buffers: dict[str, str] = {}
    steps: list[tuple[str, str | None, bool]] = [
        (api, BODY_EDIT, True),  # a body edit: the buffer alone
        (api, NEW_IMPORT, False),  # a new import: the fact pass may reach other files
        (session, SESSION + "\nPOOL_SIZE = 5\n", True),  # a constant no other file names
        (session, SESSION.replace("SessionLocal", "SessionMaker"), False),  # a renamed factory
        (session, INDIRECT, False),
        (session, ASYNC_INDIRECT, False),  # a private name another one in the module derives from
        (api, BROKEN, False),  # a syntax error
        (api, NEW_IMPORT, False),  # ... fixed
        (api, None, False),  # back to the disk
        (session, SESSION + "\nPOOL_SIZE = 5\n", False),  # the factory's name back
        (session, None, True),  # back to the disk: only a constant goes
    ]
    for path, text, alone in steps:
        calls.reset()
        answer = workspace.update(path, text)
        if text is None:
            buffers.pop(path, None)
        else:
            buffers[path] = text
        assert (calls.fact_passes == 0) == alone, (path, text)
        fresh = rebuilt(api_project, buffers)
        assert answer[path] == fresh.check([path])[path]
        assert_as_rebuilt(workspace, api_project, buffers)
    assert [d.code for d in workspace.check([api])[api].diagnostics] == ["SL002"]


def test_a_body_edit_analyses_only_the_buffer(api_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = str(api_project / "app" / "api.py")
    workspace = Workspace([api_project], use_cache=False)
    workspace.check()
    calls = Calls(monkeypatch)
    answer = workspace.update(api, BODY_EDIT)
    assert (calls.fact_passes, calls.analyzed, calls.triaged) == (0, 1, 1)
    assert list(answer) == [api]
    assert [(d.code, d.location.row) for d in answer[api].diagnostics] == [("SL002", 24)]
    assert answer == rebuilt(api_project, {api: BODY_EDIT}).check([api])
