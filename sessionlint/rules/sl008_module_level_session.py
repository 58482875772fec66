"""SL008 module-level-session."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts.values import Kind
from sessionlint.report.diagnostics import Related
from sessionlint.rulepass.context import is_main_guard
from sessionlint.rules._base import FileContext, Rule

_FACTORIES = frozenset({Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY})


def _closed_name(statement: cst.BaseSmallStatement) -> str | None:
    """`name.close()` as a statement: the name."""
    call = statement.value if isinstance(statement, cst.Expr) else None
    func = call.func if isinstance(call, cst.Call) else None
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.attr.value == "close":
        return func.value.value
    return None


class ModuleLevelSession(Rule):
    """
    ## What it does
    Flags a session created at module level or in a class body: `db = SessionLocal()`,
    `session = Session(engine)`, `session = AsyncSession(engine)`, or a factory call used in
    any other module-level statement.

    ## Why is this bad?
    Module-level code runs once, at import. The session it creates is shared by every
    request and every thread of the process, and nothing ever closes it: a `Session` is not
    thread-safe (concurrent requests corrupt its identity map and transaction state), one
    failed flush leaves it in a rolled-back state every later request trips over
    (`PendingRollbackError`), its identity map grows with every object it ever loaded, and
    it keeps a pooled connection checked out for as long as a transaction is open. An
    `AsyncSession` shared between tasks fails the same way (`IllegalStateChangeError`).

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)
    db = SessionLocal()

    app = FastAPI()

    @app.get("/health")
    def health():
        return db.execute(text("select 1")).scalar()
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)

    def get_db():
        with SessionLocal() as session:
            yield session

    app = FastAPI()

    @app.get("/health")
    def health(db: Session = Depends(get_db)):
        return db.execute(text("select 1")).scalar()
    ```

    ## Not flagged
    - `scoped_session(...)` / `async_scoped_session(...)` registries: they hand each
      thread or task its own session;
    - calling such a registry at module level (`Session = scoped_session(factory);
      Session()`): it returns the current scope's session, which may be the intended
      thread-local one;
    - session factories (`sessionmaker(...)`, `async_sessionmaker(...)`) and
      `factory.begin()` (a context manager that creates nothing until it is entered);
    - a module-level `with SessionLocal() as db:` block (closed when the block ends);
    - code under `if __name__ == "__main__":` (a script that runs once and exits);
    - a module-level session the module closes itself (`db.close()` at module level: a
      script);
    - sessions created inside functions and lambdas (they run per call; closing them is
      SL002's business).
    """

    code = "SL008"
    name = "module-level-session"
    message = (
        "Session is created {where}: one session is shared by every request and "
        "thread and never closed; create one per request with a dependency"
    )

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._statement_depth = 0
        self._main_guard_depth = 0
        # (the call, the name it is bound to, in a class body); reported once the module is read.
        self._candidates: list[tuple[cst.Call, str | None, bool, list[Related]]] = []
        self._bound_calls: dict[cst.Call, str] = {}
        self._closed_names: set[str] = set()

    def visit_If(self, node: cst.If) -> None:
        if self.semantics.at_module_level and is_main_guard(node):
            self._main_guard_depth += 1

    def leave_If(self, original_node: cst.If) -> None:
        if self.semantics.at_module_level and is_main_guard(original_node):
            self._main_guard_depth -= 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if not self.semantics.at_module_level:
            return
        self._statement_depth += 1
        if self.semantics.scopes:
            return  # a class body: its names are attributes, closed (or not) elsewhere
        for statement in node.body:
            if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
                target = statement.targets[0].target
                if isinstance(target, cst.Name) and isinstance(statement.value, cst.Call):
                    self._bound_calls[statement.value] = target.value
            elif isinstance(statement, cst.AnnAssign) and isinstance(statement.target, cst.Name):
                if isinstance(statement.value, cst.Call):
                    self._bound_calls[statement.value] = statement.target.value
            elif (closed := _closed_name(statement)) is not None:
                self._closed_names.add(closed)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        if self.semantics.at_module_level:
            self._statement_depth -= 1

    def visit_Call(self, node: cst.Call) -> None:
        semantics = self.semantics
        if (
            not self._statement_depth
            or self._main_guard_depth
            or semantics.in_lambda
            or not semantics.at_module_level
        ):
            return
        if semantics.kind_of(node.func) in _FACTORIES and semantics.kind_of(node) in (
            Kind.SYNC_SESSION,
            Kind.ASYNC_SESSION,
        ):
            evidence = semantics.evidence_of(node)  # the factory it calls, and its engine
            self._candidates.append((node, self._bound_calls.get(node), bool(semantics.scopes), evidence))

    def leave_Module(self, original_node: cst.Module) -> None:
        for call, name, scope_is_class, related in self._candidates:
            if name is None or name not in self._closed_names:
                where = "in a class body" if scope_is_class else "at module level"
                self.report(call, related=related, where=where)
