"""SL006 async-session-expire-on-commit."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import CallOf, Kind
from sessionlint.fixes.arguments import add_keyword_argument
from sessionlint.report.diagnostics import FixAvailability
from sessionlint.rules._base import Rule

_UNSAFE_TITLE = (
    "Add `expire_on_commit=False` (unsafe: attributes read after `commit()` are no longer reloaded)"
)


class AsyncSessionExpireOnCommit(Rule):
    """
    ## What it does
    Flags an `async_sessionmaker(...)`, `sessionmaker(class_=AsyncSession)` or
    `AsyncSession(...)` call (SQLAlchemy's or SQLModel's `AsyncSession`) that does not pass
    `expire_on_commit`.

    ## Why is this bad?
    `expire_on_commit` defaults to `True`: after `await session.commit()` every loaded object
    is expired, and the next attribute access lazy-loads it from the database. Under asyncio
    that implicit I/O cannot run, and SQLAlchemy raises `MissingGreenlet` ("greenlet_spawn
    has not been called"), typically while FastAPI serialises the response, after the work
    is done and committed. `expire_on_commit=False` keeps the loaded values, as SQLAlchemy's
    asyncio documentation recommends.

    ## Example
    ```python
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
    SessionLocal = async_sessionmaker(engine)
    ```

    ## Use instead
    ```python
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
    SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
    ```

    ## Not flagged
    - an explicit `expire_on_commit=` of any value (`True` is the user's decision);
    - `**kwargs` in the call (the option may be in there);
    - `async_scoped_session(...)`: it takes no such argument (the factory it wraps is
      checked instead);
    - calling a session factory (`SessionLocal()`): the factory's own call is checked;
    - a plain `sessionmaker(...)` or `Session(...)` (sync: expired attributes reload
      transparently);
    - an `AsyncSession` of another library, or a name not imported from SQLAlchemy or
      SQLModel;
    - tests (test files, pytest fixtures) and one-shot code (a script's
      `if __name__ == "__main__":` block and the functions only it reaches, modules under a
      `scripts/` folder that no application module imports, `click` / `typer` commands):
      there an expired attribute fails at once, where it is written, not under load in a
      served response.

    A factory whose sessions run only Core statements (`text()` SQL, `insert(...)` without
    loading ORM objects) is still flagged: expiry cannot bite those uses, but a factory is
    shared (other modules, later code) and that every use stays Core-only cannot be proven,
    while the fix changes nothing for such sessions.

    ## Fix safety
    Unsafe: the fix adds the single keyword argument `expire_on_commit=False`, and that
    changes what code reading attributes after `commit()` sees. Objects keep the values
    they had at commit time instead of reloading: an attribute that the database set or
    changed on commit (a server default, a trigger, `onupdate`, another transaction's
    write) now reads as the stale value where it used to read the fresh one, and code that
    relied on that reload must `await session.refresh(obj)`. Whether any committed
    object's attribute is read again is a question about every function that uses the
    factory, which the run cannot answer, so the fix is applied only with
    `--unsafe-fixes`. Review it once: for most FastAPI apps it is exactly what SQLAlchemy's
    asyncio documentation recommends.
    """

    code = "SL006"
    name = "async-session-expire-on-commit"
    message = (
        "`{call}` does not set `expire_on_commit`: after `await session.commit()` every "
        "attribute access on a loaded object lazy-loads, which raises `MissingGreenlet` under "
        "asyncio (typically while the response is serialised)"
    )
    fix_title = "Add `expire_on_commit=False`"
    fix_availability = FixAvailability.ALWAYS

    def visit_Call(self, node: cst.Call) -> None:
        semantics = self.semantics
        if semantics.in_test_code or semantics.in_one_shot_code:
            return
        if not self._builds_async_session(node):
            return
        call = self.semantics.value_of(node)
        if isinstance(call, CallOf) and call.may_set("expire_on_commit"):
            return
        edit = add_keyword_argument(self.context, node, "expire_on_commit", "False")
        call = self.context.module.code_for_node(node.func)
        # Unsafe: attributes read after `commit()` keep their old values instead of reloading.
        fix = self.make_fix([edit], safe=False, title=_UNSAFE_TITLE)
        related = semantics.evidence_of(node)  # the session class an async factory makes
        self.report(node, fix=fix, related=related, call=f"{call}(...)" if node.args else f"{call}()")

    def _builds_async_session(self, node: cst.Call) -> bool:
        """An async session factory or an async session constructed from its class."""
        qualname = self.semantics.qualified_name(node)
        if qualname in vocab.ASYNC_SESSIONMAKERS or qualname in vocab.ASYNC_SESSION_CLASSES:
            return True
        return qualname in vocab.SESSIONMAKERS and self.semantics.kind_of(node) == Kind.ASYNC_FACTORY
