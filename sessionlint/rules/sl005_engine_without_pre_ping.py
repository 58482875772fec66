"""SL005 engine-without-pre-ping."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import CallOf
from sessionlint.fixes.arguments import add_keyword_argument
from sessionlint.report.diagnostics import FixAvailability
from sessionlint.rulepass.sqlite import sqlite_guarded_calls
from sessionlint.rulepass.sqlite_engines import opens_sqlite
from sessionlint.rules._base import FileContext, Rule


class EngineWithoutPrePing(Rule):
    """
    ## What it does
    Flags engine constructor calls (`create_engine`, `create_async_engine`, SQLModel's
    `create_engine`) that do not set `pool_pre_ping`.

    ## Why is this bad?
    A pooled engine keeps connections open between requests. After a database restart, a
    failover or an idle timeout (a proxy or the server closing idle connections), the pool
    still hands those dead connections out, and the next request fails with
    `OperationalError: server closed the connection unexpectedly`. `pool_pre_ping=True`
    tests each connection on checkout and transparently replaces a dead one.

    ## Example
    ```python
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://app@db/app")
    ```

    ## Use instead
    ```python
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    ```

    ## Not flagged
    - an explicit `pool_pre_ping=` of any value (the user decided);
    - `**kwargs` in the call (the option may be in there);
    - a ready-made pool (`pool=QueuePool(creator, pre_ping=True)`): the pool's own options
      decide, and `create_engine` rejects `pool_pre_ping=` beside `pool=` with a `TypeError`;
    - a SQLite URL: a string or f-string starting with `sqlite`, directly or through a
      module-level constant, or a local name that the enclosing `if` proves holds one
      (`if url.startswith("sqlite"):`, a tuple of such prefixes,
      `make_url(url).get_backend_name() == "sqlite"`, `make_url(url).drivername.startswith(
      "sqlite")`, also as one operand of an `and`), not rebound under it; only the `if`
      branch counts;
    - an engine whose connections come from SQLite: `creator=` / `async_creator=` is a
      project function (or what calling one returns) whose returned values are `sqlite3` /
      `aiosqlite` connections (`sqlite3.connect(...)`, `aiosqlite.Connection(...)`, `await
      aiosqlite.connect(...)`), directly, through a local, a nested function it returns or
      further project functions; the pool opens every connection through it, whatever the
      URL says. A creator that may return anything else, or a parameter, is flagged;
    - a SQLite function's engine: its URL is a parameter of the function, never rebound,
      and the local name it is bound to is bound on the function's other paths only to
      engines built from SQLite URL literals (`db_url` or else `f"sqlite:///{db_file}"`).
      The function opens one SQLite database, and the parameter is the caller's spelling of
      it. A decision, not a proof (precision first): a function that defaults to SQLite and
      accepts a server's URL by the same parameter is not flagged either; its callers' URLs
      are not followed. A URL from anywhere else (`settings.DATABASE_URL` beside a test-only
      SQLite engine), or a sibling engine with a known non-SQLite URL, is flagged;
    - `poolclass=NullPool`, `StaticPool`, `SingletonThreadPool` or `AssertionPool` (no idle
      connections to go stale);
    - `engine_from_config` / `async_engine_from_config` (the options live in the mapping);
    - an engine bound to a local name and disposed after its last use: `engine.dispose()`
      (or `await engine.dispose()`, also under `if engine is not None:`) in a `finally`
      whose `try` holds every use of the engine, or later in the block that binds it with
      no `return` / `break` / `continue` / `yield` between; the engine is never handed on
      whole (returned, aliased, stored, captured by a nested function): its pool lives for
      one call, no connection sits idle in it long enough to go stale (an exception that
      skips a straight-line dispose leaves the engine unreachable). A `dispose()` a
      `return` or a condition can skip is flagged;
    - calls of the project's own functions that return an engine (`make_engine(url)`): they
      take their own arguments, and the constructor call inside them is checked instead;
    - where the process is short, so the pool never sits idle long enough to go stale
      (the contexts, see `sessionlint/project/contexts.py`):
      - migrations: Alembic `env.py` and migration scripts, and any module importing
        `alembic.context`, wherever it lives;
      - tests: test files (`test_*.py`, `*_test.py`, `conftest.py`, files under `tests/`)
        and pytest fixtures;
      - one-shot code: a script's `if __name__ == "__main__":` block and the functions
        only it reaches, modules under a `scripts/` folder that no application module
        imports, `click` / `typer` commands and the functions only they reach.

    A module that is also imported by the application (a `scripts/` module the service
    imports, a `main.py` whose `__main__` block starts the server) is checked as usual.

    ## Fix safety
    Safe: the fix appends the single keyword argument `pool_pre_ping=True` and changes
    nothing else. Pre-ping costs one round trip per checkout, which is what it is for.
    """

    code = "SL005"
    name = "engine-without-pre-ping"
    message = (
        "Engine is created without `pool_pre_ping=True`; after a database restart or an idle "
        "timeout the pool hands out dead connections"
    )
    fix_title = "Add `pool_pre_ping=True`"
    fix_availability = FixAvailability.ALWAYS

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        # The local name an engine call is bound to (`engine = create_engine(url)`).
        self._bound_names: dict[cst.Call, str] = {}
        # Engine calls under an `if` that proves their URL is SQLite.
        self._sqlite_calls: set[cst.Call] = set()

    def visit_If(self, node: cst.If) -> None:
        self._sqlite_calls |= sqlite_guarded_calls(node, self.semantics)

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        if isinstance(node.value, cst.Call) and isinstance(target, cst.Name):
            self._bound_names[node.value] = target.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and isinstance(node.target, cst.Name):
            self._bound_names[node.value] = node.target.value

    def visit_Call(self, node: cst.Call) -> None:
        semantics = self.semantics
        if semantics.in_test_code or semantics.in_migration or semantics.in_one_shot_code:
            return
        call = semantics.value_of(node)
        assert isinstance(call, CallOf)
        # The constructor itself: a project function returning an engine takes other arguments.
        constructor = semantics.qualified_name(node.func)
        if constructor is None or not semantics.is_engine_constructor_call(node):
            return
        if constructor in vocab.CONFIG_ENGINE_CONSTRUCTORS or semantics.project.opts_out_of_pre_ping(
            call, semantics.module.root
        ):
            return
        if node in self._sqlite_calls:
            return  # a SQLite URL: no server connection to go stale
        function, bound = semantics.function, self._bound_names.get(node)
        if opens_sqlite(semantics.project, call, semantics.module, function, bound):
            return  # its connections open SQLite, or its function opens one SQLite database
        if function is not None and bound in function.facts.disposed:
            return  # its pool lives for one call: nothing sits idle to go stale
        edit = add_keyword_argument(self.context, node, "pool_pre_ping", "True")
        # The URL decides (SQLite needs no pre-ping): where a constant it names is bound.
        url = call.keyword("url") if call.has_keyword("url") else (call.args[0] if call.args else None)
        function = semantics.function
        related = semantics.evidence.of_value(url, semantics.module, function.facts if function else None)
        self.report(node, fix=self.make_fix([edit]), related=related)
