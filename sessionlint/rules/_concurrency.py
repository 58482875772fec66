"""What SL010 tracks while it walks a function (LibCST side): the tasks started so far, the
loops that repeat a start, the lists of coroutines gathered later."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from sessionlint.facts.values import Value

_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)

# A session handed to a task: its symbolic value (what identifies it) and its expression.
Handed = tuple[Value, cst.BaseExpression]
# A coroutine given to `gather`: its expression, the names its comprehension binds, and
# whether it stands for several (a comprehension, or an `append` repeated by a loop).
Gathered = tuple[cst.BaseExpression, frozenset[str], bool]


@dataclass
class FunctionState:
    """What one function's visit has seen so far, in source order."""

    # Sessions handed to tasks started and not awaited since (any `await` may await them).
    pending: list[Value] = field(default_factory=list)
    # Enclosing loops and comprehensions of the function: does each repeat its body without
    # suspending (no `await`, `break` or `return` in it)?
    loops: list[bool] = field(default_factory=list)
    # Names bound by the enclosing comprehensions: not the function's names of that spelling.
    shadowed: list[frozenset[str]] = field(default_factory=list)
    # `await create_task(...)`: started and awaited at once.
    awaited: set[int] = field(default_factory=set)
    # The `if` statements being visited: an `elif` is another branch of its parent's.
    ifs: list[cst.If] = field(default_factory=list)
    # Locals bound once to a list of coroutines (`coros = [load(session, i) for i in ids]`,
    # `coros = []` then `coros.append(...)`), gathered later with `gather(*coros)`.
    coroutine_lists: dict[str, list[Gathered]] = field(default_factory=dict)


def gathered(node: cst.Call, lists: dict[str, list[Gathered]]) -> Iterator[Gathered]:
    """The coroutines passed to `gather` (see `Gathered`): arguments, the items of a starred
    literal or comprehension, or of a local list of coroutines (`gather(*coros)`)."""
    for arg in node.args:
        if arg.keyword is not None or arg.star == "**":
            continue
        value = arg.value
        if not arg.star:
            yield value, frozenset(), False
        elif isinstance(value, (cst.List, cst.Tuple)):
            yield from literal_items(value)
        elif isinstance(value, (cst.GeneratorExp, cst.ListComp, cst.SetComp)) and not async_comprehension(
            value
        ):
            yield value.elt, comprehension_targets(value), True
        elif isinstance(value, cst.Name):
            yield from lists.get(value.value, ())


def literal_items(value: cst.List | cst.Tuple) -> list[Gathered]:
    """The items of a list or tuple literal (starred ones are unknown)."""
    return [(item.value, frozenset(), False) for item in value.elements if isinstance(item, cst.Element)]


def slots(args: Sequence[cst.Arg]) -> Iterator[tuple[int | str, cst.Arg]]:
    """Each argument with the position or keyword it fills (none after a `*args`)."""
    index = 0
    for arg in args:
        if arg.star:
            if arg.star == "*":
                return
            continue
        if arg.keyword is not None:
            yield arg.keyword.value, arg
        else:
            yield index, arg
            index += 1


def comprehension_targets(node: cst.BaseExpression) -> frozenset[str]:
    names: set[str] = set()
    clause = getattr(node, "for_in", None)
    while clause is not None:
        names |= {name.value for name in _names_in(clause.target)}
        clause = clause.inner_for_in
    return frozenset(names)


def _names_in(node: cst.CSTNode) -> Iterator[cst.Name]:
    if isinstance(node, cst.Name):
        yield node
    for child in node.children:
        yield from _names_in(child)


def suspends(node: cst.CSTNode) -> bool:
    """The code may wait, or stop repeating, between two runs of a task start in it: an
    `await`, `async for` / `async with`, `break` or `return` (nested scopes aside)."""
    if isinstance(node, (cst.Await, cst.Break, cst.Return)):
        return True
    if isinstance(node, (cst.For, cst.With)) and node.asynchronous is not None:
        return True
    if isinstance(node, _COMPREHENSIONS) and async_comprehension(node):
        return True
    if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
        return False
    return any(suspends(child) for child in node.children)


def async_comprehension(node: cst.CSTNode) -> bool:
    clause = getattr(node, "for_in", None)
    while clause is not None:
        if clause.asynchronous is not None:
            return True
        clause = clause.inner_for_in
    return False
