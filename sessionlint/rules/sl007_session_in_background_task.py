"""SL007 session-in-background-task."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Kind
from sessionlint.rules._base import Rule


class SessionInBackgroundTask(Rule):
    """
    ## What it does
    Flags a request-scoped session (a parameter FastAPI fills from a session dependency
    through `Depends` / `Annotated`) passed to `BackgroundTasks.add_task(...)`, directly,
    by keyword, wrapped in `functools.partial`, or captured by a `lambda: task(db)`.

    ## Why is this bad?
    The session belongs to the request, and background tasks run after the response has
    been sent. With FastAPI 0.106 to 0.117, or with a dependency declared with
    `scope="function"`, the dependency's cleanup has already closed the session when the
    task runs: the task fails with `DetachedInstanceError` or closed-session errors, after
    the client was told everything went well. With other FastAPI versions the cleanup
    waits for the tasks, so the request's connection stays checked out of the pool for the
    task's whole run (a slow e-mail or report holds a connection), and under load the pool
    runs dry. Either way the task should open its own session.

    ## Example
    ```python
    from fastapi import BackgroundTasks, Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)
    app = FastAPI()

    def get_db():
        with SessionLocal() as session:
            yield session

    def write_audit_log(db: Session, message: str) -> None:
        ...

    @app.post("/orders")
    def create_order(background_tasks: BackgroundTasks, db: Session = Depends(get_db)):
        background_tasks.add_task(write_audit_log, db, "order created")
        return {"ok": True}
    ```

    ## Use instead
    ```python
    from fastapi import BackgroundTasks, Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)
    app = FastAPI()

    def get_db():
        with SessionLocal() as session:
            yield session

    def write_audit_log(message: str) -> None:
        with SessionLocal() as db:
            ...

    @app.post("/orders")
    def create_order(background_tasks: BackgroundTasks, db: Session = Depends(get_db)):
        background_tasks.add_task(write_audit_log, "order created")
        return {"ok": True}
    ```

    ## Not flagged
    - tasks that open their own session (nothing session-like is passed);
    - passing the session factory (`SessionLocal`, an `async_sessionmaker`) instead of the
      session: the task opens its own;
    - passing an engine;
    - `request.state.db` and other attributes: where they come from is not known (a
      dependency that returns `request.state.db` of its `Request` parameter with a return
      annotation saying `Session` provides a request-scoped session: flagged);
    - a dependency returning what a helper gives when only the helper's return annotation
      says `Session`: whether it is request-scoped is not known;
    - a session parameter without a `Depends` (a plain function argument: the caller owns
      it), or one the function rebinds before the call;
    - a `lambda` with parameters (`lambda db: task(db)`): what it is called with is not
      known;
    - `add_task` on an object not known to be `fastapi.BackgroundTasks` /
      `starlette.background.BackgroundTasks` (a parameter annotation tells).
    """

    code = "SL007"
    name = "session-in-background-task"
    message = (
        "Request session `{session}` is passed to a background task: with FastAPI 0.106-0.117 "
        'or a `scope="function"` dependency it is closed before the task runs '
        "(`DetachedInstanceError`), with other versions it keeps the request's connection "
        "checked out for the task's whole run; let the task open its own session"
    )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "add_task":
            return
        receiver = func.value
        if self.semantics.kind_of(receiver) != Kind.BACKGROUND_TASKS:
            return
        for argument in self._passed_values(node):
            if self.semantics.request_session_kind(argument) is not None:
                self.report(
                    argument,
                    related=self.semantics.evidence_of(argument),
                    session=cst.ensure_type(argument, cst.Name).value,
                )

    def _passed_values(self, call: cst.Call) -> Iterator[cst.BaseExpression]:
        """The values a call hands on, through `functools.partial(task, ...)` and `lambda: task(...)`."""
        for arg in call.args:
            if arg.star:
                continue
            value = arg.value
            if isinstance(value, cst.Name):
                yield value
            elif isinstance(value, cst.Call) and self.semantics.qualified_name(value) in vocab.PARTIAL:
                yield from self._passed_values(value)
            elif _is_closure_call(value):
                # `lambda: task(db)`: the task still gets the request's session.
                yield from self._passed_values(
                    cst.ensure_type(cst.ensure_type(value, cst.Lambda).body, cst.Call)
                )


def _is_closure_call(value: cst.BaseExpression) -> bool:
    """A lambda without parameters that calls something: its names are the function's."""
    if not isinstance(value, cst.Lambda) or not isinstance(value.body, cst.Call):
        return False
    params = value.params
    starred = isinstance(params.star_arg, (cst.Param, cst.ParamStar)) or params.star_kwarg is not None
    return not (params.params or params.posonly_params or params.kwonly_params or starred)
