"""SL002 session-not-closed."""

from __future__ import annotations

import libcst as cst

from sessionlint.diagnostics import FixAvailability
from sessionlint.fixes.try_finally import close_in_finally
from sessionlint.rules._base import Rule
from sessionlint.semantics import lifetime
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.project import Function
from sessionlint.semantics.values import Kind
from sessionlint.walk import visit

Creation = tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, Kind]


class SessionNotClosed(Rule):
    """
    ## What it does
    Flags a session created by a bare call (`db = SessionLocal()`, not `with` / `async
    with`) in a function body that is not closed on every path: no `finally` whose `try`
    covers the session's use closes it. That includes a dependency that yields the session
    and closes it after the `yield` without `try` / `finally`, and scripts, tasks and
    endpoints that close it only on the happy path.

    ## Why is this bad?
    When anything between creating and closing the session raises (a failed query, an
    `HTTPException`, a validation error), `close()` never runs and the session keeps its
    connection checked out. Each failing request leaks one connection; a handful of them
    exhaust the pool and the whole service stops answering (`TimeoutError: QueuePool
    limit ... reached`). In a `yield` dependency, FastAPI throws the endpoint's exception
    in at the `yield`, so code after it is skipped too.

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(engine)
    app = FastAPI()


    @app.post("/users")
    def create_user(name: str):
        db = SessionLocal()
        db.execute(text("INSERT INTO users (name) VALUES (:name)"), {"name": name})
        db.commit()
        db.close()
        return {"name": name}
    ```

    ## Use instead
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(engine)
    app = FastAPI()


    @app.post("/users")
    def create_user(name: str):
        db = SessionLocal()
        try:
            db.execute(text("INSERT INTO users (name) VALUES (:name)"), {"name": name})
            db.commit()
        finally:
            db.close()
        return {"name": name}
    ```
    or `with SessionLocal() as db:` (`async with` for an `AsyncSession`).

    ## Not flagged
    - a session closed in a `finally` whose `try` covers its use: `db.close()` or
      `await db.close()`, also under an `if`, or the session passed to any call there
      (`close_db(db)`);
    - a session closed by a later `with db:` / `async with db:` that covers its use;
    - a session yielded inside a `try` whose `finally` closes it (the dependency pattern);
    - a session returned by the function (its caller owns it; a dependency that returns
      its session is SL001's business);
    - a session stored on an attribute (`self.db = db`) or in a container (a list, tuple,
      set or dict, `sessions.append(db)`), or bound to another name;
    - a session handed to `contextlib.closing(db)` or to an `ExitStack`
      (`stack.enter_context(db)`, `stack.callback(db.close)`), or `db.close` passed along;
    - a session the function never closes itself and hands to a class or to a callee
      outside the checked tree (`UnitOfWork(db)`, `background_tasks.add_task(job, db)`):
      that code may own it now. Passing it to a project function (`crud.create(db, ...)`)
      only uses it;
    - pytest fixtures that close the session after their `yield` (pytest always runs a
      fixture's teardown, even when the test fails);
    - sessions from a `scoped_session` / `async_scoped_session` registry (the registry
      owns them and `remove()` closes them), and sessions from a helper that also keeps
      them somewhere (`registry.add(sess); return sess`: the registry closes them);
    - sessions created in `with` / `async with` (closed by the block), sessions used from
      a nested function or lambda, and `global` sessions;
    - a session that is never used after it is created (it holds no connection);
    - a session bound to something not known to be an engine (`Session(connection)`,
      `SessionLocal(bind=conn)`): closing it would not give that connection back, its
      owner does; and a session class called without a bind (`Session()`), which cannot
      connect;
    - Alembic `env.py` and migration scripts: one-shot code whose session is bound to the
      migration's own connection (`Session(bind=op.get_bind())`), which Alembic closes;
    - module-level sessions (SL008's business).

    ## Fix safety
    Safe: the statements after the creation, up to the end of the function body or up to
    an existing trailing `db.close()`, are wrapped in `try:` and the close moves to (or is
    added in) `finally:` (`await db.close()` for an `AsyncSession`). The same statements
    run in the same order; the error paths now close the session too.

    Unsafe when a value computed from the session leaves the function from the wrapped
    statements, through any local variable: returned or yielded (`return db.execute(...)`,
    `result = db.scalars(q)` then `return result`, `return load(db)`, an object passed to
    `db.add()` or `db.refresh()`), stored on a parameter's or a global's attribute or item
    (`self.rows = rows`, `cache[key] = user`, `self.items.append(row)`), or used by a
    nested function or lambda. The session is then closed before that value is used, so a
    lazy `Result` / `ScalarResult` or query can no longer be read and loaded objects are
    detached (their lazy attributes raise). A value computed from the session counts even
    when it is plain data (`return {"id": user.id}`): the run does not tell them apart.
    Values handed out after an existing trailing `db.close()` do not count: the original
    had closed the session there already. Yielding the session itself (a dependency)
    stays safe. No fix is offered when
    the session is not created at the top level of the function body, when a `try` or
    `with` already closes it somewhere, or when an `AsyncSession` is created in a plain
    `def` (where `await` is not available).
    """

    code = "SL002"
    name = "session-not-closed"
    message = "Session `{session}` is not closed when {failure}; close it in `finally`"
    fix_title = "Close it in `finally`"
    fix_availability = FixAvailability.SOMETIMES

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.semantics.function_for(node)
        if function is None or not isinstance(node.body, cst.IndentedBlock):
            return
        if self.semantics.is_migration_file:
            return  # one-shot: the session is bound to the migration's own connection
        if not self._creates_session(function):
            return  # the common case, answered from the facts without walking the body
        creations = self._creations(node, function)
        if not creations:
            return
        references = lifetime.References(frozenset(creations))
        visit(node.body, references)
        for name, (statement, assign, kind) in creations.items():
            if name in function.facts.declared_globals or name in references.captured:
                continue
            session = lifetime.SessionLifetime(self.semantics, references, name, assign)
            if not session.leaks() or self._fixture_closes_after_yield(function, references, name):
                continue
            fix = None
            if not session.closers:
                found = close_in_finally(
                    self.context, node, statement, name, is_async=kind.is_async, references=references
                )
                if found is not None:
                    edit, safe = found
                    end = edit.end_location  # just past the last wrapped line's break
                    rows = edit.location.row, end.row - (end.column == 1)
                    safe = safe and not _hands_out_derived(function, name, *rows)
                    fix = self.make_fix([edit], safe=safe)
            failure = (
                f"an exception reaches the `yield` of `{function.facts.name}`"
                if function.facts.is_generator
                else f"`{function.facts.name}` raises"
            )
            self.report(assign, fix=fix, session=name, failure=failure)

    def _creates_session(self, function: Function) -> bool:
        facts, project = function.facts, self.semantics.project
        return any(
            project.creates_pooled_session(function, value)
            for name in facts.assigned_names
            for value in facts.locals.get(name, ())
        )

    def _creations(self, node: cst.FunctionDef, function: Function) -> dict[str, Creation]:
        """`name = <new session>` statements of the function's own scope, one per name, of
        sessions that can keep a pool connection checked out."""
        finder = lifetime.Creations()
        visit(node.body, finder)
        found: dict[str, Creation] = {}
        repeated = set()
        project = self.semantics.project
        for statement, assign, name, value in finder.assignments:
            kind = self.semantics.created_session_kind(value)
            if kind is None or not project.creates_pooled_session(function, self.semantics.value_of(value)):
                continue
            if name in found:
                repeated.add(name)
            found[name] = (statement, assign, kind)
        # Created twice: which `close()` belongs to which session is a guess. Don't.
        return {name: found[name] for name in found if name not in repeated}

    def _fixture_closes_after_yield(
        self, function: Function, references: lifetime.References, name: str
    ) -> bool:
        """A pytest fixture closing it after its `yield`: pytest always runs the teardown."""
        project = self.semantics.project
        if not function.facts.is_generator or not (project.decorator_names(function) & vocab.PYTEST_FIXTURES):
            return False
        first_yield = min(references.yields, default=None)
        closing = (lifetime.CLOSE, lifetime.PASS, lifetime.HANDOFF)
        return first_yield is not None and any(
            ref.order > first_yield for ref in references.of(name) if ref.how in closing
        )


def _hands_out_derived(function: Function, name: str, first: int, last: int) -> bool:
    """A value computed from the session leaves the function (returned, yielded, stored
    outside it, captured by a closure), through any local, on lines `first`..`last` (the
    statements the fix wraps; after them the original closed the session already):
    closing it first breaks that value (a lazy result can no longer be read, loaded
    objects are detached). Yielding the session itself (a dependency) does not count."""
    facts = function.facts
    derived = facts.derived_from(name)
    return any(
        first <= line <= last and (local in derived or (local == name and not bare))
        for local, line, bare in facts.leaving
    )
