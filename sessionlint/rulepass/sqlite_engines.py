"""Engines known to open SQLite although their URL is not a literal (SL005).

A SQLite engine opens a local file: no server to restart, no connection to go stale, so
`pool_pre_ping` buys nothing. Besides a literal URL (`ProjectFacts.opts_out_of_pre_ping`)
and a guarding `if` (`sqlite`), two facts of the model show it:

- **the connections come from SQLite**: `creator=` / `async_creator=` is a project function
  (or what calling one returns) whose returned values are connections of `sqlite3` /
  `aiosqlite` (`vocabulary.SQLITE_CONNECTORS`, by resolved qualified name), directly, through
  a local, a nested function it returns, or further project functions (bounded depth);
  SQLAlchemy opens every connection of the pool through it, whatever the URL says;
- **a SQLite function**: the engine is bound to a local name that the same function also
  binds, on its other paths, only to engines built from a SQLite URL literal (at least
  one), and this call's URL is one of the function's parameters, unknown here. The function
  chooses between ways of opening one SQLite database (`db_url` or `db_file`); the
  parameter is the caller's spelling of that database. Where the other URL comes from
  anywhere else (`settings.DATABASE_URL`: a test-only SQLite branch beside the real
  server), or any sibling engine has a known non-SQLite URL, the call stays flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Awaited, CallOf, Local, Ref, Text, Value
from sessionlint.project.resolution import Function

if TYPE_CHECKING:
    from sessionlint.facts.facts import FunctionFacts, ModuleFacts
    from sessionlint.project.index import ProjectFacts

# How many project functions deep a connection factory is followed.
_MAX_DEPTH = 4
_CREATOR_KEYWORDS = ("creator", "async_creator")


def opens_sqlite(
    project: ProjectFacts, call: CallOf, module: ModuleFacts, function: Function | None, bound: str | None
) -> bool:
    """The engine constructor `call` (in `module`, inside `function` if any, bound to the
    local `bound`) opens SQLite: its connections come from a SQLite connector, or it is a
    SQLite function's engine."""
    facts = function.facts if function is not None else None
    if any(
        _is_connector(project, call.keyword(keyword), module, facts, 0)
        for keyword in _CREATOR_KEYWORDS
        if call.has_keyword(keyword)
    ):
        return True
    return (
        function is not None and bound is not None and _sqlite_function_engine(project, call, function, bound)
    )


def url_of(call: CallOf) -> Value | None:
    """The URL an engine constructor is given: `url=` or the first positional argument."""
    return call.keyword("url") if call.has_keyword("url") else (call.args[0] if call.args else None)


# -- a SQLite function ---------------------------------------------------------------------


def _sqlite_function_engine(project: ProjectFacts, call: CallOf, function: Function, bound: str) -> bool:
    facts = function.facts
    url = url_of(call)
    if not (isinstance(url, Local) and facts.param(url.name) is not None and url.name not in facts.locals):
        return False  # only a parameter, never rebound: the caller's spelling of the database
    siblings = [
        value
        for value in facts.locals.get(bound, ())
        if isinstance(value, CallOf)
        and url_of(value) != url
        and _is_engine_constructor(project, value, function)
    ]
    root = function.module.root
    return bool(siblings) and all(_sqlite_literal(project, url_of(value), root) for value in siblings)


def _is_engine_constructor(project: ProjectFacts, value: CallOf, function: Function) -> bool:
    return project.external_name(value.func, function.module.root) in vocab.ENGINE_CONSTRUCTORS


def _sqlite_literal(project: ProjectFacts, url: Value | None, root: str) -> bool:
    text = project.constant_value(url, root)
    return isinstance(text, Text) and text.prefix.startswith("sqlite")


# -- connections from SQLite ---------------------------------------------------------------


def _is_connector(
    project: ProjectFacts, value: Value | None, module: ModuleFacts, facts: FunctionFacts | None, depth: int
) -> bool:
    """`value` (in `module`, inside `facts` if any) is a callable whose every call returns a
    SQLite connection."""
    if depth > _MAX_DEPTH or value is None:
        return False
    if isinstance(value, Ref):
        if project.external_name(value, module.root) in vocab.SQLITE_CONNECTORS:
            return True
        callee = project.function_of(value, module)
        return callee is not None and _returns_connections(project, callee, depth + 1)
    if isinstance(value, Local) and facts is not None and facts.param(value.name) is None:
        nested = module.functions.get(f"{facts.qualname}.<locals>.{value.name}")
        if nested is not None:
            return _returns_connections(project, Function(module, nested), depth + 1)
        values = facts.locals.get(value.name, ())
        return _all(values, lambda item: _is_connector(project, item, module, facts, depth + 1))
    if isinstance(value, CallOf):
        if project.external_name(value.func, module.root) in vocab.PARTIAL:
            return bool(value.args) and _is_connector(project, value.args[0], module, facts, depth + 1)
        # What a project function returns, called here: a connector it built.
        callee = project.function_of(value.func, module)
        return callee is not None and _all(
            callee.facts.returns,
            lambda item: _is_connector(project, item, callee.module, callee.facts, depth + 1),
        )
    return False


def _returns_connections(project: ProjectFacts, function: Function, depth: int) -> bool:
    """Every value `function` returns is a SQLite connection (and it returns some)."""
    return not function.facts.is_generator and _all(
        function.facts.returns, lambda item: _is_connection(project, item, function, depth)
    )


def _is_connection(project: ProjectFacts, value: Value | None, function: Function, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        return False
    facts, module = function.facts, function.module
    if isinstance(value, Awaited):  # `await aiosqlite.connect(path)`
        value = value.value
    if isinstance(value, CallOf):
        if project.external_name(value.func, module.root) in vocab.SQLITE_CONNECTORS:
            return True
        callee = project.function_of(value.func, module)
        return callee is not None and _returns_connections(project, callee, depth + 1)
    if isinstance(value, Local) and facts.param(value.name) is None:
        values = facts.locals.get(value.name, ())
        return _all(values, lambda item: _is_connection(project, item, function, depth + 1))
    return False


def _all(values: tuple[Value | None, ...], test) -> bool:  # type: ignore[no-untyped-def]
    """`test` holds for every value, and there is at least one."""
    return bool(values) and all(test(value) for value in values)
