"""Name resolution over pathological projects: the number of resolution steps grows with the
number of names, never with the number of paths through re-exports (issue 16); and module
identity by source root (issue 13)."""

from __future__ import annotations

from pathlib import Path

from sessionlint.facts.engine import Engine
from sessionlint.project.index import External, Function, ProjectFacts
from sessionlint.read.sources import SourceFile
from sessionlint.settings.codes import RULE_NAMES
from sessionlint.settings.config import Settings
from sessionlint.triage.triage import Triage

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)


def get_db():
    return SessionLocal()
"""


def build(root: Path, files: dict[str, str], **settings: object) -> tuple[ProjectFacts, dict[str, object]]:
    """Every file's facts and the project over them, as a run builds it (from `root`)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    engine = Engine(Settings(root=root, **settings), roots=[root])  # type: ignore[arg-type]
    modules = {}
    for path in sorted(root.rglob("*.py")):
        state = engine.analyze(SourceFile(path, path.relative_to(root).as_posix(), path.read_bytes()))
        assert state.facts is not None, state.error
        modules[state.source.display] = state.facts
    return engine.project(modules.values()), modules


def ask_everything(project: ProjectFacts) -> int:
    """What a run asks of the project: every name of every module resolved, the whole-project
    indexes, the triage of every module. The number of names asked about is returned."""
    names = 0
    for module in project.modules.values():
        asked = {*module.imports.values(), *module.referenced, *module.calls}
        names += len(asked)
        for name in asked:
            project.resolve(name, module.root)
    project.build_indexes()
    triage = Triage(project)
    for module in project.modules.values():
        triage.candidate_codes(module, RULE_NAMES)
    return names


def function_named(project: ProjectFacts, qualname: str, root: str) -> str | None:
    target = project.resolve(qualname, root)
    return f"{target.module.module}.{target.facts.qualname}" if isinstance(target, Function) else None


def test_a_50_deep_reexport_chain_costs_one_step_per_link(tmp_path: Path) -> None:
    files = {"chain/__init__.py": "", "chain/m0.py": DB}
    for index in range(1, 51):
        files[f"chain/m{index}.py"] = f"from chain.m{index - 1} import SessionLocal, get_db\n"
    files["main.py"] = "from chain.m50 import get_db\n\n\ndef job():\n    return get_db()\n"
    project, modules = build(tmp_path, files)
    main = modules["main.py"]
    assert function_named(project, "chain.m50.get_db", main.root) == "chain.m0.get_db"
    names = ask_everything(project)
    # Each (root, name) pair is resolved once: the chain's 2 x 50 re-exports, the names asked.
    assert project.resolver.steps <= 2 * names + 2 * 50, (project.resolver.steps, names)
    assert project.is_called_directly(project.resolve("chain.m0.get_db", main.root))  # type: ignore[arg-type]


def test_an_import_cycle_names_nothing_and_ends(tmp_path: Path) -> None:
    files = {
        "loop/__init__.py": "",
        "loop/a.py": "from loop.b import get_db, SessionLocal\n",
        "loop/b.py": "from loop.c import get_db, SessionLocal\n",
        "loop/c.py": "from loop.a import get_db, SessionLocal\n",
        "main.py": "from loop.a import get_db\n\n\ndef job():\n    return get_db()\n",
    }
    project, modules = build(tmp_path, files)
    assert project.resolve("loop.a.get_db", modules["main.py"].root) is None
    names = ask_everything(project)
    assert project.resolver.steps <= 2 * names, (project.resolver.steps, names)


def test_a_package_rebinding_its_submodule_in_a_loop_stays_linear(tmp_path: Path) -> None:
    # `pkg.mod` is both a submodule and, through `pkg/__init__.py`, the name it re-exports:
    # each miss tries the package's binding, which leads back to the submodule.
    files = {
        "pkg/__init__.py": "from .mod import mod\n",
        "pkg/mod.py": "from pkg import mod\nfrom sqlalchemy.orm import sessionmaker\n",
    }
    for index in range(20):
        files[f"pkg/user{index}.py"] = (
            f"from pkg.mod import sessionmaker\nfrom pkg import mod\n\n\ndef f{index}():\n"
            f"    return mod.missing{index}(), sessionmaker()\n"
        )
    project, _ = build(tmp_path, files)
    names = ask_everything(project)
    # Every failing name walks the rebinding once per dotted part (bounded), never per path.
    assert project.resolver.steps <= 40 * names, (project.resolver.steps, names)


def test_star_import_fans_are_followed_once_per_name(tmp_path: Path) -> None:
    width, levels = 6, 4
    files = {"fan/__init__.py": "".join(f"from fan.l1_{i} import *\n" for i in range(width))}
    for level in range(1, levels):
        for i in range(width):
            files[f"fan/l{level}_{i}.py"] = "".join(
                f"from fan.l{level + 1}_{j} import *\n" for j in range(width)
            )
    for i in range(width):
        files[f"fan/l{levels}_{i}.py"] = "" if i else DB
    files["main.py"] = "import fan\n\n\ndef job():\n    return fan.get_db(), fan.nothing_here()\n"
    project, modules = build(tmp_path, files)
    root = modules["main.py"].root
    assert function_named(project, "fan.get_db", root) == f"fan.l{levels}_0.get_db"
    assert project.resolve("fan.nothing_here", root) is None
    names = ask_everything(project)
    # Without the memo a name missing everywhere is looked for along width ** levels paths.
    modules_count = width * levels + 2
    assert project.resolver.steps <= 2 * names + 4 * modules_count, (project.resolver.steps, names)


def test_a_project_package_named_like_the_library_does_not_shadow_it(tmp_path: Path) -> None:
    # The layout of the performance issue: a project package `.../sqlalchemy/` whose `sql.py`
    # re-exports from the library's `sqlalchemy.sql`, imported from 20 modules.
    files = {
        "pyproject.toml": "",
        "kit/__init__.py": "",
        "kit/extensions/__init__.py": "",
        "kit/extensions/sqlalchemy/__init__.py": "from .sql import *\n",
        "kit/extensions/sqlalchemy/sql.py": "from sqlalchemy.sql import select, func, text\n",
        "app/__init__.py": "",
    }
    for index in range(20):
        files[f"app/m{index}.py"] = (
            "from sqlalchemy.sql import select\nfrom sqlalchemy.pool import NullPool\n"
            f"from kit.extensions.sqlalchemy import func\n\n\ndef q{index}():\n"
            "    return select(func.count()), NullPool\n"
        )
    project, modules = build(tmp_path, files)
    root = modules["app/m0.py"].root
    assert project.resolve("sqlalchemy.sql.select", root) == External("sqlalchemy.sql.select")
    assert project.resolve("sqlalchemy.pool.NullPool", root) == External("sqlalchemy.pool.NullPool")
    assert project.resolve("kit.extensions.sqlalchemy.sql.select", root) == External("sqlalchemy.sql.select")
    names = ask_everything(project)
    assert project.resolver.steps <= 2 * names, (project.resolver.steps, names)


def test_a_namespace_folder_holding_a_library_named_package_ends_too(tmp_path: Path) -> None:
    # Without `kit/__init__.py` the package's own root is `kit/extensions/`, where its `sql.py`
    # is `sqlalchemy.sql` and imports itself: a cycle, which names nothing and ends at once.
    files = {
        "pyproject.toml": "",
        "kit/extensions/sqlalchemy/__init__.py": "",
        "kit/extensions/sqlalchemy/sql.py": "from sqlalchemy.sql import select\n",
        "app/__init__.py": "",
        "app/queries.py": "from kit.extensions.sqlalchemy.sql import select\n\n\ndef q():\n    return select()\n",
    }
    project, modules = build(tmp_path, files)
    sql = modules["kit/extensions/sqlalchemy/sql.py"]
    assert sql.module == "sqlalchemy.sql"
    assert project.resolve("sqlalchemy.sql.select", sql.root) is None
    # From the project's root, the library's name is the library's.
    root = modules["app/queries.py"].root
    assert project.resolve("sqlalchemy.sql.select", root) == External("sqlalchemy.sql.select")
    names = ask_everything(project)
    assert project.resolver.steps <= 2 * names, (project.resolver.steps, names)


def test_same_dotted_name_under_two_roots_are_two_modules(tmp_path: Path) -> None:
    files = {
        "billing/app/__init__.py": "",
        "billing/app/db.py": DB,
        "billing/app/jobs.py": "from app.db import get_db\n\n\ndef job():\n    return get_db()\n",
        "catalog/app/__init__.py": "",
        "catalog/app/db.py": DB,
    }
    project, modules = build(tmp_path, files)
    billing, catalog = modules["billing/app/db.py"], modules["catalog/app/db.py"]
    assert (billing.module, catalog.module) == ("app.db", "app.db")
    assert billing.key != catalog.key
    assert billing.root == str(tmp_path / "billing")
    jobs = modules["billing/app/jobs.py"]
    target = project.resolve("app.db.get_db", jobs.root)
    assert isinstance(target, Function) and target.module is billing
    catalog_get_db = project.function_in(catalog, "get_db")
    billing_get_db = project.function_in(billing, "get_db")
    assert catalog_get_db is not None and billing_get_db is not None
    assert project.is_called_directly(billing_get_db)
    assert not project.is_called_directly(catalog_get_db)
    assert project.callers_known(catalog_get_db) and project.callers_known(billing_get_db)


def test_an_ambiguous_call_makes_every_candidate_s_callers_unknown(tmp_path: Path) -> None:
    files = {
        "billing/app/__init__.py": "",
        "billing/app/db.py": DB,
        "billing/app/deps.py": "from app.db import get_db\n",
        "catalog/app/__init__.py": "",
        "catalog/app/db.py": DB,
        "catalog/app/deps.py": "from app.db import get_db\n",
        "catalog/app/other.py": "def helper():\n    return 1\n",
        # Outside both services: `app.deps` is either one's (through a re-export).
        "scripts/nightly.py": "from app.deps import get_db\n\n\ndef main():\n    return get_db()\n",
    }
    project, modules = build(tmp_path, files)
    script = modules["scripts/nightly.py"]
    assert project.resolve("app.deps.get_db", script.root) is None
    assert project.module_named("app.db", script.root) is None
    assert {
        str(target.module.path) for target in project.possible_targets("app.deps.get_db", script.root)
    } == {
        "billing/app/db.py",
        "catalog/app/db.py",
    }
    for path in ("billing/app/db.py", "catalog/app/db.py"):
        function = project.function_in(modules[path], "get_db")
        assert function is not None
        assert not project.callers_known(function)
        assert project.is_called_directly(function)  # "perhaps": never read as "no caller"
        assert not project.is_session_dependency(function)  # by name alone: unknown, no finding
    helper = project.function_in(modules["catalog/app/other.py"], "helper")
    assert helper is not None and project.callers_known(helper)


def test_configured_src_roots_name_modules_below_them(tmp_path: Path) -> None:
    # Namespace packages (no `__init__.py`): only a root says that `lib/db.py` is `lib.db`.
    files = {
        "services/billing/lib/db.py": DB,
        "services/billing/jobs/nightly.py": "from lib.db import get_db\n\n\ndef main():\n    return get_db()\n",
    }
    project, modules = build(tmp_path, files, src=("services/*",))
    nightly = modules["services/billing/jobs/nightly.py"]
    target = project.resolve("lib.db.get_db", nightly.root)
    assert isinstance(target, Function) and target.module is modules["services/billing/lib/db.py"]
    unconfigured, modules = build(tmp_path / "again", files)
    nightly = modules["services/billing/jobs/nightly.py"]
    assert not isinstance(unconfigured.resolve("lib.db.get_db", nightly.root), Function)


def test_the_triage_follows_an_alias_chain_to_its_end(tmp_path: Path) -> None:
    # `get_db = alias11`, `alias11 = alias10`, ... down to a function creating a session: a
    # chain cut short (and memoized) would hide the trigger from the fact pass and triage.
    chain = "".join(f"alias{index} = alias{index - 1}\n" for index in range(1, 13))
    files = {"app/__init__.py": "", "app/db.py": DB + "\n\nalias0 = get_db\n" + chain + "get_db2 = alias12\n"}
    project, modules = build(tmp_path, files)
    db = modules["app/db.py"]
    triage = Triage(project)
    assert triage.is_trigger("app.db.get_db2", db.root)
    assert triage.is_trigger("app.db.alias6", db.root)  # memoized on the way: complete too


def test_a_memoized_resolution_still_records_the_modules_it_read(tmp_path: Path) -> None:
    # The cache re-checks a file when a module its findings read changes: a name resolved
    # for one file and reused for the next must count as read by both.
    files = {
        "app/__init__.py": "",
        "app/db.py": DB,
        "app/deps.py": "from app.db import get_db\n",
        "app/main.py": "from app.deps import get_db\n",
    }
    project, modules = build(tmp_path, files)
    root = modules["app/main.py"].root
    recorded = []
    for _ in range(2):
        project.record_answers()
        assert isinstance(project.resolve("app.deps.get_db", root), Function)
        recorded.append(project.recorded_lookups())
    assert recorded[0] == recorded[1]
    assert (root, "app.db") in recorded[1] and recorded[1][(root, "app.db")] == modules["app/db.py"].digest
    assert project.lookups_still_hold(recorded[1])
