"""An edit's part in the whole-project indexes (`sessionlint.project.footprint`): the indexes are
kept when the edited module's part in them is the same, and the workspace then answers as one
built from scratch over the same texts, indexes included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sessionlint.project import footprint
from sessionlint.workspace import Workspace
from tests.test_workspace import Calls, assert_as_rebuilt, rebuilt, session_package
from tests.test_workspace_edits import API, DEPS, REEXPORT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PAGE_SIZE = "\nPAGE_SIZE = 50\n"  # a name of deps.py that leads to no session


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = session_package(tmp_path)
    (package / "deps.py").write_text(DEPS + PAGE_SIZE)
    (package / "api.py").write_text(API)
    (package / "reexport.py").write_text(REEXPORT)
    return tmp_path


def test_every_whole_project_index_has_a_part(project: Path) -> None:
    workspace = Workspace([project], use_cache=False)
    assert list(footprint.PARTS) and set(footprint.PARTS) == set(workspace.project.all_indexes())


FRESH = "\n\ndef _count() -> int:\n    db = SessionLocal()\n    db.close()\n    return 1\n"


@pytest.mark.parametrize(
    ("buffer", "edit", "alone"),
    [
        # A new import of a name another module defines, under a name of its own.
        ("api.py", lambda text: text + "\nfrom app.deps import PAGE_SIZE as _page_size\n", True),
        # A new function that calls a session factory: no project function (no edge).
        ("deps.py", lambda text: text + FRESH, True),
        # ... in a module the fact pass reads first (it names SQLAlchemy): a name it now
        # follows from the module, which no other file spells.
        ("db/session.py", lambda text: text + FRESH, True),
        # ... one a module of the project spells (reexport.py) but cannot name: it imports
        # nothing of deps.py, so nothing it spells resolves there.
        ("deps.py", lambda text: text + FRESH.replace("_count", "make_session"), True),
        # ... one a module that imports from deps.py spells (api.py): it could name it.
        ("deps.py", lambda text: text + FRESH.replace("_count", "ping"), False),
        # A function removed.
        ("api.py", lambda text: text.replace("def ping() -> int:\n    return 1\n", ""), True),
        # A module-level call of no project function.
        ("api.py", lambda text: text + '\nprint("ready")\n', True),
        # A new function calling the dependency: `get_db` is called directly now (`called`).
        ("api.py", lambda text: text + "\n\ndef _helper():\n    return get_db()\n", False),
        # A call in a module-level lambda: no edge of the call graph, but `called` grows.
        ("api.py", lambda text: text + "\n_handler = lambda: get_db()\n", False),
        # `ping` is now called from a `__main__` block alone: one-shot code (`one_shot`).
        ("api.py", lambda text: text + '\nif __name__ == "__main__":\n    ping()\n', False),
        # A new `main`: a root of code that runs once, calling `ping` (`once`).
        ("api.py", lambda text: text + "\n\ndef main():\n    ping()\n", False),
        # A new endpoint calling the dependency: the requests' call graph grows.
        ("api.py", lambda text: text + '\n\n@app.get("/x")\ndef _x():\n    return get_db()\n', False),
    ],
)
def test_an_edit_keeps_the_indexes_only_when_its_part_is_the_same(
    project: Path, monkeypatch: pytest.MonkeyPatch, buffer: str, edit: object, alone: bool
) -> None:
    path = str(project / "app" / buffer)
    workspace = Workspace([project], use_cache=False)
    text = Path(path).read_text()
    workspace.update(path, text)  # opened in the editor
    calls = Calls(monkeypatch)
    assert callable(edit)
    new = edit(text)
    answer = workspace.update(path, new)
    assert (calls.fact_passes == 0) == alone, new
    assert answer[path] == rebuilt(project, {path: new}).check([path])[path]
    assert_as_rebuilt(workspace, project, {path: new})


def test_a_new_caller_takes_a_function_out_of_one_shot_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ping` is called already (the `called` index stays) but only from a `__main__` block: a
    new caller of it, no one-shot code, changes only the call graph's edges."""
    api = project / "app" / "api.py"
    api.write_text(API + '\nif __name__ == "__main__":\n    ping()\n')
    workspace = Workspace([project], use_cache=False)
    text = api.read_text()
    workspace.update(api, text)
    facts = workspace.facts(api)
    assert facts is not None
    assert (facts.key, "ping") in workspace.project.one_shot_functions
    calls = Calls(monkeypatch)
    new = text + "\n\ndef _report() -> int:\n    return ping()\n"
    workspace.update(api, new)
    assert calls.fact_passes == 1
    assert (facts.key, "ping") not in workspace.project.one_shot_functions
    assert_as_rebuilt(workspace, project, {str(api): new})


def test_a_kept_index_is_not_built_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sessionlint.project import contexts

    deps = str(project / "app" / "deps.py")
    workspace = Workspace([project], use_cache=False)
    workspace.update(deps, DEPS + PAGE_SIZE)
    workspace.project.all_indexes()
    built: list[object] = []
    monkeypatch.setattr(contexts, "_CallGraph", lambda project: built.append(project))
    text = DEPS + PAGE_SIZE + "\n\ndef _count() -> int:\n    return 1\n"
    workspace.update(deps, text)
    assert built == []  # neither one-shot nor run-once code was computed again
    monkeypatch.undo()
    assert_as_rebuilt(workspace, project, {deps: text})


# -- a changed body: what a lifecycle call or an `app.state` slot in it ends -------------

DB = """\
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
other_engine = create_async_engine("postgresql+asyncpg://app@db/other", pool_pre_ping=True)
"""

STATE = """\
from fastapi import FastAPI

from app.db import engine, other_engine

app = FastAPI()


def _configure_state() -> None:
    current = other_engine
    app.state.engine = current
"""

EVENTS = """\
from fastapi import APIRouter, Request

router = APIRouter()


@router.on_event("shutdown")
async def close_database(request: Request) -> None:
    await request.app.state.engine.dispose()
"""

CLOSE = """\
from fastapi import APIRouter

from app.db import engine, other_engine

router = APIRouter()


@router.on_event("shutdown")
async def _close() -> None:
    current = other_engine
    await current.dispose()
"""


@pytest.mark.parametrize(
    "files",
    [{"main.py": STATE, "events.py": EVENTS}, {"main.py": CLOSE}],
    ids=["app-state-slot", "lifecycle-call"],
)
def test_a_body_edit_that_changes_which_engine_is_disposed(tmp_path: Path, files: dict[str, str]) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "db.py").write_text(DB)
    for name, text in files.items():
        (package / name).write_text(text)
    main, db = str(package / "main.py"), str(package / "db.py")
    workspace = Workspace([tmp_path], use_cache=False)
    before = [d.location.row for d in workspace.check([db])[db].diagnostics]
    workspace.update(main, files["main.py"])
    text = files["main.py"].replace("current = other_engine", "current = engine")
    answer = workspace.update(main, text)
    # `engine` is disposed now, `other_engine` no longer: db.py's finding moves.
    after = [d.location.row for d in answer[db].diagnostics]
    assert (before, after) == ([3], [4])
    assert_as_rebuilt(workspace, tmp_path, {main: text})


# -- over every project fixture: a kept index is the index built from scratch -------------


def _edits(text: str, tree: ast.Module, calls: list[str]) -> list[str]:
    """Edits of a module: new functions, module-level calls and lambdas calling what it calls,
    `__main__` blocks and callers of its functions, functions removed (their lines left blank)."""
    base = text.rstrip("\n") + "\n\n"
    names = sorted({call.rsplit(".", 1)[-1] for call in calls})[:4]
    tops = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))][:3]
    added = ["import json as _zz_json\n", "def _zz_new() -> int:\n    return 1\n", "def main():\n    pass\n"]
    added += [f"def _zz_call():\n    return {name}()\n" for name in names]
    added += [f"{name}()\n" for name in names]
    added += [f"_zz_lambda = lambda: {name}()\n" for name in [*names, *tops]]  # a call in no function
    added += [f"def _zz_caller():\n    return {name}()\n" for name in tops]
    added += [f'if __name__ == "__main__":\n    {name}()\n' for name in tops]
    edits = [base + text for text in added]
    lines = text.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start, end = node.lineno - 1 - len(node.decorator_list), node.end_lineno or node.lineno
            edits.append("".join(lines[:start] + ["\n"] * (end - start) + lines[end:]))
    return edits


@pytest.mark.slow
@pytest.mark.parametrize(
    "folder",
    sorted(path for path in FIXTURES.glob("SL*/*") if path.is_dir()),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_kept_indexes_are_those_built_from_scratch(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.quickedit as quickedit
    from sessionlint.facts.factpass import fact_pass

    workspace = Workspace([folder], use_cache=False)
    same_indexes = footprint.same_indexes
    kept: list[bool] = []

    def checked(old_project, old, new_project, new):  # type: ignore[no-untyped-def]
        answer = same_indexes(old_project, old, new_project, new)
        if answer:
            fresh = old_project.replacing(old, new, {}).all_indexes()
            assert fresh == old_project.all_indexes(), (old.path, new_project.modules[new.key])
        kept.append(answer)
        return answer

    monkeypatch.setattr(quickedit, "same_indexes", checked)
    for path in list(workspace.paths):
        facts = workspace.facts(path)
        if facts is None:
            continue
        text = Path(path).read_text(encoding="utf-8")
        workspace.update(path, text)
        for edited in _edits(text, ast.parse(text), sorted(facts.calls)):
            workspace.update(path, edited)
            # The names followed are those a fact pass over the same texts follows.
            named = {source.display for source in workspace._buffers.values()}
            _, followed = fact_pass(
                workspace.engine, workspace.sources, workspace._named | named, workspace.cache
            )
            assert workspace.followed is not None and workspace.followed.by_module == followed.by_module
        workspace.update(path, None)
    assert kept or not any(workspace.facts(path) for path in workspace.paths)
