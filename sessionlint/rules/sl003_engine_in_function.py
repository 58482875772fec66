"""SL003 engine-in-function."""

from __future__ import annotations

import libcst as cst

from sessionlint.rules._base import Rule
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.project import Function
from sessionlint.semantics.values import Kind

# Decorators of functions that run once per process, or cache their result.
_RUNS_ONCE_DECORATORS = vocab.CACHE_DECORATORS | vocab.PYTEST_FIXTURES
_COMMAND_LINE_PACKAGES = ("click.", "typer.")
_RUNS_ONCE_NAMES = frozenset({"__init__", "main"})


class EngineInFunction(Rule):
    """
    ## What it does
    Flags an engine constructor (`create_engine`, `create_async_engine`, ...) called in code
    that runs per request or per call: a FastAPI dependency, an endpoint, or a plain
    function that builds an engine, uses it and throws it away.

    ## Why is this bad?
    An engine is a connection pool. Building one per request opens a fresh pool (and fresh
    database connections, with their TLS and authentication handshakes) every time; the old
    pools linger until garbage collection, so under load the database runs out of
    connection slots (`FATAL: too many connections`) while the service slows to a crawl.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    app = FastAPI()

    def get_db():
        engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
        with Session(engine) as session:
            yield session

    @app.get("/items")
    def items(db: Session = Depends(get_db)):
        return []
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    app = FastAPI()
    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)

    def get_db():
        with Session(engine) as session:
            yield session

    @app.get("/items")
    def items(db: Session = Depends(get_db)):
        return []
    ```

    ## Not flagged
    - module level and class bodies (they run once);
    - functions that return the engine (an engine factory: its caller decides how often);
    - `functools.cache` / `functools.lru_cache` functions;
    - lazy singletons: assignment to a `global`, or to an attribute (`self._engine`,
      `app.state.engine`), typically under `if _engine is None:`;
    - engines stored on `self` / `app.state` / in a container;
    - class `__init__`, lifespan functions and `on_event` startup handlers, app factories
      (functions that build the `FastAPI` app), `main`, `if __name__ == "__main__":`
      blocks, and `click` / `typer` commands;
    - Alembic `env.py` and migration scripts, pytest fixtures and test files.

    Dependencies and endpoints are flagged even when they return the engine: FastAPI calls
    them on every request. Nested functions are exempt when an enclosing function is.
    """

    code = "SL003"
    name = "engine-in-function"
    message = (
        "Engine is created on every call of {role} `{function}`: each call opens a new connection "
        "pool; create it once at module level or in the lifespan"
    )

    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(context)
        self._kept_calls: set[cst.Call] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and any(self._keeps(target.target) for target in node.targets):
            self._kept_calls.add(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and self._keeps(node.target):
            self._kept_calls.add(node.value)

    def _keeps(self, target: cst.BaseExpression) -> bool:
        """Stored beyond the call: on an object, in a container, or in a global."""
        if isinstance(target, (cst.Attribute, cst.Subscript)):
            return True
        function = self.semantics.function
        return (
            isinstance(target, cst.Name)
            and function is not None
            and target.value in function.facts.declared_globals
        )

    def visit_Call(self, node: cst.Call) -> None:
        semantics = self.semantics
        if semantics.at_module_level or semantics.is_test_file or semantics.is_migration_file:
            return
        if not semantics.is_engine_constructor_call(node):
            return
        functions = [scope.function for scope in semantics.function_scopes]
        if any(function is None or self._runs_once(function) for function in functions):
            return
        innermost = functions[-1]
        assert innermost is not None
        role = self._per_request_role(innermost)
        if role is None and (node in self._kept_calls or self._returns_engine(innermost)):
            return
        self.report(node, role=role or "function", function=innermost.facts.qualname)

    def _runs_once(self, function: Function) -> bool:
        project = self.semantics.project
        if function.facts.name in _RUNS_ONCE_NAMES:
            return True
        decorators = project.decorator_names(function)
        if decorators & _RUNS_ONCE_DECORATORS or any(
            name.startswith(_COMMAND_LINE_PACKAGES) for name in decorators
        ):
            return True
        return project.is_startup_hook(function) or project.is_app_factory(function)

    def _per_request_role(self, function: Function) -> str | None:
        project = self.semantics.project
        if project.is_endpoint(function):
            return "endpoint"
        if project.is_dependency(function):
            return "dependency"
        return None

    def _returns_engine(self, function: Function) -> bool:
        project = self.semantics.project
        return any(
            project.value_kind(value, function.module, function.facts) == Kind.ENGINE
            for value in function.facts.returns
        )
