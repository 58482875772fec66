"""SL001 session-dependency-returns."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts.values import Kind
from sessionlint.fixes.dependency import generator_dependency
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Applicability, Fix, FixAvailability
from sessionlint.rules._base import UNSEEN_CALLERS, Rule


class SessionDependencyReturns(Rule):
    """
    ## What it does
    Flags a FastAPI session dependency that `return`s the session it creates
    (`return SessionLocal()`, or `db = SessionLocal()` then `return db`) instead of yielding
    it.

    ## Why is this bad?
    FastAPI only runs clean-up code for dependencies that `yield`. A returned session is
    never closed: its connection stays checked out until the garbage collector happens to
    free the session. Every test passes, and under real traffic the pool runs dry:
    requests hang and fail with `TimeoutError: QueuePool limit of size 5 overflow 10
    reached`.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(engine)
    app = FastAPI()


    def get_db():
        db = SessionLocal()
        return db


    @app.get("/items")
    def list_items(db: Session = Depends(get_db)):
        return []
    ```

    ## Use instead
    ```python
    from collections.abc import Iterator

    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(engine)
    app = FastAPI()


    def get_db() -> Iterator[Session]:
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()


    @app.get("/items")
    def list_items(db: Session = Depends(get_db)):
        return []
    ```
    or `get_db = session_dependency(SessionLocal)` from `sessionlint.runtime` (for an
    `AsyncSession`: `async with AsyncSessionLocal() as session: yield session`, or
    `async_session_dependency`).

    ## Not flagged
    - a dependency that yields its session (closing it is SL002's business);
    - a function that returns a session but is not a dependency: nothing in the checked
      tree passes it to `Depends` / `Security` (directly, in `Annotated`, or through an
      alias such as `SessionDep`), and its name is not in `dependency-names`;
    - a function named in `dependency-names` that something in the checked tree calls
      directly (a session factory helper: its caller owns, and closes, the session);
    - a function named in `dependency-names` in a migration (Alembic `env.py` and
      migration scripts, any module importing `alembic.context`) that no `Depends` names:
      Alembic runs it, on the migration's connection, FastAPI never does;
    - a method or a nested function named in `dependency-names` but never passed to
      `Depends` (calls through `self` or from the enclosing function are not tracked, so
      whether something calls it directly is unknown);
    - returning a session the function did not create: a parameter (a session passed on
      from another dependency), a `with ... as db` target, a `scoped_session` registry's
      session (the registry owns it), or a module-level session (SL008);
    - a provider: a dependency handing on a session it did not create
      (`return request.state.db`, or what a helper returns when only the helper's return
      annotation says `Session`); annotations tell what a value is, never who owns it.

    ## Fix safety
    The fix rewrites the function into the reference dependency of `sessionlint.runtime`
    (sync: create, `try`, `yield`, `finally: close()`; async: `async with factory() as
    session: yield session`), keeps the variable name and the factory expression, moves
    statements between creating and returning the session before the `yield`, and makes
    the return annotation `Iterator[...]` / `AsyncIterator[...]` (the old annotation when it
    was the session type, else the session class when the module imports it; otherwise
    the annotation is left as it was), adding the `collections.abc` import once.

    It is safe when every use of the function in the project goes through `Depends`:
    FastAPI drives generator dependencies itself. It is unsafe when something calls the
    function directly, because that caller would now get a generator instead of a session,
    and unsafe whenever the run cannot know that nothing does: when it did not see every
    module of the project (the Python files under the folder of the configuration file,
    else under the common folder of the checked paths, with the same excludes; a module
    counts as seen when this run read it or the cache holds its facts for its current
    content), as with stdin, a single file named on the command line or the files
    pre-commit passes; when a call through a module name two source roots share (two
    services' `app.db`) may be a call of it; and for methods and nested functions, whose
    calls are not tracked. The fix's title then says why.
    No fix is offered when the function has other `return`s or a `yield`, when the session
    is created by an `await`, when the `return` is not the last statement, or when a sync
    function creates an async session (or the other way round).

    ## Options
    `dependency-names`: functions treated as dependencies even when no `Depends` in the
    checked tree names them (default `get_db`, `get_session`, `get_db_session`,
    `get_async_db`, `get_async_session`).
    """

    code = "SL001"
    name = "session-dependency-returns"
    message = (
        "Dependency `{function}` returns session `{session}` instead of yielding it; "
        "it is never closed and the pool runs dry under load"
    )
    fix_title = "Yield the session and close it when the request is done"
    fix_availability = FixAvailability.SOMETIMES

    def visit_Return(self, node: cst.Return) -> None:
        semantics = self.semantics
        function = semantics.function
        if function is None or node.value is None:
            return
        kind = semantics.created_session_kind(node.value)
        if kind is None or not semantics.project.is_session_dependency(function):
            return
        definition = cst.ensure_type(semantics.scopes[-1].node, cst.FunctionDef)
        fix = self._fix(definition, function, node, kind)
        evidence = semantics.evidence
        related = [*evidence.dependency_use(function), *semantics.evidence_of(node.value)]
        if fix is not None and fix.applicability is Applicability.SAFE:
            # The safe fix rests on FastAPI being the only caller.
            related.append(evidence.no_direct_caller(function))
        self.report(
            node,
            fix=fix,
            related=related,
            function=function.facts.name,
            session=self.quote(node.value),
        )

    def _fix(
        self, definition: cst.FunctionDef, function: Function, returned: cst.Return, kind: Kind
    ) -> Fix | None:
        edits = generator_dependency(self.context, definition, function, returned, kind)
        if edits is None:
            return None
        title = (
            "Yield the session from `async with`"
            if kind.is_async
            else "Yield the session and close it in `finally`"
        )
        # Safe when FastAPI is the only caller: a direct caller would now get a generator.
        project = self.semantics.project
        if project.has_known_caller(function):
            return self.make_fix(
                edits, safe=False, title=f"{title} (unsafe: `{function.facts.name}` is called directly)"
            )
        if not project.knows_every_use(function):
            return self.make_fix(edits, safe=False, title=f"{title} ({UNSEEN_CALLERS})")
        return self.make_fix(edits, title=title)
