"""Which project functions do sync session I/O when called, themselves or through calls.

SL004's question for a call in an `async def`: `load_user(user_id)` where `load_user`
opens `with SessionLocal() as db` blocks the event loop as much as the `with` would. Only
project functions are followed (unknown callees answer "no"), through plain `def`s only
(an `async def` callee is its own SL004 case; a generator does nothing until iterated), to a
bounded depth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionlint.facts.values import Kind, Ref

if TYPE_CHECKING:
    from sessionlint.project.index import Function, ProjectFacts

MAX_DEPTH = 4


class BlockingCalls:
    """Answers for one file's check, memoized per function."""

    def __init__(self, project: ProjectFacts) -> None:
        self.project = project
        self._chains: dict[tuple[str, str], tuple[Function, ...] | None] = {}

    def chain(self, function: Function, depth: int = 0) -> tuple[Function, ...] | None:
        """The calls from `function` down to one that opens a sync session and uses it
        (`function` first), or None."""
        key = (function.module.key, function.facts.qualname)
        if key in self._chains:
            return self._chains[key]
        self._chains[key] = None  # a cycle of calls finds nothing through itself
        found = self._search(function, depth)
        self._chains[key] = found
        return found

    def _search(self, function: Function, depth: int) -> tuple[Function, ...] | None:
        facts, project = function.facts, self.project
        if facts.is_async or facts.is_generator or project.is_context_manager(function):
            return None
        if self._opens_sync_session(function):
            return (function,)
        if depth >= MAX_DEPTH:
            return None
        for qualname in sorted(facts.calls):
            callee = project.function_of(Ref(qualname), function.module)
            if callee is None or callee.facts is facts:
                continue
            below = self.chain(callee, depth + 1)
            if below is not None:
                return (function, *below)
        return None

    def _opens_sync_session(self, function: Function) -> bool:
        """Creates a sync session and keeps it to itself (one it returns is the caller's,
        and the caller's use of it is checked there)."""
        project = self.project
        if project.creates_session(function) != Kind.SYNC_SESSION:
            return False
        result = project.call_result_kind(function, awaited=False)
        return result is None or not result.is_session
