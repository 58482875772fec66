"""Call sites the triage needs to tell apart, recorded once in the fact pass.

Two rules look at calls that most files make in some harmless form, so a test on the
names a function calls keeps nearly every file of a real application:

- SL002 flags a session made inline as an argument of a project function
  (`purge(SessionLocal())`). `inline_call_args` records each call of a global given a
  call as an argument: the callee, the parameter (position or keyword) and the argument's
  value, so the triage asks the rule's own questions of them.
- SL009 flags a coroutine method of an async session called without `await`.
  `coroutine_receivers` records the receivers of the calls spelled like one
  (`x.execute(...)`, `x.get(...)`) that are not awaited right there, so the triage asks
  the receiver's kind instead of any name of an async kind.

Both over-approximate what the rules visit: the triage keeps a file whenever the rule
could flag it (`tests/test_prefilter_soundness.py`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from typing import TypedDict

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import value_refs
from sessionlint.facts.values import CallOf, Ref, Value

ValueOf = Callable[[ast.expr], "Value | None"]
InlineArg = tuple[str, "int | str", CallOf]

# Every method SL009 knows as a coroutine of an async session or registry.
_COROUTINE_METHODS = vocab.ASYNC_SESSION_COROUTINES | vocab.ASYNC_SCOPED_SESSION_COROUTINES


class CallSiteFacts(TypedDict):
    inline_call_args: tuple[InlineArg, ...]
    coroutine_receivers: tuple[Value, ...]


def function_facts(nodes: list[ast.AST], value_of: ValueOf) -> CallSiteFacts:
    """Both records for one function, from its own nodes (`FunctionFacts` fields)."""
    lambdas = [node for node in nodes if isinstance(node, ast.Lambda)]
    return CallSiteFacts(
        inline_call_args=inline_call_args(nodes, value_of),
        coroutine_receivers=coroutine_receivers(nodes, lambdas, value_of),
    )


def inline_call_args(nodes: Iterable[ast.AST], value_of: ValueOf) -> tuple[InlineArg, ...]:
    """(callee, position or keyword, argument value) of every argument that is itself a call,
    in calls of a global (`purge(SessionLocal())`, `crud.save(db=make_session())`).

    `nodes` are the function's own nodes: SL002 looks only at calls its body runs (not in
    a lambda or a nested scope). A position counts every argument before it, starred ones
    included, as the rule counts them."""
    found: list[InlineArg] = []
    for node in nodes:
        if not isinstance(node, ast.Call) or not _has_call_argument(node):
            continue
        callee = value_of(node.func)
        if not isinstance(callee, Ref):
            continue  # the rule asks for a project function: a global's name
        for index, arg in enumerate(node.args):
            if isinstance(arg, ast.Call):
                found.append((callee.qualname, index, _call_value(arg, value_of)))
        for keyword in node.keywords:
            if keyword.arg is not None and isinstance(keyword.value, ast.Call):
                found.append((callee.qualname, keyword.arg, _call_value(keyword.value, value_of)))
    return tuple(found)


def coroutine_receivers(
    nodes: Iterable[ast.AST], lambdas: Iterable[ast.Lambda], value_of: ValueOf
) -> tuple[Value, ...]:
    """The values of `x` in `x.<coroutine method>(...)` calls not awaited right there, among
    the function's own nodes and in the lambdas among them (the rule resolves a lambda's
    names in the function, its parameters apart: those give the rule no value at all).

    A call directly under `await` is left out: the rule never flags one."""
    candidates = list(nodes)
    for node in lambdas:
        candidates += ast.walk(node)
    awaited = {id(node.value) for node in candidates if isinstance(node, ast.Await)}
    found: dict[Value, None] = {}
    for node in candidates:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _COROUTINE_METHODS
            and id(node) not in awaited
        ):
            receiver = value_of(node.func.value)
            if receiver is not None:
                found[receiver] = None
    return tuple(found)


def receiver_globals(node: ast.Call, value_of: ValueOf) -> Iterator[str]:
    """The globals a coroutine-method call's receiver is made of, wherever the call stands
    (`get_db().execute(q)`: `get_db`; `app.db.session.commit()`: `app.db.session`), awaited
    or not: what the triage asks of receivers outside functions (a module-level session, a
    call giving one), where no function's facts hold them."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in _COROUTINE_METHODS:
        yield from value_refs([value_of(func.value)])


def _has_call_argument(node: ast.Call) -> bool:
    return any(isinstance(arg, ast.Call) for arg in node.args) or any(
        isinstance(keyword.value, ast.Call) for keyword in node.keywords
    )


def _call_value(node: ast.Call, value_of: ValueOf) -> CallOf:
    value = value_of(node)
    assert isinstance(value, CallOf)  # `value_of` gives a call's value for every call
    return value
