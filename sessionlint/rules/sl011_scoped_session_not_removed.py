"""SL011 scoped-session-not-removed."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts.values import Kind
from sessionlint.project import lifecycle
from sessionlint.rules._base import Rule

_REGISTRIES = frozenset({Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY})

_NEVER_REMOVED = (
    "`{name}` ({registry}) is used by request-handling code but nothing calls `{name}.remove()`: "
    "each {scope} keeps its session, with its connection and identity map, after the request"
)
_REMOVED_ON_THE_LOOP = (
    "`{name}` (thread-local `scoped_session`) is used only by sync endpoints and dependencies, "
    "which FastAPI runs in its thread pool, but `{name}.remove()` is called only from `async def` "
    "code, on the event loop's thread: the sessions of the pool's threads are never removed"
)
_ASYNC_SESSION_PER_THREAD = (
    "`{name}` is a thread-local `scoped_session` of `AsyncSession` used from async code: every "
    "request on the event loop's thread shares one session; use `async_scoped_session(..., "
    "scopefunc=asyncio.current_task)`"
)


class ScopedSessionNotRemoved(Rule):
    """
    ## What it does
    Flags a `scoped_session` / `async_scoped_session` registry that request-handling code
    (endpoints, dependencies, middleware and the functions they call) uses while nothing in
    the checked tree's application code calls `.remove()` on it. Also flags, with its own
    message, a thread-local registry wrapping an `AsyncSession` used from async code.

    ## Why is this bad?
    A registry keeps one session per scope (per thread by default, per task with
    `scopefunc=asyncio.current_task`) until `remove()` closes and forgets it. Without it,
    every thread or task keeps its session after the request: its identity map (memory
    growth, stale objects served to the next request on that thread), and any transaction
    it began, holding a pooled connection (pool exhaustion under load).

    Where `remove()` runs decides which session it removes:
    - a thread-local registry (the default scope): FastAPI runs sync endpoints and sync
      dependencies in its thread pool, each call on any of the pool's threads (a sync
      generator dependency's set-up and tear-down may even run on two different threads),
      while middleware and `async def` code run on the event loop's thread. A `remove()`
      in a middleware or an `async def` dependency removes only the loop thread's session,
      never those of the pool's threads. It must run in sync code, in the same call that
      used the session: at the end of the sync endpoint, in a `finally`. A `remove()` in a
      sync dependency's tear-down removes the session of whichever pool thread runs the
      tear-down, not always the one the set-up or the endpoint used;
    - a task-scoped registry (`async_scoped_session(..., scopefunc=asyncio.current_task)`):
      `remove()` must run in the task that used the session: in an `async def` dependency's
      tear-down (after its `yield`) or at the end of the endpoint. A `BaseHTTPMiddleware`
      runs the endpoint in another task: its `remove()` misses the endpoint's session.
    - a thread-local registry of `AsyncSession` (`scoped_session(async_sessionmaker(...))`)
      used from async code is wrong whatever removes it: every request the event loop
      serves concurrently shares the loop thread's one session.

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import scoped_session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    Session = scoped_session(sessionmaker(bind=engine))
    app = FastAPI()

    @app.get("/users")
    def users():
        return Session.execute(...).all()
    ```

    ## Use instead
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import scoped_session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    Session = scoped_session(sessionmaker(bind=engine))
    app = FastAPI()

    @app.get("/users")
    def users():
        try:
            return Session.execute(...).all()
        finally:
            Session.remove()
    ```

    Better still, give each request its own session from a `sessionmaker` through a
    dependency (`with SessionLocal() as db: yield db`): FastAPI then closes it.

    ## Not flagged
    - a registry that application code calls `remove()` on anywhere (or hands `remove` on
      as a callback), except the one misplacement the checker can prove: a thread-local
      registry used only by sync endpoints and dependencies and removed only from
      `async def` code (flagged with its own message). Other placements are not judged:
      a `remove()` in sync code (a sync dependency's tear-down included) counts, and so
      does any `remove()` of a task-scoped registry;
    - a `remove()` the checker cannot resolve to one registry (a parameter's, an unknown
      object's): it may be this registry's;
    - a registry only scripts, CLI commands, tests or migrations use, or that no endpoint,
      dependency or middleware reaches (through the calls the checker follows);
    - a run that does not see the whole project: the `remove()` may be in a file it did
      not read (the `AsyncSession` message does not rest on an absence, and is given).
    """

    code = "SL011"
    name = "scoped-session-not-removed"
    message = "{description}"

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            self._check(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check(node.target, node.value)

    def _check(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        semantics = self.semantics
        if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
            return
        if not isinstance(value.func, (cst.Name, cst.Attribute)):
            return  # `make()()`: a registry is made by naming its maker (and chains run deep)
        if not semantics.at_module_level or semantics.main_guards:
            return
        kind = semantics.kind_of(value)
        if kind not in _REGISTRIES:
            return
        if semantics.is_test_file or semantics.in_migration or semantics.in_one_shot_code:
            return
        project = semantics.project
        prefix = "".join(f"{scope.qualname}." for scope in semantics.scopes[-1:])
        key, name = semantics.module.key, prefix + target.value
        if not project.lifecycle_answer("registry_users", key, name):
            return
        unpacked = any(arg.star for arg in value.args)  # `**options` may hold a scopefunc
        thread_local = (
            kind is Kind.SYNC_REGISTRY and not unpacked and _argument(value, 1, "scopefunc") is None
        )
        factory = _argument(value, 0, "session_factory")
        if thread_local and semantics.kind_of(factory) is Kind.ASYNC_FACTORY:
            if project.lifecycle_answer("registry_users", key, name + lifecycle.ASYNC_USE):
                self.report(value, description=_ASYNC_SESSION_PER_THREAD.format(name=target.value))
            return
        if not project.knows_whole_project():
            return
        removed_in_sync = project.lifecycle_answer("removed", key, name) or project.lifecycle_answer(
            "removed", *lifecycle.UNKNOWN
        )
        removed_on_loop = project.lifecycle_answer(
            "removed", key, name + lifecycle.ON_LOOP
        ) or project.lifecycle_answer(
            "removed", lifecycle.UNKNOWN[0], lifecycle.UNKNOWN[1] + lifecycle.ON_LOOP
        )
        if not removed_in_sync and not removed_on_loop:
            registry = "thread-local `scoped_session`" if thread_local else _registry_name(kind)
            scope = "thread" if thread_local else "scope"
            self.report(
                value, description=_NEVER_REMOVED.format(name=target.value, registry=registry, scope=scope)
            )
        elif (
            thread_local
            and not removed_in_sync
            and not project.lifecycle_answer("registry_users", key, name + lifecycle.OTHER_USE)
        ):
            self.report(value, description=_REMOVED_ON_THE_LOOP.format(name=target.value))


def _registry_name(kind: Kind | None) -> str:
    return "`async_scoped_session`" if kind is Kind.ASYNC_REGISTRY else "`scoped_session`"


def _argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    """The call's argument by position or keyword; None when it is not given (or unknown)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return positional[position].value if len(positional) > position else None
