"""How a function's body uses its parameters (`FunctionFacts.param_uses`).

A parameter's annotation says what the caller should pass; its uses say what the code
really gets. SL004 asks both: `db: Session` whose body does `await db.exec(stmt)` holds an
`AsyncSession` under a stale annotation (a sync session cannot be awaited), and a `db:
Session` the body never uses to talk to the database blocks nothing, whatever it is.
Computed by the fact pass from a function's own nodes, once; `paramuse` weighs it.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from typing import Optional

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_nodes import Kinds, walk
from sessionlint.facts.values import CallOf, Value, fact

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
ValueOf = Callable[[ast.expr], Optional[Value]]


@fact
class ParamUses:
    """What the body does with its parameters (nested scopes excluded from the evidence)."""

    # Parameters whose methods or attributes the body awaits or enters with `async with`
    # (`await db.exec(stmt)`, `async with db.begin():`): only an async object allows that.
    awaited: frozenset[str] = frozenset()
    # Parameters the body never uses to talk to the database: never read at all (also not
    # by a nested function or lambda), or read only as the receiver of a method that does
    # no I/O (`db.add(row)`, see `vocabulary.SESSION_METHODS_WITHOUT_IO`).
    quiet: frozenset[str] = frozenset()
    # Awaited calls that pass a parameter (`await _lock(db, key)`), as (parameter, call):
    # the callee's own evidence about what it got speaks for this parameter too.
    handoffs: tuple[tuple[str, CallOf], ...] = ()
    # How many parameters take positional arguments (before `*args` / keyword-only ones).
    positional: int = 0


NO_USES = ParamUses()


def param_uses(node: ast.FunctionDef | ast.AsyncFunctionDef, kinds: Kinds, value_of: ValueOf) -> ParamUses:
    """The uses of `node`'s parameters among its own nodes (`kinds`: grouped by class; nested
    scopes not entered); `value_of` gives an expression's symbolic value inside the function."""
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    params = {arg.arg for arg in every if arg is not None}
    if not params:
        return NO_USES
    reads: Counter[str] = Counter(
        inner.id  # type: ignore[attr-defined]
        for inner in kinds.get(ast.Name, ())
        if inner.id in params and inner.ctx.__class__ is ast.Load  # type: ignore[attr-defined]
    )
    quiet_reads: Counter[str] = Counter()
    for call in kinds.get(ast.Call, ()):
        func = call.func  # type: ignore[attr-defined]
        if func.__class__ is ast.Attribute:
            receiver = _receiver(func)
            if receiver in params and func.attr in vocab.SESSION_METHODS_WITHOUT_IO:
                quiet_reads[receiver] += 1
    awaited: set[str] = set()
    handoffs: list[tuple[str, CallOf]] = []
    for inner in kinds.get(ast.Await, ()):
        _note_await(inner.value, params, awaited, handoffs, value_of)  # type: ignore[attr-defined]
    for inner in kinds.get(ast.AsyncWith, ()):
        # `async with db:`, `async with db.begin():`
        for item in inner.items:  # type: ignore[attr-defined]
            entered = item.context_expr
            if isinstance(entered, ast.Call):
                entered = entered.func
            name = entered.id if isinstance(entered, ast.Name) else _receiver(entered)
            if name in params:
                awaited.add(name)
    for kind in _NESTED:
        for inner in kinds.get(kind, ()):
            # A nested scope may use a parameter in any way, at any time: a read.
            reads.update(
                n.id
                for n in walk(inner)
                if isinstance(n, ast.Name) and n.id in params and isinstance(n.ctx, ast.Load)
            )
    return ParamUses(
        awaited=frozenset(awaited),
        quiet=frozenset(name for name in params if reads[name] == quiet_reads[name]),
        handoffs=tuple(handoffs),
        positional=len(args.posonlyargs) + len(args.args),
    )


def _receiver(func: ast.expr) -> str | None:
    """`name` in `name.attr`."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id
    return None


def _note_await(
    value: ast.expr,
    params: set[str],
    awaited: set[str],
    handoffs: list[tuple[str, CallOf]],
    value_of: ValueOf,
) -> None:
    name = _receiver(value.func if isinstance(value, ast.Call) else value)
    if name in params:
        awaited.add(name)  # `await db.exec(stmt)`, `await db.connection()`
        return
    if not isinstance(value, ast.Call) or any(isinstance(arg, ast.Starred) for arg in value.args):
        return  # a `*args` in between: positions unknown (the symbolic call leaves it out)
    arguments = [*value.args, *(keyword.value for keyword in value.keywords)]
    passed = [arg.id for arg in arguments if isinstance(arg, ast.Name) and arg.id in params]
    call = value_of(value) if passed else None
    if isinstance(call, CallOf):
        handoffs.extend((name, call) for name in passed)
