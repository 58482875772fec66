"""SL003 engine-in-function."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import CallOf, Kind, Local, Ref
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Related
from sessionlint.rulepass.evidence import describe
from sessionlint.rulepass.walk import OwnScopeVisitor, visit
from sessionlint.rules._base import Rule

# Decorators of functions that run once per process, or cache their result.
_RUNS_ONCE_DECORATORS = vocab.CACHE_DECORATORS | vocab.PYTEST_FIXTURES
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
    - functions that return the engine (an engine factory: its caller decides how often,
      and its call is checked there), also through a local bound to an engine in one
      branch and to something else in another (`engine = create_async_engine(...)` or
      `engine = make_proxy(...)`, then `return engine`); an engine built beside the
      returned one (a migration engine) is built exactly as often;
    - an engine bound to a local name and disposed after its last use: `engine.dispose()`
      (or `await engine.dispose()`, also under `if engine is not None:`) in a `finally`
      whose `try` holds every use of the engine, or later in the block that binds it with
      no `return` / `break` / `continue` / `yield` between (an exception that skips it
      leaves the engine unreachable, its pool gone with the traceback); the engine is
      never handed on whole (returned, aliased, stored, captured by a nested function).
      Its pool never outlives the call: a probe of a database address, a one-off check.
      A `dispose()` a `return` or a condition can skip, or a use after the dispose (a
      disposed engine opens a new pool when used again), is flagged; so are dependencies and endpoints that dispose their engine: every request
      still pays for a new pool and new connections;
    - `functools.cache` / `functools.lru_cache` functions;
    - lazy singletons: assignment to a `global`, or to an attribute (`self._engine`,
      `app.state.engine`), typically under `if _engine is None:`;
    - engines stored on `self` / `app.state` / in a container or a global, also in two
      steps (`engine = create_engine(url)`, then `ENGINES[name] = engine`), or bound into a
      session factory or `scoped_session` that is stored (`app.state.sessionmaker =
      sessionmaker(bind=engine)`);
    - engines returned inside a tuple, dict or object (`return engine, factory`,
      `return cls(create_engine(url))`): the caller keeps them. Returning only something
      made from the engine (`return engine.connect()`) is flagged;
    - calls of a cached getter (a `functools.cache` / `lru_cache` function, or one that
      returns a `global` it fills lazily): they build nothing;
    - code that runs once per process: class `__init__`, lifespan functions and `on_event`
      startup handlers, app factories (functions that build the `FastAPI` app), `main`,
      `click` / `typer` commands, and the functions called only from those, from module
      bodies, or from one another (followed across modules);
    - one-shot code: a script's `if __name__ == "__main__":` block and the functions only
      it reaches, modules under a `scripts/` folder that no application module imports;
    - migrations (Alembic `env.py` and migration scripts, and any module importing
      `alembic.context`, wherever it lives), pytest fixtures and test files.

    A function also called per request (from an endpoint or a dependency, in any module)
    does not run once, whatever else calls it.

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
        self._escapes_found: dict[cst.CSTNode, _Escapes] = {}
        # The local name an engine call is bound to (`engine = create_engine(url)`).
        self._bound_names: dict[cst.Call, str] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and any(self._keeps(target.target) for target in node.targets):
            self._kept_calls.add(node.value)
        if isinstance(node.value, cst.Call) and len(node.targets) == 1:
            self._note_binding(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and self._keeps(node.target):
            self._kept_calls.add(node.value)
        if isinstance(node.value, cst.Call):
            self._note_binding(node.target, node.value)

    def _note_binding(self, target: cst.BaseExpression, call: cst.Call) -> None:
        if isinstance(target, cst.Name):
            self._bound_names[call] = target.value

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
        if semantics.at_module_level or semantics.in_test_code or semantics.in_migration:
            return
        if semantics.in_one_shot_code:
            return
        if not semantics.is_engine_constructor_call(node) or self._calls_cached_getter(node):
            return
        functions = [scope.function for scope in semantics.function_scopes]
        if any(function is None or self._runs_once(function) for function in functions):
            return
        innermost = functions[-1]
        assert innermost is not None
        role = self._per_request_role(innermost)
        if role is None and (
            node in self._kept_calls
            or self._returns_engine(innermost)
            or self._escapes(node)
            or self._bound_names.get(node) in innermost.facts.disposed
        ):
            return
        related = [*semantics.evidence_of(node), *self._role_evidence(innermost, role)]
        self.report(node, related=related, role=role or "function", function=innermost.facts.qualname)

    def _role_evidence(self, function: Function, role: str | None) -> list[Related | None]:
        """Why the function runs per request: its route decorator, or the `Depends` naming it."""
        evidence = self.semantics.evidence
        if role == "endpoint":
            route = next(
                (
                    d
                    for d in function.facts.decorators
                    if self.semantics.project.is_route_decorator(d, root=function.module.root)
                ),
                None,
            )
            shown = f" (`@{_route_text(route)}`)" if isinstance(route, CallOf) else ""
            message = f"`{function.facts.name}` is an endpoint{shown}: it runs on every request"
            return [evidence.defined(function, message)]
        if role == "dependency":
            return [*evidence.dependency_use(function)]
        return []

    def _runs_once(self, function: Function) -> bool:
        project = self.semantics.project
        if function.facts.name in _RUNS_ONCE_NAMES:
            return True
        if project.decorator_names(function) & _RUNS_ONCE_DECORATORS:
            return True
        return project.runs_once(function)

    def _per_request_role(self, function: Function) -> str | None:
        project = self.semantics.project
        if project.is_endpoint(function):
            return "endpoint"
        if project.is_dependency(function):
            return "dependency"
        return None

    def _calls_cached_getter(self, call: cst.Call) -> bool:
        """A call of a project function that hands out one engine kept across calls: a
        `functools.cache` / `lru_cache` function, or one returning a `global` it fills
        lazily (a module-level memo: `_engines[url]` is not known to be an engine at all)."""
        semantics = self.semantics
        value = semantics.value_of(call)
        getter = (
            semantics.project.function_of(value.func, semantics.module) if isinstance(value, CallOf) else None
        )
        if getter is None:
            return False
        if semantics.project.decorator_names(getter) & vocab.CACHE_DECORATORS:
            return True
        facts = getter.facts
        return any(isinstance(v, Local) and v.name in facts.declared_globals for v in facts.returns)

    def _escapes(self, call: cst.Call) -> bool:
        """The engine outlives the call: returned or yielded inside a tuple, dict or object
        (`return engine, factory`, `return cls(create_engine(url))`), or stored on an
        attribute, in a container or a global, in two steps (`engines[key] = engine`), also
        bound into a session factory or `scoped_session` that is (`self.factory =
        sessionmaker(bind=engine)`)."""
        scope = self.semantics.function_scopes[-1].node
        if scope not in self._escapes_found:
            finder = _Escapes()
            visit(scope.body, finder)
            self._escapes_found[scope] = finder
        finder = self._escapes_found[scope]
        holders: set[str] = set()
        for name, value in finder.assignments:
            if _holds(value, holders, call) and (
                value is call or self.semantics.kind_of(value) in _ENGINE_HOLDERS
            ):
                holders.add(name)
        return any(_holds(value, holders, call) for value in finder.kept(self.semantics))

    def _returns_engine(self, function: Function) -> bool:
        """An engine factory: a returned value is an engine, or a local one of whose
        bindings is (`engine = create_async_engine(...)` in one branch, a project helper's
        proxy in another, then `return engine`)."""
        project = self.semantics.project
        module, facts = function.module, function.facts
        for value in facts.returns:
            if project.value_kind(value, module, facts) == Kind.ENGINE:
                return True
            if isinstance(value, Local) and facts.param(value.name) is None:
                bindings = facts.locals.get(value.name, ())
                if any(project.value_kind(v, module, facts) == Kind.ENGINE for v in bindings):
                    return True
        return False


def _route_text(route: CallOf) -> str:
    """`router.get(...)`: the owner and the method of a route decorator, as written."""
    func = route.func
    name = ".".join(func.qualname.split(".")[-2:]) if isinstance(func, Ref) else describe(func)
    return f"{name}(...)"


# Values an engine can be bound into and kept with: a session factory or registry.
_ENGINE_HOLDERS = frozenset(
    {Kind.ENGINE, Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY, Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY}
)


class _Escapes(OwnScopeVisitor):
    """Assignments of one function body, and the values that leave it."""

    def __init__(self) -> None:
        super().__init__()
        self.assignments: list[tuple[str, cst.BaseExpression]] = []
        self.leaving: list[cst.BaseExpression] = []  # returned, yielded, stored on an object
        self.global_assignments: list[tuple[str, cst.BaseExpression]] = []
        self.stored_calls: list[cst.Call] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._target(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._target(node.target, node.value)

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.assignments.append((target.value, value))
            self.global_assignments.append((target.value, value))
        elif isinstance(target, (cst.Attribute, cst.Subscript)):
            self.leaving.append(value)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.leaving.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self.leaving.append(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in vocab.CONTAINER_STORE_METHODS | {"update"}:
            self.stored_calls.append(node)

    def kept(self, semantics) -> list[cst.BaseExpression]:  # type: ignore[no-untyped-def]
        function = semantics.function
        declared = function.facts.declared_globals if function is not None else frozenset()
        values = list(self.leaving)
        values += [value for name, value in self.global_assignments if name in declared]
        values += [arg.value for call in self.stored_calls for arg in call.args]
        return values


def _holds(value: cst.BaseExpression, names: set[str], call: cst.Call) -> bool:
    """`value` is the engine call, or holds it or one of `names` as a whole value (in a
    tuple, dict, list, or as an argument), not only as the receiver of a method call
    (`engine.connect()` gives a connection, not the engine)."""
    stack: list[cst.CSTNode] = [value]
    while stack:
        node = stack.pop()
        if node is call or (isinstance(node, cst.Name) and node.value in names):
            return True
        if isinstance(node, cst.Attribute):
            continue  # `engine.url`, `engine.connect`: a part or a method of it
        if isinstance(node, cst.Call):
            stack += [arg.value for arg in node.args]
            continue
        if isinstance(node, (cst.Lambda, cst.Name)):
            continue
        stack += list(node.children)
    return False
