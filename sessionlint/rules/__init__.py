"""The rules, in code order. Registration is explicit: a rule exists when it is listed here."""

from __future__ import annotations

from sessionlint.rules._base import Rule
from sessionlint.rules.sl001_session_dependency_returns import SessionDependencyReturns
from sessionlint.rules.sl002_session_not_closed import SessionNotClosed
from sessionlint.rules.sl003_engine_in_function import EngineInFunction
from sessionlint.rules.sl004_sync_session_in_async import SyncSessionInAsync
from sessionlint.rules.sl005_engine_without_pre_ping import EngineWithoutPrePing
from sessionlint.rules.sl006_async_session_expire_on_commit import AsyncSessionExpireOnCommit
from sessionlint.rules.sl007_session_in_background_task import SessionInBackgroundTask
from sessionlint.rules.sl008_module_level_session import ModuleLevelSession
from sessionlint.rules.sl009_async_session_not_awaited import AsyncSessionNotAwaited
from sessionlint.rules.sl010_async_session_concurrent_use import AsyncSessionConcurrentUse
from sessionlint.rules.sl011_scoped_session_not_removed import ScopedSessionNotRemoved
from sessionlint.rules.sl012_async_engine_not_disposed import AsyncEngineNotDisposed
from sessionlint.rules.sl013_dependency_called_by_hand import DependencyCalledByHand
from sessionlint.rules.sl100_unused_noqa import UnusedNoqa

ALL_RULES: tuple[type[Rule], ...] = (
    SessionDependencyReturns,
    SessionNotClosed,
    EngineInFunction,
    SyncSessionInAsync,
    EngineWithoutPrePing,
    AsyncSessionExpireOnCommit,
    SessionInBackgroundTask,
    ModuleLevelSession,
    AsyncSessionNotAwaited,
    AsyncSessionConcurrentUse,
    ScopedSessionNotRemoved,
    AsyncEngineNotDisposed,
    DependencyCalledByHand,
    UnusedNoqa,
)

RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Rule"]
