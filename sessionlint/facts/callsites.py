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
- SL007 flags a request's session handed to `background_tasks.add_task(...)`.
  `background_args` records the names a function hands to calls spelled `add_task`
  (through `partial(...)` and `lambda: ...` too), so the triage asks about those
  parameters instead of any function that takes a session in a module naming
  `BackgroundTasks`.
- SL010 flags an async session handed to tasks that run at the same time. Most coroutines
  that start tasks (`create_task`, `gather`) hand them no session. `task_values` records,
  in a function that starts tasks, every value the rule could find to be that session: the
  calls' arguments and the receivers of coroutine methods.

Both over-approximate what the rules visit: the triage keeps a file whenever the rule
could flag it (`tests/test_prefilter_soundness.py`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from typing import TypedDict, cast

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_nodes import Kinds, walk
from sessionlint.facts.facts import value_refs
from sessionlint.facts.values import CallOf, Ref, Value
from sessionlint.project.tasks import TASK_START_SPELLINGS

ValueOf = Callable[[ast.expr], "Value | None"]
InlineArg = tuple[str, "int | str", CallOf]

# Every method SL009 knows as a coroutine of an async session or registry.
_COROUTINE_METHODS = vocab.ASYNC_SESSION_COROUTINES | vocab.ASYNC_SCOPED_SESSION_COROUTINES
_NESTED_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class CallSiteFacts(TypedDict):
    inline_call_args: tuple[InlineArg, ...]
    coroutine_receivers: tuple[Value, ...]
    task_values: tuple[Value, ...]
    background_args: frozenset[str]


def function_facts(nodes: list[ast.AST], kinds: Kinds, value_of: ValueOf) -> CallSiteFacts:
    """The records for one function, from its own nodes (`kinds`: them grouped by class;
    `FunctionFacts` fields)."""
    # The rules visit a lambda's body with its function: its nodes count as the function's.
    in_lambdas = [inner for node in kinds.get(ast.Lambda, ()) for inner in walk(node)]
    with_lambdas = [*nodes, *in_lambdas] if in_lambdas else nodes
    calls = kinds.get(ast.Call, [])
    calls_with_lambdas = [*calls, *(node for node in in_lambdas if node.__class__ is ast.Call)]
    awaits_with_lambdas = [
        *kinds.get(ast.Await, ()),
        *(node for node in in_lambdas if node.__class__ is ast.Await),
    ]
    return CallSiteFacts(
        inline_call_args=inline_call_args(calls, value_of),
        coroutine_receivers=coroutine_receivers([*awaits_with_lambdas, *calls_with_lambdas], value_of),
        task_values=task_values(nodes, kinds, with_lambdas, calls_with_lambdas, value_of),
        background_args=background_args(calls_with_lambdas),
    )


def background_args(calls: list[ast.AST]) -> frozenset[str]:
    """Every name in the arguments of the calls spelled `x.add_task(...)` among the
    function's own calls and its lambdas' (`calls`)."""
    return frozenset(
        name.id
        for call in calls
        if call.__class__ is ast.Call
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "add_task"
        for argument in [*call.args, *(keyword.value for keyword in call.keywords)]
        for name in walk(argument)
        if name.__class__ is ast.Name
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


def coroutine_receivers(candidates: list[ast.AST], value_of: ValueOf) -> tuple[Value, ...]:
    """The values of `x` in `x.<coroutine method>(...)` calls not awaited right there, among
    the function's own nodes and its lambdas' (`candidates`; the rule resolves a lambda's
    names in the function, its parameters apart: those give the rule no value at all).

    A call directly under `await` is left out: the rule never flags one."""
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


def task_values(
    nodes: list[ast.AST], kinds: Kinds, with_lambdas: list[ast.AST], calls: list[ast.AST], value_of: ValueOf
) -> tuple[Value, ...]:
    """The values the rule could find handed to a task in this function: the arguments of
    every call, and the receivers of coroutine methods, within a task start's arguments
    (`create_task(load(session))`, `gather(session.execute(a), ...)`, `start_soon(f,
    session)`) or within what is bound or appended to a name those arguments use
    (`coros = [load(session, i) for i in ids]`, `coros.append(...)`, then `gather(*coros)`).

    Over what the rule visits as this function: its own nodes, the lambdas and classes among
    them (visited with the function's state) and what a nested `def` evaluates here (its
    decorators, defaults and annotations); `with_lambdas` and `calls`: the nodes and the
    calls of the first two. Empty when it starts no task."""
    candidates = with_lambdas
    if any(kind in kinds for kind in _NESTED_DEFINITIONS):
        candidates = list(with_lambdas)
        for node in nodes:
            if node.__class__ is ast.ClassDef:
                candidates += walk(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for part in (*node.decorator_list, node.args, node.returns):
                    candidates += walk(part) if part is not None else ()
        calls = [node for node in candidates if node.__class__ is ast.Call]
    roots: list[ast.AST] = [node for node in calls if _starts_task(cast(ast.Call, node), value_of)]
    if not roots:
        return ()
    roots += _feeding(candidates, _direct_names(roots))
    found: dict[Value, None] = {}
    for root in roots:
        for call in walk(root):
            if isinstance(call, ast.Call):
                for expression in _handed(call):
                    value = value_of(expression)
                    if value is not None:
                        found[value] = None
    return tuple(found)


def _direct_names(calls: list[ast.AST]) -> set[str]:
    """Names given whole to the calls (`gather(*coros)`, `create_task(coro)`)."""
    names = set()
    for call in calls:
        assert isinstance(call, ast.Call)
        for arg in [*call.args, *(keyword.value for keyword in call.keywords)]:
            inner = arg.value if isinstance(arg, ast.Starred) else arg
            if isinstance(inner, ast.Name):
                names.add(inner.id)
    return names


def _feeding(candidates: list[ast.AST], names: set[str]) -> list[ast.AST]:
    """What is bound to those names (`coros = [...]`) or handed to a method of them
    (`coros.append(load(session))`): the rule follows a name given to `gather` that far."""
    found: list[ast.AST] = []
    for node in candidates:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id in names for t in targets for n in walk(t)):
                found.append(node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in names
        ):
            found.append(node)
    return found


def _handed(call: ast.Call) -> list[ast.expr]:
    expressions = [arg.value if isinstance(arg, ast.Starred) else arg for arg in call.args]
    expressions += [keyword.value for keyword in call.keywords]
    if isinstance(call.func, ast.Attribute) and call.func.attr in vocab.ASYNC_SESSION_COROUTINES:
        expressions.append(call.func.value)
    return expressions


def _starts_task(call: ast.Call, value_of: ValueOf) -> bool:
    """Spelled like a task start, or a global imported as one under another name (`from
    asyncio import create_task as spawn`; the triage resolves the project's re-exports)."""
    func = call.func
    if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in TASK_START_SPELLINGS:
        return True
    callee = value_of(func) if isinstance(func, ast.Name) else None
    return isinstance(callee, Ref) and callee.qualname.rpartition(".")[2] in TASK_START_SPELLINGS


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
