"""Concurrent tasks and the sessions they use (SL010).

Two facts per function, recorded by the fact pass (`collect`) from the function's own
nodes: which parameters a coroutine *uses as a session* (awaits a method on it, enters it
with `async with`), and to which global callees it passes each parameter on. The project
question `uses_param_as_session` follows the second through project functions, so a
`load(session, i)` handed to `asyncio.gather` is known to use `session` when `load` (or what
it passes `session` to, in any module) awaits a method on it. Unknown callees answer False.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import TYPE_CHECKING, Callable, Union

from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.values import Ref, Value

if TYPE_CHECKING:
    from sessionlint.semantics.project import Function, ProjectFacts

# Where a parameter is passed to a callee: its position, or its keyword.
Slot = Union[int, str]
# (parameter, callee's qualified name, slot)
Handoff = tuple[str, str, Slot]

_MAX_DEPTH = 12
# The spelled names of what starts tasks (`asyncio.gather`, `tg.create_task`, `tg.start_soon`):
# a cheap over-approximation for the triage; the rule decides with resolved names.
TASK_START_SPELLINGS = vocab.TASK_GROUP_METHODS | frozenset(
    name.rpartition(".")[2] for name in vocab.TASK_GATHERERS | vocab.TASK_CREATORS
)


def starts_tasks(nodes: Iterable[ast.AST]) -> bool:
    """A call spelled like a task start (`gather`, `create_task`, `ensure_future`, `start_soon`)."""
    for node in nodes:
        if isinstance(node, ast.Call):
            func = node.func
            spelled = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if spelled in TASK_START_SPELLINGS:
                return True
    return False


def session_uses(
    nodes: Iterable[ast.AST], params: frozenset[str], resolve: Callable[[str], Value | None]
) -> tuple[frozenset[str], tuple[Handoff, ...]]:
    """(parameters the body awaits a method on or enters with `async with`, every hand-off
    of a parameter to a global callee) over a coroutine's own nodes."""
    used: set[str] = set()
    handoffs: list[Handoff] = []
    for node in nodes:
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            receiver = _method_receiver(node.value)
            if receiver in params:
                used.add(receiver)
        elif isinstance(node, ast.AsyncWith):
            for item in node.items:
                entered = item.context_expr
                name = _method_receiver(entered) if isinstance(entered, ast.Call) else _name(entered)
                if name in params:
                    used.add(name)
        elif isinstance(node, ast.Call):
            handoffs += _handoffs(node, params, resolve)
    return frozenset(used), tuple(handoffs)


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _method_receiver(call: ast.Call) -> str | None:
    """`name` of a call `name.method(...)`."""
    func = call.func
    return _name(func.value) if isinstance(func, ast.Attribute) else None


def _handoffs(
    call: ast.Call, params: frozenset[str], resolve: Callable[[str], Value | None]
) -> list[Handoff]:
    callee = resolve(call.func.id) if isinstance(call.func, ast.Name) else None
    if isinstance(call.func, ast.Attribute):
        base = resolve(call.func.value.id) if isinstance(call.func.value, ast.Name) else None
        callee = Ref(f"{base.qualname}.{call.func.attr}") if isinstance(base, Ref) else None
    if not isinstance(callee, Ref):
        return []  # a method of a local, a call of a call: not followed
    found: list[Handoff] = []
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break  # positions after `*args` are unknown
        if isinstance(arg, ast.Name) and arg.id in params:
            found.append((arg.id, callee.qualname, index))
    for keyword in call.keywords:
        if keyword.arg and isinstance(keyword.value, ast.Name) and keyword.value.id in params:
            found.append((keyword.value.id, callee.qualname, keyword.arg))
    return found


def uses_param_as_session(project: ProjectFacts, function: Function, name: str, depth: int = 0) -> bool:
    """The coroutine function uses its parameter `name` as a session: awaits a method on it
    (`await session.execute(...)`), enters it (`async with session.begin():`), or passes it
    on to a project coroutine that does. False when unknown: a plain `def`, a parameter the
    body rebinds (it may use another session), a callee that is not a project function."""
    facts = function.facts
    if depth > _MAX_DEPTH or not facts.is_async or facts.is_generator or facts.param(name) is None:
        return False
    if name in facts.locals:
        return False
    if name in facts.session_params:
        return True
    for param, qualname, slot in facts.param_handoffs:
        if param != name:
            continue
        callee = project.function_of(Ref(qualname), function.module)
        target = callee_param(callee, slot) if callee is not None else None
        if target is not None and uses_param_as_session(project, callee, target, depth + 1):  # type: ignore[arg-type]
            return True
    return False


def callee_param(function: Function, slot: Slot) -> str | None:
    """The name of the parameter a call's argument at `slot` fills (None past the end)."""
    params = function.facts.params
    if isinstance(slot, str):
        return slot if function.facts.param(slot) is not None else None
    return params[slot].name if slot < len(params) else None
