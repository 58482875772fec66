"""An edit whose names other files spell (`import json` in an open buffer): answered from the
buffer alone unless a file that spells them could name them in the buffer's module
(`sessionlint.project.naming`), and always as a workspace built from scratch would answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlint.workspace import Workspace
from tests.test_workspace import Calls, assert_as_rebuilt, session_package
from tests.test_workspace_edits import DEPS

USES_JSON = "\n\ndef dump(value):\n    return json.dumps(value)\n"
# What makes the fact pass read a module in its first round (it names SQLAlchemy): a file it
# does not read has no facts, nothing resolves through it and no finding of it rests on them.
READ = "from sqlalchemy.orm import Session\n"


@pytest.mark.parametrize(
    ("files", "alone"),
    [
        # Spells `json`, imports nothing of app.deps.
        ({"other.py": "import json\nfrom app.db import SessionLocal\n" + USES_JSON}, True),
        # Imports a name from app.deps.
        ({"other.py": "import json\nfrom app.deps import get_db\n"}, False),
        # Imports the module from its package.
        ({"other.py": "from app import deps\n\nx = deps.json\n"}, False),
        # The package, then the module's name spelled after it.
        ({"other.py": "import app.db\n\nx = app.deps.json\n"}, False),
        # The package alone, the module's name never spelled: no way down to it.
        ({"other.py": "import json\nimport app.db\n\nx = app.db.SessionLocal\n"}, True),
        # A module holding app.deps under a name of its own: by import, by binding, by a
        # star import.
        (
            {
                "hub.py": "from app import deps as store\n",
                "other.py": "from app.hub import store\nx = store.json\n",
            },
            False,
        ),
        (
            {
                "hub.py": "from app import deps\nstore = deps\n",
                "other.py": "from app.hub import store\nx = store.json\n",
            },
            False,
        ),
        ({"hub.py": "from app.deps import *\n", "other.py": "from app.hub import json\n"}, False),
        # A star import of the package above: what it holds may be the module.
        ({"hub.py": "from app import *\n", "other.py": "from app.hub import deps\nx = deps.json\n"}, False),
        # A function returning the module: the resolver looks into no call's result.
        (
            {
                "hub.py": "from app import deps\n\n\ndef store():\n    return deps\n",
                "other.py": "from app.hub import store\nx = store().json\n",
            },
            True,
        ),
        # A holder nobody imports from with the name spelled.
        (
            {
                "hub.py": "from app import deps as store\n",
                "other.py": "import json\nfrom app.db import SessionLocal\n",
            },
            True,
        ),
    ],
)
def test_an_import_others_spell_is_answered_alone_unless_they_could_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], alone: bool
) -> None:
    package = session_package(tmp_path)
    (package / "deps.py").write_text(DEPS)
    for name, text in files.items():
        (package / name).write_text(READ + text)
    deps = str(package / "deps.py")
    workspace = Workspace([tmp_path], use_cache=False)
    workspace.update(deps, DEPS)  # opened in the editor
    calls = Calls(monkeypatch)
    new = DEPS + "import json\n"
    workspace.update(deps, new)
    assert (calls.fact_passes == 0) == alone
    assert_as_rebuilt(workspace, tmp_path, {deps: new})


def test_an_import_of_a_name_the_module_already_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`json.dumps` typed first, its import added after: the facts that name it change with
    the import (they are compared), nothing else in the module reads differently."""
    package = session_package(tmp_path)
    (package / "deps.py").write_text(DEPS)
    (package / "other.py").write_text("import json\nfrom app.db import SessionLocal\n" + USES_JSON)
    deps = str(package / "deps.py")
    workspace = Workspace([tmp_path], use_cache=False)
    typed = DEPS + USES_JSON
    workspace.update(deps, typed)
    calls = Calls(monkeypatch)
    new = "import json\n" + typed
    workspace.update(deps, new)
    assert calls.fact_passes == 0
    assert_as_rebuilt(workspace, tmp_path, {deps: new})
    # A module-level name derived from a changed one reads the same and means another thing.
    aliased = new + "\nSession = get_db\n"
    workspace.update(deps, aliased)
    workspace.update(deps, aliased.replace("def get_db():", "def get_db_():").replace("db = ", "db_ = "))
    assert_as_rebuilt(
        workspace,
        tmp_path,
        {deps: aliased.replace("def get_db():", "def get_db_():").replace("db = ", "db_ = ")},
    )


WORK = "\n\ndef work():\n    db = {factory}()\n    return db.query(1).all()\n"


@pytest.mark.parametrize(
    "files",
    [
        {"other.py": "from app.deps import make_db\n" + WORK.format(factory="make_db")},
        {
            "hub.py": "from app import deps as store\n",
            "other.py": "from app.hub import store\n" + WORK.format(factory="store.make_db"),
        },
        {
            "hub.py": "from app.deps import *\n",
            "other.py": "from app.hub import make_db\n" + WORK.format(factory="make_db"),
        },
    ],
    ids=["imported", "through-an-alias", "through-a-star-import"],
)
def test_a_new_name_another_file_resolves_changes_its_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> None:
    """`make_db` names nothing until the buffer binds it to a session factory: then `work` in
    another file makes a session it never closes (SL002), which only a full update sees."""
    package = session_package(tmp_path)
    (package / "deps.py").write_text(DEPS)
    for name, text in files.items():
        (package / name).write_text(READ + text)
    deps, other = str(package / "deps.py"), str(package / "other.py")
    workspace = Workspace([tmp_path], use_cache=False)
    workspace.update(deps, DEPS)
    assert [d.code for d in workspace.check([other])[other].diagnostics] == []
    calls = Calls(monkeypatch)
    new = DEPS + "make_db = SessionLocal\n"
    answer = workspace.update(deps, new)
    assert calls.fact_passes == 1
    assert [d.code for d in answer[other].diagnostics] == ["SL002"]
    assert_as_rebuilt(workspace, tmp_path, {deps: new})


def test_a_function_another_file_calls_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ping` leads to no session (no name the fact pass follows), but another file calls it:
    the index of called functions changes, which only a full update sees."""
    package = session_package(tmp_path)
    ping = "\n\ndef ping() -> int:\n    return 1\n"
    (package / "deps.py").write_text(DEPS + ping)
    (package / "other.py").write_text(
        READ + "from app.deps import ping\n\n\ndef pong():\n    return ping()\n"
    )
    deps = str(package / "deps.py")
    workspace = Workspace([tmp_path], use_cache=False)
    workspace.update(deps, DEPS + ping)
    calls = Calls(monkeypatch)
    workspace.update(deps, DEPS)
    assert calls.fact_passes == 1
    assert_as_rebuilt(workspace, tmp_path, {deps: DEPS})


# `maker` is no session factory before the edit (`wrap(...)` is unknown) and the factory
# after it: `work()` in another file then makes a session it never closes (SL002).
BEFORE = DEPS + "\nmaker = wrap(SessionLocal)\n"
AFTER = DEPS + "\nmaker = SessionLocal\n"


def _edit_sees_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other: Path, before: str, after: str
) -> None:
    deps = str(tmp_path / "app" / "deps.py")
    (tmp_path / "app" / "deps.py").write_text(before)
    workspace = Workspace([tmp_path], use_cache=False)
    workspace.update(deps, before)  # opened in the editor
    assert [d.code for d in workspace.check([other])[str(other)].diagnostics] == []
    calls = Calls(monkeypatch)
    answer = workspace.update(deps, after)
    assert calls.fact_passes == 1
    assert [d.code for d in answer[str(other)].diagnostics] == ["SL002"]
    assert_as_rebuilt(workspace, tmp_path, {deps: after})


@pytest.mark.parametrize(
    ("hub", "call", "imported"),
    [
        # A module imported whole, whose global holds the buffer's module.
        ("from app import deps as store\n", "hub.store.maker", "from app import hub\n"),
        ("from app import deps\n", "hub.deps.maker", "from app import hub\n"),
        # The package imported, then a submodule spelled, which star-imports the module.
        ("from app.deps import *\n", "app.hub.maker", "import app.hub\n"),
        ("from app import deps as store\n", "app.hub.store.maker", "import app.hub\n"),
    ],
)
def test_a_holder_reached_from_a_module_imported_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: str, call: str, imported: str
) -> None:
    package = session_package(tmp_path)
    (package / "hub.py").write_text(READ + hub)
    (package / "other.py").write_text(READ + imported + WORK.format(factory=call))
    _edit_sees_another_file(tmp_path, monkeypatch, package / "other.py", BEFORE, AFTER)


def test_a_holder_of_a_package_with_a_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`app.hub.pkg.deps` is `app.deps`: the tail after a global holding `app` counts."""
    package = session_package(tmp_path)
    (package / "hub.py").write_text(READ + "import app as pkg\n")
    (package / "mid.py").write_text(READ + "from app.hub.pkg import deps as d\n")
    (package / "other.py").write_text(READ + "from app.mid import d\n" + WORK.format(factory="d.maker"))
    _edit_sees_another_file(tmp_path, monkeypatch, package / "other.py", BEFORE, AFTER)


@pytest.mark.parametrize("submodule", [True, False])
def test_a_star_import_of_a_name_the_package_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, submodule: bool
) -> None:
    """`from app.tools import *` where `app/__init__` binds `tools` to the module (the resolver
    looks in the package when the submodule lacks the name)."""
    package = session_package(tmp_path)
    (package / "__init__.py").write_text(READ + "from app import deps as tools\n")
    if submodule:
        (package / "tools.py").write_text(READ + "x = 1\n")
    (package / "hub.py").write_text(READ + "from app.tools import *\n")
    (package / "other.py").write_text(READ + "from app.hub import maker\n" + WORK.format(factory="maker"))
    _edit_sees_another_file(tmp_path, monkeypatch, package / "other.py", BEFORE, AFTER)


@pytest.mark.parametrize("layout", ["stub", "package-and-module"])
def test_a_file_another_file_of_its_module_keeps_out_of_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """A stub beside its module, a package beside a module of its name: one of the two is the
    project's module, and the other is checked all the same."""
    package = session_package(tmp_path)
    (package / "other.py").write_text(READ + "x = 1\n")
    if layout == "stub":
        other = package / "other.pyi"
    else:
        (package / "other").mkdir()
        other = package / "other" / "__init__.py"
    other.write_text(READ + "from app.deps import maker\n" + WORK.format(factory="maker"))
    _edit_sees_another_file(tmp_path, monkeypatch, other, BEFORE, AFTER)


SELF_CLASS = """\
from app.db import SessionLocal


class Config:
    maker = wrap(SessionLocal)


def get_db():
    SessionLocal.configure(expire_on_commit=False)
    db = Config.maker()
    return db
"""
SELF_HOLDER = """\
from app.db import SessionLocal
from app.hub import store

maker = wrap(SessionLocal)


def get_db():
    SessionLocal.configure(expire_on_commit=False)
    db = store.maker()
    return db
"""


@pytest.mark.parametrize("deps", [SELF_CLASS, SELF_HOLDER], ids=["class-attribute", "through-a-holder"])
def test_the_modules_own_function_reads_the_changed_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deps: str
) -> None:
    """`get_db`'s facts read the same before and after; what they name changed (`Config.maker`,
    or `store.maker` with `store` this very module): another file calling it sees it."""
    package = session_package(tmp_path)
    (package / "hub.py").write_text(READ + "from app import deps as store\n")
    (package / "other.py").write_text(READ + "from app.deps import get_db\n" + WORK.format(factory="get_db"))
    after = deps.replace("maker = wrap(SessionLocal)", "maker = SessionLocal")
    _edit_sees_another_file(tmp_path, monkeypatch, package / "other.py", deps, after)
