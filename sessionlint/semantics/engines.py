"""Engines a function disposes on every path (`FunctionFacts.disposed`).

A function that builds an engine for one job (a probe of a database address, a one-off
check, a conversion) and calls `engine.dispose()` in a `finally` that covers every use of
it leaves no pool behind: nothing accumulates per call (SL003), and no pooled connection
sits idle long enough to go stale (SL005). Computed by the fact pass from a function's own
statements; the rules ask it of the local name their constructor call is bound to.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
# Where a name's value is handed on whole, to live on past the `finally`.
_ESCAPING_PARENTS = (
    ast.Return,
    ast.Yield,
    ast.YieldFrom,
    ast.Assign,
    ast.AnnAssign,
    ast.NamedExpr,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.Starred,
)
_TRY_TYPES: tuple[type[ast.stmt], ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def disposed_names(own_nodes: list[ast.AST]) -> frozenset[str]:
    """Local names disposed on every path: bound once (besides `name = None` placeholders),
    and every use of them lies in one `try` whose `finally` calls `name.dispose()` (awaited
    or not, also under `if name is not None:`), used there only as a receiver or an argument,
    never returned, yielded, aliased, stored or captured by a nested scope."""
    tries = [node for node in own_nodes if isinstance(node, _TRY_TYPES) and node.finalbody]
    if not tries:
        return frozenset()
    found: set[str] = set()
    for node in tries:
        for name, statements in _disposals(node.finalbody):
            if name not in found and _covers(node, name, statements, own_nodes):
                found.add(name)
    return frozenset(found)


def _disposals(finalbody: list[ast.stmt]) -> Iterator[tuple[str, list[ast.stmt]]]:
    """(name, the statement disposing it) for each top-level dispose of a `finally`."""
    for statement in finalbody:
        name = _disposed(statement)
        if name is not None:
            yield name, [statement]
            continue
        if isinstance(statement, ast.If) and not statement.orelse:
            tested = _none_test(statement.test)
            if tested is not None and any(_disposed(inner) == tested for inner in statement.body):
                yield tested, [statement]


def _disposed(statement: ast.stmt) -> str | None:
    """`name.dispose()` / `await name.dispose()` as a statement."""
    if not isinstance(statement, ast.Expr):
        return None
    call = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "dispose"
        and isinstance(call.func.value, ast.Name)
    ):
        return call.func.value.id
    return None


def _none_test(test: ast.expr) -> str | None:
    """`name is not None` or a bare `name`: the guard of a placeholder's dispose."""
    if isinstance(test, ast.Name):
        return test.id
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        return test.left.id
    return None


def _covers(node: ast.stmt, name: str, disposals: list[ast.stmt], own_nodes: list[ast.AST]) -> bool:
    guarded = _ids(_walk_all([*node.body, *node.handlers, *node.orelse]))  # type: ignore[attr-defined]
    # `try` / `except` / `else` all run before the `finally`.
    disposing = _ids(_walk_all(disposals))
    assigned = _ids(_assign_targets(own_nodes))
    bindings = 0
    for inner in own_nodes:
        if isinstance(inner, _NESTED):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(inner)):
                return False  # a closure may use it after the `finally`
        elif isinstance(inner, (ast.Assign, ast.AnnAssign)) and _binds(inner, name):
            value = inner.value
            if not (isinstance(value, ast.Constant) and value.value is None):
                bindings += 1
        elif isinstance(inner, ast.Name) and inner.id == name:
            if not isinstance(inner.ctx, ast.Load):
                if id(inner) not in assigned:
                    return False  # bound by `for`, `with`, `del`, `+=`, ...
            elif id(inner) not in guarded and id(inner) not in disposing:
                return False  # used outside the `try`
    return bindings == 1 and not _escapes(node, name)


def _binds(statement: ast.Assign | ast.AnnAssign, name: str) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return any(isinstance(target, ast.Name) and target.id == name for target in targets)


def _assign_targets(own_nodes: list[ast.AST]) -> Iterator[ast.expr]:
    for inner in own_nodes:
        if isinstance(inner, ast.Assign):
            yield from inner.targets
        elif isinstance(inner, ast.AnnAssign):
            yield inner.target


def _escapes(node: ast.stmt, name: str) -> bool:
    """The name's value handed on whole inside the `try` (returned, yielded, aliased, put in
    a container): it may be used after the dispose, which opens a new pool."""
    for parent in _walk_all([node]):
        if not isinstance(parent, _ESCAPING_PARENTS):
            continue
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, ast.Name) and child.id == name and isinstance(child.ctx, ast.Load):
                return True
    return False


def _walk_all(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    for node in nodes:
        yield from ast.walk(node)


def _ids(nodes: Iterable[ast.AST]) -> set[int]:
    return {id(node) for node in nodes}
