"""Engines a function disposes once it is done with them (`FunctionFacts.disposed`).

A function that builds an engine for one job (a probe of a database address, a one-off
check, a conversion) and calls `engine.dispose()` after every use of it leaves no pool
behind: nothing accumulates per call (SL003), and no pooled connection sits idle long
enough to go stale (SL005). Two shapes count: the dispose in a `finally` whose `try` holds
every use, and the dispose later in the same block as the binding, after every use, with
nothing between that leaves the block (`return`, `break`, `continue`, `yield`). In the
second an exception skips the dispose; the engine is then unreachable, and its pool goes
with it when the traceback is dropped, so nothing outlives the call either. Computed by the
fact pass from a function's own statements; the rules ask it of the local name their
constructor call is bound to.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from sessionlint.facts.collect_nodes import Kinds, walk

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


def disposed_names(body: list[ast.stmt], own_nodes: list[ast.AST], kinds: Kinds) -> frozenset[str]:
    """Local names disposed after their last use: bound once (besides `name = None`
    placeholders), and every use of them lies in one `try` whose `finally` calls
    `name.dispose()` (awaited or not, also under `if name is not None:`), or between their
    binding and a later `name.dispose()` in the same block (`body`: the function's own
    statements; `kinds`: its own nodes grouped by class) with no `return` / `break` /
    `continue` / `yield` between; used there only as a receiver or an argument, never
    returned, yielded, aliased, stored or captured by a nested scope."""
    if not any(
        isinstance(node.func, ast.Attribute) and node.func.attr == "dispose"  # type: ignore[attr-defined]
        for node in kinds.get(ast.Call, ())
    ):
        return frozenset()  # most functions: nothing disposed, no block worth a look
    found: set[str] = set()
    tries = [node for node in own_nodes if isinstance(node, _TRY_TYPES) and node.finalbody]
    for node in tries:
        for name, statements in _disposals(node.finalbody):
            if name not in found and _covers(node.body, node, name, statements, own_nodes):
                found.add(name)
    for block in [body, *_blocks(own_nodes)]:
        for name, region, disposal in _straight_disposals(block):
            if name not in found and _covers(region, None, name, [disposal], own_nodes):
                found.add(name)
    return frozenset(found)


def _blocks(own_nodes: list[ast.AST]) -> Iterator[list[ast.stmt]]:
    """Every statement list of the function's own nodes (bodies of `for`, `with`, `if`, ...)."""
    for node in own_nodes:
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _straight_disposals(block: list[ast.stmt]) -> Iterator[tuple[str, list[ast.stmt], ast.stmt]]:
    """(name, the statements from its binding to before its dispose, the dispose) for each
    `name.dispose()` of the block that follows a binding of `name` in the same block with
    nothing between that can leave the block on the normal path."""
    for end, statement in enumerate(block):
        name = _disposed(statement)
        if name is None:
            continue
        for start in range(end - 1, -1, -1):
            earlier = block[start]
            if isinstance(earlier, (ast.Assign, ast.AnnAssign)) and _binds(earlier, name):
                region = block[start:end]
                if not any(_leaves(inner) for inner in region[1:]):
                    yield name, region, statement
                break


def _leaves(statement: ast.stmt) -> bool:
    """The statement may leave its block without an exception (nested scopes aside)."""
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Return, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom)):
            return True
        stack.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, _NESTED))
    return False


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


def _covers(
    region: list[ast.stmt],
    node: ast.stmt | None,
    name: str,
    disposals: list[ast.stmt],
    own_nodes: list[ast.AST],
) -> bool:
    """Every use of `name` lies in `region` (with a `try`: also its handlers and `else`,
    which all run before the `finally`) or in the disposing statements."""
    extra = [*node.handlers, *node.orelse] if node is not None else []  # type: ignore[attr-defined]
    guarded = _ids(_walk_all([*region, *extra]))
    disposing = _ids(_walk_all(disposals))
    assigned = _ids(_assign_targets(own_nodes))
    bindings = 0
    for inner in own_nodes:
        if isinstance(inner, _NESTED):
            if any(isinstance(n, ast.Name) and n.id == name for n in walk(inner)):
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
    return bindings == 1 and not _escapes([*region, *extra], name)


def _binds(statement: ast.Assign | ast.AnnAssign, name: str) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return any(isinstance(target, ast.Name) and target.id == name for target in targets)


def _assign_targets(own_nodes: list[ast.AST]) -> Iterator[ast.expr]:
    for inner in own_nodes:
        if isinstance(inner, ast.Assign):
            yield from inner.targets
        elif isinstance(inner, ast.AnnAssign):
            yield inner.target


def _escapes(region: list[ast.AST], name: str) -> bool:
    """The name's value handed on whole before the dispose (returned, yielded, aliased, put
    in a container): it may be used after the dispose, which opens a new pool."""
    for parent in _walk_all(region):
        if not isinstance(parent, _ESCAPING_PARENTS):
            continue
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, ast.Name) and child.id == name and isinstance(child.ctx, ast.Load):
                return True
    return False


def _walk_all(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    for node in nodes:
        yield from walk(node)


def _ids(nodes: Iterable[ast.AST]) -> set[int]:
    return {id(node) for node in nodes}
