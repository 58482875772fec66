"""What a parameter's uses prove, whatever its annotation says (`uses.ParamUses`).

SL004 flags an `async def` parameter that holds a sync session. Where only the annotation
says so (`db: Session`, no dependency that provides it), the uses can contradict it: a
body that awaits the parameter's methods, or hands it to an `async def` that does, holds an
`AsyncSession` under a stale annotation. Conflicting evidence is no evidence: not flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionlint.facts.values import CallOf, Local

if TYPE_CHECKING:
    from sessionlint.facts.facts import ParamFacts
    from sessionlint.project.index import Function, ProjectFacts

# Awaited hand-offs are followed this many calls deep (`_acquire(db)` -> `_lock(db)`).
MAX_DEPTH = 4


def does_no_io(function: Function, name: str) -> bool:
    """The body never uses parameter `name` to talk to the database: never reads it, or only
    calls methods of it that do no I/O (`db.add(row)`)."""
    return name in function.facts.param_uses.quiet


def declared_only(project: ProjectFacts, param: ParamFacts, function: Function) -> bool:
    """What the parameter holds is known from its annotation alone: no dependency is known to
    provide it (a dependency's real value wins over the annotation, see `param_kind`)."""
    dependency = project.dependency_of(param, function.module)
    return dependency is None or project.provided_kind(dependency) is None


def used_as_async(project: ProjectFacts, function: Function, name: str, depth: int = 0) -> bool:
    """Parameter `name` (never rebound) is awaited on (`await db.exec(stmt)`, `async with
    db.begin()`), or handed by an awaited call to a project `async def` whose receiving
    parameter is, up to `MAX_DEPTH` calls deep."""
    facts = function.facts
    if name in facts.locals or facts.param(name) is None:
        return False  # rebound: the awaited object may be another one
    uses = facts.param_uses
    if name in uses.awaited:
        return True
    if depth >= MAX_DEPTH:
        return False
    for passed, call in uses.handoffs:
        if passed != name:
            continue
        callee = project.function_of(call.func, function.module)
        if callee is None or not callee.facts.is_async or callee.facts is facts:
            continue
        received = _receiving_param(callee, call, name)
        if received is not None and used_as_async(project, callee, received, depth + 1):
            return True
    return False


def _receiving_param(callee: Function, call: CallOf, name: str) -> str | None:
    """The callee's parameter that `call` binds the caller's local `name` to."""
    facts = callee.facts
    positional = facts.param_uses.positional
    for index, arg in enumerate(call.args):
        if arg == Local(name) and index < positional and index < len(facts.params):
            return facts.params[index].name
    for keyword, value in call.kwargs:
        if value == Local(name) and facts.param(keyword) is not None:
            return keyword
    return None
