"""SL002 session-not-closed."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from sessionlint.diagnostics import Edit, Fix, FixAvailability
from sessionlint.fixes.blocks import body_indent, indent_text, line_end, line_start, newline_at
from sessionlint.rules._base import Rule
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.project import Function
from sessionlint.semantics.values import Kind

_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_HANDED_OVER_BY_METHOD = vocab.EXIT_STACK_METHODS | vocab.CONTAINER_STORE_METHODS
_SESSION_CLASSES = vocab.SYNC_SESSION_CLASSES | vocab.ASYNC_SESSION_CLASSES

# How a reference to the session variable uses it.
_USE = "use"  # needs a `finally` (or `with`) that closes it
_CLOSE = "close"  # `db.close()`
_PASS = "pass"  # `f(db)`: closes it when it stands in a `finally`
_WITH = "with"  # `with db:` closes it at the end of the block
_BIND = "bind"  # assigned again
_ESCAPE = "escape"  # ownership leaves the function
_HANDOFF = "handoff"  # `Worker(db)`, `tasks.add_task(f, db)`: may take ownership, or only use it


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

    Unsafe when a wrapped `return` or `yield` hands out a value computed from the session
    (`return db.execute(...)`, `return load(db)`): the session is then closed before the
    caller uses that value, so a lazy result can no longer be read and loaded objects are
    detached. Yielding the session itself (a dependency) stays safe. No fix is offered when
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
        creations = self._creations(node)
        if not creations:
            return
        references = _References(frozenset(creations))
        node.body.visit(references)
        for name, (statement, assign, kind) in creations.items():
            if name in function.facts.declared_globals or name in references.captured:
                continue
            verdict = _Verdict(self, references, name, assign)
            if not verdict.leaks() or self._fixture_closes_after_yield(function, verdict):
                continue
            fix = None
            if not verdict.closers:
                fix = _Wrap(self, node, statement, name, kind, references).fix()
            failure = (
                f"an exception reaches the `yield` of `{function.facts.name}`"
                if function.facts.is_generator
                else f"`{function.facts.name}` raises"
            )
            self.report(assign, fix=fix, session=name, failure=failure)

    def _creates_session(self, function: Function) -> bool:
        project = self.semantics.project
        return any(
            project.created_session_kind(value, function.module, function.facts) is not None
            for values in function.facts.locals.values()
            for value in values
        )

    def _creations(
        self, node: cst.FunctionDef
    ) -> dict[str, tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, Kind]]:
        """`name = <new session>` statements of the function's own scope, one per name."""
        finder = _Creations()
        node.body.visit(finder)
        found: dict[str, tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, Kind]] = {}
        repeated = set()
        for statement, assign, name, value in finder.assignments:
            kind = self.semantics.created_session_kind(value)
            if kind is None or self._holds_no_pool_connection(value):
                continue
            if name in found:
                repeated.add(name)
            found[name] = (statement, assign, kind)
        # Created twice: which `close()` belongs to which session is a guess. Don't.
        return {name: found[name] for name in found if name not in repeated}

    def _holds_no_pool_connection(self, value: cst.BaseExpression) -> bool:
        """A session that cannot keep one of our pool's connections checked out.

        Bound to something not known to be an engine (`Session(connection)`: closing the
        session would not return that connection, its owner does), or a session class
        called without any bind (`Session()`: it cannot connect at all).
        """
        if not isinstance(value, cst.Call):
            return False
        if any(arg.star == "**" for arg in value.args):
            return True  # the bind may be in there: unsure
        keywords = {arg.keyword.value: arg.value for arg in value.args if arg.keyword is not None}
        positional = [arg.value for arg in value.args if arg.keyword is None and not arg.star]
        bind = keywords.get("bind", positional[0] if positional else None)
        if bind is not None:
            return self.semantics.kind_of(bind) != Kind.ENGINE
        is_class = self.semantics.qualified_name(value.func) in _SESSION_CLASSES
        return is_class and "binds" not in keywords

    def _fixture_closes_after_yield(self, function: Function, verdict: _Verdict) -> bool:
        project = self.semantics.project
        if not function.facts.is_generator or not (project.decorator_names(function) & vocab.PYTEST_FIXTURES):
            return False
        first_yield = min(verdict.references.yields, default=None)
        return first_yield is not None and any(
            ref.order > first_yield
            for ref in verdict.references.of(verdict.name)
            if ref.how in (_CLOSE, _PASS, _HANDOFF)
        )


@dataclass(frozen=True)
class _Reference:
    name: str
    node: cst.Name
    ancestors: tuple[cst.CSTNode, ...]
    order: int
    how: str


class _References(cst.CSTVisitor):
    """Every reference to the tracked names in a function body's own scope, in source order."""

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names
        self.stack: list[cst.CSTNode] = []
        self.order = 0
        self.spans: dict[cst.CSTNode, tuple[int, int]] = {}
        self.found: list[_Reference] = []
        self.captured: set[str] = set()
        self.yields: list[int] = []

    def of(self, name: str) -> list[_Reference]:
        return [ref for ref in self.found if ref.name == name]

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.order += 1
        self.spans[node] = (self.order, self.order)
        if isinstance(node, _NESTED_SCOPES):
            # A closure may close it, keep it, or run later: not this function's business.
            self.captured |= _names_in(node) & self.names
            self.stack.append(node)
            return False
        if isinstance(node, cst.Yield):
            self.yields.append(self.order)
        if isinstance(node, cst.Name) and node.value in self.names and self.stack:
            how = _how_used(node, self.stack)
            if how is not None:
                self.found.append(_Reference(node.value, node, tuple(self.stack), self.order, how))
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()
        start, _ = self.spans[original_node]
        self.spans[original_node] = (start, self.order)


class _Verdict:
    """Whether one session variable is closed on every path after its creation."""

    def __init__(
        self,
        rule: SessionNotClosed,
        references: _References,
        name: str,
        assign: cst.BaseSmallStatement,
    ) -> None:
        self.rule = rule
        self.references = references
        self.name = name
        self.created_at = references.spans[assign][1]
        refs = references.of(name)
        self.refs = [self._refine(ref) for ref in refs]
        # `try` statements whose `finally` closes it, `with db:` statements.
        self.closers: list[cst.CSTNode] = []
        for ref in self.refs:
            if ref.how in (_CLOSE, _PASS, _HANDOFF):
                owner = _try_of_finally(ref.ancestors)
                if owner is not None and owner not in self.closers:
                    self.closers.append(owner)
            elif ref.how == _WITH:
                self.closers.append(ref.ancestors[-2])
        # The function takes the duty to close it itself (perhaps only on the happy path).
        self.closes_it = bool(self.closers) or any(ref.how == _CLOSE for ref in self.refs)

    def _refine(self, ref: _Reference) -> _Reference:
        """Calls need the semantic model: `closing(db)`, and `return f(db)` of an unknown `f`."""
        if ref.how != _PASS:
            return ref
        call = cst.ensure_type(ref.ancestors[-2], cst.Call)
        semantics = self.rule.semantics
        if semantics.qualified_name(call.func) in vocab.OWNERSHIP_TAKERS:
            return _replace(ref, _ESCAPE)
        value = semantics.value_of(call.func)
        if semantics.project.function_of(value, semantics.module) is not None:
            return ref  # `crud.create_user(db, ...)`: a project function that uses it
        # `return Repository(db)` hands the session over; elsewhere a class or an unknown
        # callee may keep it (`UnitOfWork(db)`, `background_tasks.add_task(f, db)`).
        in_return = any(isinstance(a, cst.Return) for a in ref.ancestors)
        return _replace(ref, _ESCAPE if in_return else _HANDOFF)

    def leaks(self) -> bool:
        refs = self.refs
        if any(ref.how == _ESCAPE for ref in refs):
            return False
        after = [ref for ref in refs if ref.order > self.created_at]
        if any(ref.how == _BIND for ref in after):
            return False  # rebound: which session a later line means is a guess
        if not self.closes_it and any(ref.how == _HANDOFF for ref in refs):
            return False  # never closed here, handed to code that may own it: unsure
        closed_from = min(
            (
                self.references.spans[closer][1]
                for closer in self.closers
                if self.references.spans[closer][1] > self.created_at
            ),
            default=None,
        )
        for ref in after:
            if ref.how not in (_USE, _PASS, _HANDOFF):
                continue
            if closed_from is not None and ref.order > closed_from:
                continue  # used after it was closed: a new transaction, not this leak
            if not any(ancestor in self.closers for ancestor in ref.ancestors):
                return True
        return False


def _replace(ref: _Reference, how: str) -> _Reference:
    return _Reference(ref.name, ref.node, ref.ancestors, ref.order, how)


def _try_of_finally(ancestors: tuple[cst.CSTNode, ...]) -> cst.CSTNode | None:
    for index in range(len(ancestors) - 1, 0, -1):
        if isinstance(ancestors[index], cst.Finally):
            return ancestors[index - 1]
    return None


def _how_used(node: cst.Name, ancestors: list[cst.CSTNode]) -> str | None:
    """How a `Name` node uses the variable (None: it is not a reference to it)."""
    parent = ancestors[-1]
    grandparent = ancestors[-2] if len(ancestors) >= 2 else None
    if isinstance(parent, cst.Attribute):
        if parent.attr is node:
            return None
        if parent.attr.value == "close":
            called = isinstance(grandparent, cst.Call) and grandparent.func is parent
            return _CLOSE if called else _ESCAPE  # `db.close` handed to someone else
        return _USE
    if isinstance(parent, cst.Arg):
        if parent.keyword is node:
            return None
        if parent.star or not isinstance(grandparent, cst.Call):
            return _USE
        func = grandparent.func
        if isinstance(func, cst.Attribute) and func.attr.value in _HANDED_OVER_BY_METHOD:
            return _ESCAPE
        return _PASS
    if isinstance(parent, (cst.NameItem, cst.ImportAlias, cst.AsName, cst.Param)):
        return None if not isinstance(parent, cst.AsName) else _BIND
    if isinstance(parent, (cst.AssignTarget, cst.For, cst.CompFor, cst.NamedExpr, cst.AugAssign)):
        target = getattr(parent, "target", None)
        return _BIND if target is node else _USE
    if isinstance(parent, cst.AnnAssign):
        return _BIND if parent.target is node else _ESCAPE
    if isinstance(parent, (cst.Assign, cst.Return, cst.Element, cst.DictElement, cst.StarredElement)):
        return _ESCAPE  # aliased, stored, returned or put in a container
    if isinstance(parent, cst.Yield):
        return _USE
    if isinstance(parent, cst.WithItem) and parent.item is node:
        return _WITH
    if isinstance(parent, cst.Del):
        return _ESCAPE
    return _USE


class _Creations(cst.CSTVisitor):
    """`name = call(...)` / `name: T = call(...)` statements of a body's own scope."""

    def __init__(self) -> None:
        super().__init__()
        self.assignments: list[
            tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, str, cst.BaseExpression]
        ] = []
        self._line: cst.SimpleStatementLine | None = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._line = node

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self._add(node, node.targets[0].target.value, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._add(node, node.target.value, node.value)

    def _add(self, node: cst.BaseSmallStatement, name: str, value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.Call, cst.Await)) and self._line is not None:
            self.assignments.append((self._line, node, name, value))


class _Wrap:
    """The fix: the statements after the creation wrapped in `try:` / `finally: db.close()`."""

    def __init__(
        self,
        rule: SessionNotClosed,
        definition: cst.FunctionDef,
        statement: cst.SimpleStatementLine,
        name: str,
        kind: Kind,
        references: _References,
    ) -> None:
        self.rule = rule
        self.context = rule.context
        self.definition = definition
        self.statement = statement
        self.name = name
        self.is_async = kind.is_async
        self.references = references

    def fix(self) -> Fix | None:
        body = cst.ensure_type(self.definition.body, cst.IndentedBlock)
        statements = list(body.body)
        if self.is_async and self.definition.asynchronous is None:
            return None  # `await db.close()` needs an `async def`
        index = next((i for i, s in enumerate(statements) if s is self.statement), None)
        if index is None or len(self.statement.body) != 1:
            return None
        following = statements[index + 1 :]
        using = [s for s in following if self._mentions(s)]
        if not using:
            return None
        closing = using[-1] if self._is_close(using[-1]) else None
        wrapped = following[: following.index(closing)] if closing is not None else following
        if not wrapped:
            return None
        edit = self._edit(body, wrapped, closing)
        if edit is None:
            return None
        return self.rule.make_fix([edit], safe=not _hands_out_results(wrapped, self.name))

    def _mentions(self, statement: cst.BaseStatement) -> bool:
        first, last = self.references.spans[statement]
        return any(first <= ref.order <= last for ref in self.references.of(self.name))

    def _is_close(self, statement: cst.BaseStatement) -> bool:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return False
        small = statement.body[0]
        if not isinstance(small, cst.Expr):
            return False
        value = small.value.expression if isinstance(small.value, cst.Await) else small.value
        return (
            isinstance(value, cst.Call)
            and not value.args
            and isinstance(value.func, cst.Attribute)
            and isinstance(value.func.value, cst.Name)
            and value.func.value.value == self.name
            and value.func.attr.value == "close"
        )

    def _edit(
        self,
        body: cst.IndentedBlock,
        wrapped: list[cst.BaseStatement],
        closing: cst.BaseStatement | None,
    ) -> Edit | None:
        context = self.context
        source = context.source
        indent = context.line_indent(self.statement)
        unit = body_indent(context.module, body)
        newline = newline_at(source, context.span(self.statement)[1], context.module.default_newline)
        start = line_start(source, _start(context, wrapped[0]))
        region_end = line_end(source, context.span(wrapped[-1])[1])
        inner = indent_text(context, start, region_end, base=indent, extra=unit, nodes=wrapped)
        if not inner.endswith(("\n", "\r")):
            inner += newline
        if closing is not None:
            closing_start = line_start(source, _start(context, closing))
            end = line_end(source, context.span(closing)[1])
            final = indent_text(context, closing_start, end, base=indent, extra=unit, nodes=[closing])
            # Comments that lead into the close move with it (blank lines around them do not).
            between = indent_text(context, region_end, closing_start, base=indent, extra=unit, nodes=[])
            final = "".join(line for line in between.splitlines(keepends=True) if line.strip()) + final
        else:
            end = region_end
            awaited = "await " if self.is_async else ""
            final = f"{indent}{unit}{awaited}{self.name}.close(){newline}"
        if not final.endswith(("\n", "\r")):
            final += newline
        text = f"{indent}try:{newline}{inner}{indent}finally:{newline}{final}"
        if not source[:end].endswith(("\n", "\r")):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        return context.edit(start, end, text)


def _hands_out_results(statements: list[cst.BaseStatement], name: str) -> bool:
    """A `return` / `yield` whose value is computed from the session (other than `yield db`).

    Closing the session in `finally` then closes it before the caller uses that value: a
    lazy `Result` can no longer be read, loaded objects are detached. That changes what
    works, so the fix is unsafe there.
    """
    finder = _HandedOut(name)
    for statement in statements:
        statement.visit(finder)
    return finder.found


class _HandedOut(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self._check(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        value = node.value
        if isinstance(value, cst.Name) and value.value == self.name:
            return  # the session itself: its user is done with it when the generator resumes
        if isinstance(value, cst.BaseExpression):
            self._check(value)

    def _check(self, value: cst.BaseExpression | None) -> None:
        if value is not None and self.name in _names_in(value):
            self.found = True


def _start(context, statement: cst.BaseStatement) -> int:  # type: ignore[no-untyped-def]
    start = context.span(statement)[0]
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
        start = min(start, context.span(statement.decorators[0])[0])
    return start


class _NameCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _names_in(node: cst.CSTNode) -> set[str]:
    collector = _NameCollector()
    node.visit(collector)
    return collector.names
