"""Concurrent tasks and the sessions they use (SL010).

Facts per coroutine, recorded by the fact pass (`collect`) from the function's own nodes:
which parameters it *uses as a session* (awaits a method on it, enters it with
`async with`), to which global callees it passes each parameter on, and which coroutines
using its parameters it hands to a call spelled `gather`. The project questions follow the
hand-offs through project functions in any module: `uses_param_as_session` (a
`load(session, i)` given to `asyncio.gather` uses `session` when `load`, or what it passes
`session` to, awaits a method on it) and `gathered_through` (a coroutine hands its
parameter to `asyncio.gather` with another coroutine using it). Unknown callees answer no.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Callable, Union

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_nodes import walk
from sessionlint.facts.values import Ref, Value
from sessionlint.project.memo import memoized
from sessionlint.project.resolution import External

if TYPE_CHECKING:
    from sessionlint.project.index import Function, ProjectFacts

# Where a parameter is passed to a callee: its position, or its keyword.
Slot = Union[int, str]
# (parameter, callee's qualified name, slot)
Handoff = tuple[str, str, Slot]
# A coroutine handed to a `gather`-like call that uses a parameter: (parameter, the global
# callee it is passed to or "" for a coroutine method called on it, slot, stands for several).
CoroutineUse = tuple[str, str, Slot, bool]
# A call of a global spelled `gather` (resolved by the project) and the coroutines it gets.
GatherSite = tuple[str, tuple[CoroutineUse, ...]]
# Where a parameter ends up handed to `gather`: each (function, parameter) from the callee
# to the function whose `gather` gets it.
Chain = tuple[tuple["Function", str], ...]

_GATHER_SPELLINGS = frozenset(name.rpartition(".")[2] for name in vocab.TASK_GATHERERS)
# The spelled names of what starts tasks (`asyncio.gather`, `tg.create_task`, `tg.start_soon`):
# a cheap over-approximation for the triage; the rule decides with resolved names.
TASK_START_SPELLINGS = vocab.TASK_GROUP_METHODS | frozenset(
    name.rpartition(".")[2] for name in vocab.TASK_GATHERERS | vocab.TASK_CREATORS
)


def session_uses(
    nodes: Iterable[ast.AST], params: frozenset[str], resolve: Callable[[str], Value | None]
) -> tuple[tuple[Handoff, ...], tuple[GatherSite, ...]]:
    """(every hand-off of a parameter to a global callee, every `gather` given coroutines
    that use parameters) over a coroutine's own nodes (its calls are enough). The parameters it uses as a session
    itself are `FunctionFacts.param_uses.awaited` (`facts/uses.py`)."""
    handoffs: list[Handoff] = []
    sites: list[GatherSite] = []
    for node in nodes:
        if isinstance(node, ast.Call):
            handoffs += _handoffs(node, params, resolve)
            site = _gather_site(node, params, resolve)
            if site is not None:
                sites.append(site)
    return tuple(handoffs), tuple(sites)


def _gather_site(
    call: ast.Call, params: frozenset[str], resolve: Callable[[str], Value | None]
) -> GatherSite | None:
    callee = _callee(call, resolve)
    if callee is None or callee.rpartition(".")[2] not in _GATHER_SPELLINGS:
        return None
    uses: list[CoroutineUse] = []
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.Starred) else arg
        if not isinstance(arg, ast.Starred):
            uses += _coroutine_uses(value, params, resolve, many=False)
        elif isinstance(value, (ast.List, ast.Tuple)):
            for element in value.elts:
                uses += _coroutine_uses(element, params, resolve, many=False)
        elif isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            bound = {n.id for g in value.generators for n in walk(g.target) if isinstance(n, ast.Name)}
            uses += _coroutine_uses(value.elt, params - bound, resolve, many=True)
    return (callee, tuple(uses)) if uses else None


def _coroutine_uses(
    node: ast.expr, params: frozenset[str], resolve: Callable[[str], Value | None], *, many: bool
) -> list[CoroutineUse]:
    """`param.execute(...)`, or `load(param, ...)` of a global: the parameters it may use."""
    if not isinstance(node, ast.Call):
        return []
    receiver = _method_receiver(node)
    if receiver in params and isinstance(node.func, ast.Attribute):
        return [(receiver, "", -1, many)] if node.func.attr in vocab.ASYNC_SESSION_COROUTINES else []
    return [(param, callee, slot, many) for param, callee, slot in _handoffs(node, params, resolve)]


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _method_receiver(call: ast.Call) -> str | None:
    """`name` of a call `name.method(...)`."""
    func = call.func
    return _name(func.value) if isinstance(func, ast.Attribute) else None


def _callee(call: ast.Call, resolve: Callable[[str], Value | None]) -> str | None:
    """The qualified name of a call's global callee (`load`, `crud.load`), if it has one."""
    callee = resolve(call.func.id) if isinstance(call.func, ast.Name) else None
    if isinstance(call.func, ast.Attribute):
        base = resolve(call.func.value.id) if isinstance(call.func.value, ast.Name) else None
        callee = Ref(f"{base.qualname}.{call.func.attr}") if isinstance(base, Ref) else None
    return callee.qualname if isinstance(callee, Ref) else None


def _handoffs(
    call: ast.Call, params: frozenset[str], resolve: Callable[[str], Value | None]
) -> list[Handoff]:
    callee = _callee(call, resolve)
    if callee is None:
        return []  # a method of a local, a call of a call: not followed
    found: list[Handoff] = []
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break  # positions after `*args` are unknown
        if isinstance(arg, ast.Name) and arg.id in params:
            found.append((arg.id, callee, index))
    for keyword in call.keywords:
        if keyword.arg and isinstance(keyword.value, ast.Name) and keyword.value.id in params:
            found.append((keyword.value.id, callee, keyword.arg))
    return found


def uses_param_as_session(project: ProjectFacts, function: Function, name: str) -> bool:
    """The coroutine function uses its parameter `name` as a session: awaits a method on it
    (`await session.execute(...)`), enters it (`async with session.begin():`), or passes it
    on to a project coroutine that does. False when unknown: a plain `def`, a parameter the
    body rebinds (it may use another session), a callee that is not a project function."""
    key = ("uses", function.module.key, function.facts.qualname, name)
    return bool(_memoized(project, key, lambda: _uses_param_as_session(project, function, name), False))


def _uses_param_as_session(project: ProjectFacts, function: Function, name: str) -> bool:
    facts = function.facts
    if not facts.is_async or facts.is_generator or facts.param(name) is None or name in facts.locals:
        return False
    if name in facts.param_uses.awaited:  # awaits a method on it, or enters it
        return True
    return any(
        uses_param_as_session(project, callee, param) for callee, param in _passed_to(project, function, name)
    )


def _passed_to(project: ProjectFacts, function: Function, name: str) -> Iterator[tuple[Function, str]]:
    """The project functions, with the parameter, that the function passes `name` on to."""
    for param, qualname, slot in function.facts.param_handoffs:
        callee = project.function_of(Ref(qualname), function.module) if param == name else None
        target = callee_param(callee, slot) if callee is not None else None
        if callee is not None and target is not None:
            yield callee, target


def _memoized(
    project: ProjectFacts, key: tuple[str, ...], compute: Callable[[], object], cycle: object
) -> object:
    """`compute()` once per key and per file checked (`ProjectFacts.forget_answers`); a key
    met again while it is computed (recursion through a cycle of calls) answers `cycle`."""
    return memoized(project.task_answers, project.task_progress, key, compute, cycle)


def callee_param(function: Function, slot: Slot) -> str | None:
    """The name of the parameter a call's argument at `slot` fills (None past the end)."""
    params = function.facts.params
    if isinstance(slot, str):
        return slot if function.facts.param(slot) is not None else None
    return params[slot].name if slot < len(params) else None


def gathered_through(project: ProjectFacts, function: Function, name: str) -> Chain:
    """The coroutine function hands its parameter `name` to `asyncio.gather` with another
    coroutine using it too (itself, or through the project coroutines it passes it to):
    the chain of (function, parameter) from this one to the one that gathers; empty when
    not known to."""
    key = ("gathered", function.module.key, function.facts.qualname, name)
    return _memoized(project, key, lambda: _gathered_through(project, function, name), ())  # type: ignore[return-value]


def _gathered_through(project: ProjectFacts, function: Function, name: str) -> Chain:
    facts = function.facts
    if not facts.is_async or facts.param(name) is None or name in facts.locals:
        return ()
    for qualname, uses in facts.gather_sites:
        target = project.resolve(qualname, function.module.root)
        is_gather = isinstance(target, External) and target.qualname in vocab.TASK_GATHERERS
        if is_gather and sum(2 if use[3] else 1 for use in uses if _uses(project, function, name, use)) >= 2:
            return ((function, name),)
    for callee, param in _passed_to(project, function, name):
        chain = gathered_through(project, callee, param)
        if chain:
            return ((function, name), *chain)
    return ()


def _uses(project: ProjectFacts, function: Function, name: str, use: CoroutineUse) -> bool:
    param, qualname, slot, _ = use
    if param != name:
        return False
    if not qualname:
        return True  # `session.execute(...)`
    callee = project.function_of(Ref(qualname), function.module)
    target = callee_param(callee, slot) if callee is not None else None
    return target is not None and uses_param_as_session(project, callee, target)  # type: ignore[arg-type]
