"""Plain, picklable facts about one module: what the fact pass records and the cache keeps."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import field
from pathlib import PurePath

from sessionlint.discover.roots import module_key
from sessionlint.facts.uses import NO_USES, ParamUses
from sessionlint.facts.values import Attr, Awaited, CallOf, ItemOf, Ref, SubscriptOf, UnionOf, Value, fact

_TEST_FILE = re.compile(r"(^test_.*|.*_test|^conftest)\.pyi?$")
_MIGRATION_FOLDERS = ("migrations", "versions", "alembic")

# Where something stands in its file: (line, column, end line, end column), 1-based, columns
# in characters (as findings count them). A plain tuple: facts are many and pickled often.
Span = tuple[int, int, int, int]
NO_SPAN: Span = (0, 0, 0, 0)


@fact
class ParamFacts:
    name: str
    annotation: Value | None
    default: Value | None


@fact
class FunctionFacts:
    """One `def` / `async def`, keyed in its module by `qualname`.

    `qualname` follows Python's `__qualname__` (`Repo.load`, `outer.<locals>.inner`), with
    `#2`, `#3` … appended to later redefinitions of the same name.
    """

    qualname: str
    name: str
    line: int
    is_async: bool
    is_generator: bool
    is_method: bool
    decorators: tuple[Value | None, ...]
    params: tuple[ParamFacts, ...]
    returns: tuple[Value | None, ...]
    yields: tuple[Value | None, ...]
    # Every value assigned to each local name, in source order (params are not repeated here).
    locals: dict[str, tuple[Value | None, ...]] = field(default_factory=dict)
    # Every name local to the function (parameters, assignments, imports, nested defs).
    local_names: frozenset[str] = frozenset()
    # Qualified names of the globals this function calls directly.
    calls: frozenset[str] = frozenset()
    declared_globals: frozenset[str] = frozenset()
    # The body itself (not nested functions or lambdas) has `await`, `async for` or `async with`.
    awaits: bool = False
    # Names bound as `with ... as name` targets (the context manager closes what they hold).
    with_targets: frozenset[str] = frozenset()
    # Names that are the single target of an assignment statement (`db = SessionLocal()`,
    # `db: Session = SessionLocal()`): where a bare call can create a session to close.
    assigned_names: frozenset[str] = frozenset()
    # Local names handed to other code: passed to a call that keeps them (`registry.add(db)`,
    # `stack.enter_context(db)`, `closing(db)`), put in a container literal (`[db]`), or
    # assigned to anything (`self.db = db`, `other = db`). Whoever got them may own them.
    shared_names: frozenset[str] = frozenset()
    # Qualified names of every global the facts above mention (callees included).
    referenced: frozenset[str] = frozenset()
    # Names bound only by import statements in the body (`from app.db import SessionLocal`
    # inside a click command): resolved like module imports, within this function.
    imports: dict[str, str] = field(default_factory=dict)
    # The return annotation (`-> Session`, `-> AsyncIterator[AsyncSession]`): evidence of
    # what the function gives where its returned or yielded values say nothing known.
    returns_annotation: Value | None = None
    # Names the body closes: `name.close()` (awaited or not) or `with name:`.
    closed_names: frozenset[str] = frozenset()
    # Methods: every value assigned to an attribute of the first parameter (`self.session =
    # session`), by attribute name.
    self_attributes: dict[str, tuple[Value | None, ...]] = field(default_factory=dict)
    # Dataflow, over-approximated: each local name -> the locals its assigned values (or
    # what is stored into it: `rows.append(row)`, `out[k] = row`) are computed from.
    flows: dict[str, frozenset[str]] = field(default_factory=dict)
    # Where locals' values leave the function, as (local, line, by a bare `yield name`):
    # named in a `return` or `yield`, stored on a parameter's or a global's attribute or
    # item, kept by one (`self.items.append(row)`), or used in a nested function or lambda.
    leaving: frozenset[tuple[str, int, bool]] = frozenset()
    # Coroutines (see `tasks`): every (parameter, global callee, position or keyword) the
    # body passes a parameter on to (what it uses as a session itself: `param_uses.awaited`).
    param_handoffs: tuple[tuple[str, str, int | str], ...] = ()
    # Calls of a global spelled `gather` given coroutines that use parameters (`tasks.GatherSite`).
    gather_sites: tuple[tuple[str, tuple[tuple[str, str, int | str, bool], ...]], ...] = ()
    # How the body uses the parameters: awaited, never for I/O, handed to awaited calls.
    param_uses: ParamUses = NO_USES
    # Locals the function disposes after their last use (`engine.dispose()` in a `finally` whose
    # `try` holds every use of them, or later in the binding's block): see
    # `engines.disposed_names`.
    disposed: frozenset[str] = frozenset()
    # Call sites the triage tells apart (see `callsites`): every (callee, position or keyword,
    # value) of a call given as an argument to a call of a global (SL002), and the receivers
    # of coroutine methods called without `await` right there (SL009); in a function that
    # starts tasks, the values its calls are given (SL010); the names it hands to
    # `add_task` (SL007).
    inline_call_args: tuple[tuple[str, int | str, CallOf], ...] = ()
    coroutine_receivers: tuple[Value, ...] = ()
    task_values: tuple[Value, ...] = ()
    background_args: frozenset[str] = frozenset()
    # The header `def name` / `async def name`: where the function is defined (evidence).
    span: Span = NO_SPAN

    def derived_from(self, name: str) -> set[str]:
        """The locals whose values may be computed from `name` (through any local)."""
        found: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {local for local, sources in self.flows.items() if sources & frontier} - found
            found |= frontier
        return found

    def param(self, name: str) -> ParamFacts | None:
        return next((param for param in self.params if param.name == name), None)


@fact
class LifecycleCall:
    """`receiver.dispose(...)`, `receiver.remove()`, or `receiver.dispose` handed on as a
    callback (see `project/lifecycle.py`)."""

    method: str
    receiver: Value | None
    # The enclosing function's qualname; "" at module or class level.
    scope: str
    line: int
    is_async: bool
    # Under the module's `if __name__ == "__main__":` block.
    main_guard: bool


@fact
class StateSlot:
    """`<x>.state.<name> = value`: Starlette's `app.state`, which `request.app.state` reads."""

    name: str
    value: Value | None
    scope: str


@fact
class Definition:
    """A `def` or `class` statement standing directly in a module or class body: what the
    rule pass needs to leave a function out of LibCST's parse (`rulepass/prune.py`)
    without parsing the file with `ast` again."""

    name: str
    line: int  # of the `def` / `class` keyword
    column: int  # its indentation
    first_line: int  # of its first decorator (else `line`)
    end_line: int
    is_class: bool = False
    body: tuple[Definition, ...] = ()  # a class's own definitions


@fact(frozen=False)
class ModuleFacts:
    """Everything other modules and the rules need to know about one module."""

    path: str
    module: str
    is_package: bool
    # A hash of the file's bytes: what the cache compares to know the facts still hold.
    digest: str = ""
    # False when only LibCST could parse the file (newer syntax): only imports are known.
    complete: bool = True
    # The source root `module` is named under (see `roots`), and the (root, dotted name)
    # pairs it may also be imported as (namespace packages, outer project roots).
    root: str = ""
    aliases: tuple[tuple[str, str], ...] = ()
    imports: dict[str, str] = field(default_factory=dict)
    # Modules whose public names `from module import *` brings in, in source order.
    star_imports: tuple[str, ...] = ()
    # Module-level (and class-level, as `Class.attr`) assignments; the last one wins.
    bindings: dict[str, Value | None] = field(default_factory=dict)
    # Where each name of `bindings` is bound (the statement the last binding is in), and each
    # module-level class (evidence: "`SessionLocal` is `sessionmaker(...)` (app/db.py:6)").
    binding_spans: dict[str, Span] = field(default_factory=dict)
    definitions: frozenset[str] = frozenset()
    functions: dict[str, FunctionFacts] = field(default_factory=dict)
    # Every `Depends(...)` / `Security(...)`-shaped call, confirmed against FastAPI later.
    dependency_calls: tuple[Value, ...] = ()
    # Where each of `dependency_calls` stands, in the same order.
    dependency_spans: tuple[Span, ...] = ()
    # Qualified names of every global called anywhere in the module.
    calls: frozenset[str] = frozenset()
    # Values passed as `lifespan=` to an app constructor.
    lifespan_refs: tuple[Value | None, ...] = ()
    # Qualified names of the globals called where the module runs once: its own body and
    # class bodies, outside functions and lambdas; `name()` when what a call of `name`
    # returns is called in turn (`sessionmaker(...)()`).
    toplevel_calls: frozenset[str] = frozenset()
    # Qualified names of the globals called under a module-level `if __name__ == "__main__":`
    # (the module run as a script): the roots of one-shot code.
    main_calls: frozenset[str] = frozenset()
    # Qualified names of globals whose call's result is called in turn, anywhere.
    chained_calls: frozenset[str] = frozenset()
    # Every call, in any scope, of a SQLAlchemy / SQLModel engine constructor or session
    # factory named directly (`vocabulary.CONSTRUCTORS`), with its arguments: the triage
    # judges pool and expiry options without parsing the file again.
    constructor_calls: tuple[CallOf, ...] = ()
    # `x.dispose()` / `x.remove()` calls and `<x>.state.<name> = value` assignments, in any
    # scope (`lifecycle`): who disposes an engine, removes a registry's sessions.
    lifecycle_calls: tuple[LifecycleCall, ...] = ()
    state_slots: tuple[StateSlot, ...] = ()
    # The globals the receivers of coroutine-method calls are made of (`get_db().execute()`,
    # `app.db.session.commit()`), anywhere in the module: see `callsites.receiver_globals`.
    receiver_globals: frozenset[str] = frozenset()
    # Qualified names of every global the facts above mention, functions' included.
    referenced: frozenset[str] = frozenset()
    # Only module-level names were collected, no function: a module read for what other
    # modules import from it, which names nothing the rules are about itself.
    shallow: bool = False
    # The definitions of the module's body and of its classes' bodies (full facts only).
    outline: tuple[Definition, ...] = ()

    @property
    def key(self) -> str:
        """The module's key in the project index: (root, name), see `roots.module_key`."""
        return module_key(self.root, self.module)

    @property
    def alias_names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.aliases)

    @property
    def is_test_file(self) -> bool:
        path = PurePath(self.path)
        return bool(_TEST_FILE.match(path.name)) or "tests" in path.parts[:-1]

    @property
    def is_migration_file(self) -> bool:
        """Alembic's `env.py` and migration scripts: one-shot code on the migration's connection."""
        path = PurePath(self.path)
        if path.name == "env.py" and "alembic" in path.parts:
            return True
        return any(part in _MIGRATION_FOLDERS for part in path.parts[:-1])

    def import_targets(self) -> Iterator[str]:
        """Every qualified name imported anywhere in the module, functions' imports included."""
        yield from self.imports.values()
        for function in self.functions.values():
            yield from function.imports.values()


def value_refs(values: Iterable[Value | None]) -> Iterator[str]:
    """Qualified names of the globals inside symbolic values (`Depends(deps.get_db)`)."""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Ref):
            yield value.qualname
        elif isinstance(value, Attr):
            stack.append(value.base)
        elif isinstance(value, CallOf):
            stack += [value.func, *value.args, *(v for _, v in value.kwargs)]
        elif isinstance(value, Awaited):
            stack.append(value.value)
        elif isinstance(value, SubscriptOf):
            stack += [value.base, *value.items]
        elif isinstance(value, UnionOf):
            stack += value.options
        elif isinstance(value, ItemOf):
            stack.append(value.value)
