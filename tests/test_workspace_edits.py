"""Edits other files could see only through the whole-project indexes (`quickedit.visible_edit`):
answered from the buffer alone when those indexes come out equal, and always as a workspace
built from scratch over the same texts would answer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sessionlint.facts.facts import ModuleFacts
from sessionlint.settings.config import Settings
from sessionlint.workspace import Workspace
from tests.test_workspace import Calls, assert_as_rebuilt, rebuilt, session_package

DEPS = """\
from app.db import SessionLocal


def get_db():
    db = SessionLocal()
    return db
"""

API = """\
from fastapi import FastAPI

from app.deps import get_db

app = FastAPI()


def ping() -> int:
    return 1
"""

# Names a factory under a name of its own: a run that reads it follows that name.
REEXPORT = "from app.db import SessionLocal as make_session\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = session_package(tmp_path)
    (package / "deps.py").write_text(DEPS)
    (package / "api.py").write_text(API)
    (package / "reexport.py").write_text(REEXPORT)
    return tmp_path


def test_visible_edits_answer_alone_and_as_a_rebuilt_workspace(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, deps = str(project / "app" / "api.py"), str(project / "app" / "deps.py")
    workspace = Workspace([project], use_cache=False)
    assert [d.code for d in workspace.check([deps])[deps].diagnostics] == ["SL001"]
    workspace.update(api, API)  # opened in the editor
    calls = Calls(monkeypatch)
    text = API
    steps = [
        ("import json\n", True),  # a new import of no module of the project
        ("\n\ndef helper() -> int:\n    return 2\n", True),  # a new module-level function
        ('\nprint("ready")\n', True),  # a new module-level call of no project function
        # `get_db` is now called directly: it is no dependency by its name alone, and the
        # finding in deps.py goes (the called-functions index changed).
        ("\nget_db()\n", False),
        ("\nimport app.reexport as _reexport\n", False),  # a module only this import reaches
    ]
    for added, alone in steps:
        text += added
        calls.reset()
        answer = workspace.update(api, text)
        assert (calls.fact_passes == 0) == alone, added
        assert answer[api] == rebuilt(project, {api: text}).check([api])[api]
        assert_as_rebuilt(workspace, project, {api: text})
        if not alone and "get_db()" in added:
            assert answer[deps].diagnostics == []  # re-checked: the other file's finding went
    assert workspace.check([deps])[deps].diagnostics == []


@pytest.mark.parametrize(
    ("added", "alone"),
    [
        ("import json as _json", True),
        ("import json as ping", False),  # a name api.py spells: it may resolve to this one
        ("import alembic.context as _context", False),  # a migration module now
    ],
)
def test_what_a_visible_edit_may_change(project: Path, added: str, alone: bool) -> None:
    from sessionlint.quickedit import Reading, visible_edit

    deps = str(project / "app" / "deps.py")
    workspace = Workspace([project], use_cache=False)
    workspace.update(deps, DEPS)  # an open buffer
    before, old = workspace._sources[deps], workspace.facts(deps)
    assert isinstance(old, ModuleFacts)
    after = workspace._new_source(deps, deps, f"{DEPS}\n{added}\n")
    assert after is not None
    state = workspace.engine.analyze(after)
    others = list(workspace._sources.values())
    engine, project_facts = workspace.engine, workspace.project
    assert workspace.followed is not None
    reading = Reading({before.display}, workspace.followed, workspace.states)
    edit = visible_edit(engine, (before, after), old, state, reading, project_facts, others)
    assert (edit is not None) == alone


def test_an_update_takes_the_tree_its_caller_parsed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.facts.engine as engine_module

    api = str(project / "app" / "api.py")
    workspace = Workspace([project], use_cache=False)
    workspace.update(api, API)
    text = API + "\nimport json\n"
    expected = rebuilt(project, {api: text}).check([api])

    def no_parse(*args: object, **kwargs: object) -> ast.Module:
        raise AssertionError("parsed again")

    tree = ast.parse(text)
    monkeypatch.setattr(engine_module.ast, "parse", no_parse)
    assert workspace.update(api, text, tree=tree) == expected


def test_the_call_graph_is_built_once_for_both_indexes_on_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlint.project import contexts

    built: list[object] = []
    init = contexts._CallGraph.__init__

    def counted(self: contexts._CallGraph, *args: object) -> None:
        built.append(self)
        init(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(contexts._CallGraph, "__init__", counted)
    workspace = Workspace([project], use_cache=False)
    project_facts = workspace.engine.project(list(workspace.project.modules.values()))
    indexes = project_facts.all_indexes()
    assert {"one_shot", "once"} <= set(indexes)
    assert len(built) == 1


def test_whether_a_file_mentions_the_vocabulary_is_asked_once_per_engine() -> None:
    import re

    from sessionlint.facts.engine import Engine
    from sessionlint.read.sources import SourceFile

    class Counted:
        def __init__(self, pattern: re.Pattern[bytes]) -> None:
            self.pattern, self.searches = pattern, 0

        def search(self, data: bytes) -> re.Match[bytes] | None:
            self.searches += 1
            return self.pattern.search(data)

    source = SourceFile(None, "a.py", b"from sqlalchemy import create_engine\n")
    engine = Engine(Settings())
    assert engine.vocabulary_pattern is not None
    counted = Counted(engine.vocabulary_pattern)
    engine.vocabulary_pattern = counted  # type: ignore[assignment]
    assert engine.mentions_vocabulary(source) and engine.mentions_vocabulary(source)
    assert counted.searches == 1
    # Another engine (other settings: other names) reads the bytes again.
    other = Engine(Settings(session_factories=("app.make",)))
    assert not other.mentions_vocabulary(SourceFile(None, "b.py", b"import os\n"))
    assert other.mentions_vocabulary(source)
    assert source.vocabulary is not None and source.vocabulary[0] is other


def test_a_visible_edit_keeps_the_indexes_of_calls_it_did_not_change(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlint.project.index import ProjectFacts

    api = str(project / "app" / "api.py")
    workspace = Workspace([project], use_cache=False)
    workspace.update(api, API)  # opened in the editor
    workspace.project.all_indexes()
    built: list[str] = []
    collect = ProjectFacts._collect_called_functions

    def counted(self: ProjectFacts) -> frozenset[tuple[str, str]]:
        built.append("called")
        return collect(self)

    monkeypatch.setattr(ProjectFacts, "_collect_called_functions", counted)
    calls = Calls(monkeypatch)
    text = API + "\nimport json\n"
    workspace.update(api, text)
    assert (calls.fact_passes, built) == (0, [])  # the same calls: the index is kept
    assert_as_rebuilt(workspace, project, {api: text})
    calls.reset()
    workspace.update(api, text + "\nget_db()\n")
    assert calls.fact_passes == 1 and built  # another call: built again, and it changed
