"""SL002 session-not-closed."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Kind, Local
from sessionlint.fixes.try_finally import close_in_finally
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import FixAvailability
from sessionlint.rulepass import lifetime
from sessionlint.rulepass.walk import visit
from sessionlint.rules._base import Rule

Creation = tuple[str, cst.SimpleStatementLine, cst.BaseSmallStatement, Kind]


class SessionNotClosed(Rule):
    """
    ## What it does
    Flags a session created by a bare call (`db = SessionLocal()`, not `with` / `async
    with`) in a function body that is not closed on every path: no `finally` whose `try`
    covers the session's use closes it. That includes a dependency that yields the session
    and closes it after the `yield` without `try` / `finally`, and scripts, tasks and
    endpoints that close it only on the happy path. The factory may be a global, a name
    imported inside the function, or a parameter annotated as one (`factory: sessionmaker`,
    `sessionmaker[Session]`, or an alias of those). A name bound to a new session twice in
    one function holds two sessions, each checked from its binding to the next. A session
    made inline as an argument of a project function that only uses it (`purge(db=
    SessionLocal())`, where `purge` neither closes, keeps, returns nor hands on its `db`) is
    closed by nobody: flagged, without a fix.

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
    `with` already closes it somewhere, when the name is bound to a new session more than
    once, or when an `AsyncSession` is created in a plain
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
        references = lifetime.References(frozenset(name for name, *_ in creations))
        visit(node.body, references)
        names = [name for name, *_ in creations]
        for index, (name, statement, assign, kind) in enumerate(creations):
            if name in function.facts.declared_globals or name in references.captured:
                continue
            # The same name bound to a new session again: two sessions, each up to the next.
            repeated = names.count(name) > 1
            until = next((a for n, _, a, _ in creations[index + 1 :] if n == name), None)
            session = lifetime.SessionLifetime(
                self.semantics, references, name, assign, rebound=repeated, until=until
            )
            if not session.leaks() or self._fixture_closes_after_yield(function, references, name):
                continue
            fix = None
            if not session.closers and not repeated:
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
            related = self.semantics.evidence.of_value(Local(name), function.module, function.facts)
            self.report(assign, fix=fix, related=related, session=name, failure=failure)

    def visit_Call(self, node: cst.Call) -> None:
        """`process(db=SessionLocal())`: a session made inline as an argument of a project
        function that only uses it is closed by nobody."""
        semantics = self.semantics
        scope = semantics.running_function
        if scope is None or scope.function is None or semantics.is_migration_file:
            return
        project = semantics.project
        callee = project.function_of(semantics.value_of(node.func), semantics.module)
        if callee is None or callee.facts.is_method:
            return
        positional = [param.name for param in callee.facts.params]
        for index, arg in enumerate(node.args):
            if arg.star or not isinstance(arg.value, cst.Call):
                continue
            name = arg.keyword.value if arg.keyword is not None else None
            if name is None:
                name = positional[index] if index < len(positional) else None
            value = semantics.value_of(arg.value)
            if (
                name is None
                or semantics.created_session_kind(arg.value) is None
                or not project.creates_pooled_session(scope.function, value)
                or not project.only_uses_param(callee, name)
            ):
                continue
            session = self.context.module.code_for_node(arg.value)
            related = [
                *semantics.evidence_of(arg.value),
                semantics.evidence.defined(
                    callee, f"`{callee.facts.name}` only uses its parameter `{name}`: it never closes it"
                ),
            ]
            self.report(arg.value, related=related, session=session, failure=f"`{callee.facts.name}` returns")

    def _creates_session(self, function: Function) -> bool:
        facts, project = function.facts, self.semantics.project
        return any(
            project.creates_pooled_session(function, value)
            for name in facts.assigned_names
            for value in facts.locals.get(name, ())
        )

    def _creations(self, node: cst.FunctionDef, function: Function) -> list[Creation]:
        """`name = <new session>` statements of the function's own scope, in source order,
        of sessions that can keep a pool connection checked out."""
        finder = lifetime.Creations()
        visit(node.body, finder)
        found: list[Creation] = []
        project = self.semantics.project
        for statement, assign, name, value in finder.assignments:
            kind = self.semantics.created_session_kind(value)
            if kind is None or not project.creates_pooled_session(function, self.semantics.value_of(value)):
                continue
            found.append((name, statement, assign, kind))
        return found

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
