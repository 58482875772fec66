"""SL004 sync-session-in-async."""

from __future__ import annotations

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Kind
from sessionlint.project import paramuse
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Applicability, Fix, FixAvailability, Related
from sessionlint.rulepass import lifetime
from sessionlint.rulepass.blocking import BlockingCalls
from sessionlint.rulepass.context import FileSemantics
from sessionlint.rulepass.walk import OwnScopeVisitor, visit
from sessionlint.rules._base import UNSEEN_CALLERS, FileContext, Rule

# FastAPI awaits a websocket endpoint directly: it must stay a coroutine function.
_THREAD_POOL_ROUTE_METHODS = vocab.ROUTE_METHODS - {"websocket"}
# Calls into these need the running event loop, which a `def` in the thread pool lacks.
_EVENT_LOOP_PACKAGES = ("asyncio.", "anyio.", "trio.")


class SyncSessionInAsync(Rule):
    """
    ## What it does
    Flags a synchronous SQLAlchemy or SQLModel `Session` used inside an `async def`: a
    parameter typed as a sync `Session` (directly, in `Annotated`, or through an alias such
    as `SessionDep`), a `Depends` on a dependency that provides a sync session, or a sync
    session obtained in the body (`SessionLocal()`, `Session(engine)`, `with Session(engine)
    as session`, a call of a parameter annotated as a factory such as `sessionmaker[Session]`,
    or a call of a function known to return one). A function's return
    annotation (`-> Session`, `-> Iterator[Session]`) tells what it gives where its
    returned or yielded values are not known; where the dependency is known, what it really
    provides wins over the parameter's annotation (`db: AsyncSession = Depends(get_db)`
    with a `get_db` yielding a sync session is flagged).

    Also flags, in an `async def` endpoint or dependency, a call of a project function (a
    plain `def`, in any module) that opens a sync session and queries it, itself or through
    further project calls (up to 4 deep): the message names the chain
    (`load_profile() -> load_user() at app/users.py:6`).

    ## Why is this bad?
    A sync session talks to the database with blocking I/O. Inside `async def` every query
    runs on the event loop thread, so while one request waits for the database no other
    request (or health check) on that worker makes progress: latency climbs with load and a
    single slow query stalls the whole process. FastAPI only runs plain `def` endpoints and
    dependencies in its thread pool.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(engine)
    app = FastAPI()


    def get_db():
        with SessionLocal() as session:
            yield session


    @app.get("/items")
    async def items(db: Session = Depends(get_db)):
        return db.scalars(select(1)).all()
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
    SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()


    async def get_db():
        async with SessionLocal() as session:
            yield session


    @app.get("/items")
    async def items(db: AsyncSession = Depends(get_db)):
        return (await db.scalars(select(1))).all()
    ```
    or keep the sync session and declare the endpoint with a plain `def`.

    ## Not flagged
    - plain `def` functions (FastAPI runs sync endpoints and dependencies in its thread pool);
    - `AsyncSession` parameters, async dependencies and async factories;
    - nested `def`s and lambdas inside the `async def` that use a sync session: they are
      their own scope and typically run in a thread (`run_in_threadpool`, `asyncio.to_thread`);
    - a parameter typed `Session` from another library (`requests.Session`,
      `aiohttp.ClientSession`): only SQLAlchemy's and SQLModel's sessions count;
    - a session factory or engine created in `async def` (creating them does no I/O);
    - a sync session (a parameter, a name bound to a new session, or a session made inline)
      used only as an argument of a thread-pool helper, also inside `functools.partial`, or
      through its bound methods (`run_in_threadpool(session.commit)`):
      `run_in_threadpool`, `asyncio.to_thread`, `anyio.to_thread.run_sync`,
      `loop.run_in_executor` on the running event loop; its queries run in a worker thread
      (one use on the loop itself is flagged);
    - a parameter the body never uses to talk to the database: never read (a signature an
      interface imposes), or only given objects to stage or asked about its state (`add`,
      `add_all`, `expunge`, `expunge_all`, `in_transaction`, `is_modified` do no I/O);
    - a parameter known to be a sync session from its annotation alone (no dependency is
      known to provide it) whose uses contradict the annotation: the body awaits its
      methods (`await db.exec(stmt)`, `async with db.begin()`), or hands it, in an awaited
      call, to a project `async def` whose parameter is so used (up to 4 calls deep). Only
      an `AsyncSession` can be awaited: the annotation is stale, and conflicting evidence is
      no evidence. Where a dependency is known to provide a sync session, what it provides
      wins (awaiting it would fail at run time): flagged;
    - names that are only spelled `Session` without an import to resolve them;
    - calls of functions outside the checked tree, of `async def` functions (their own
      body is checked), of helpers that return the session they open (the caller's use of
      it is checked), calls deeper than 4 project calls, calls made through a thread-pool
      helper (`run_in_threadpool(load_user, user_id)`, a lambda), and calls from an
      `async def` that is neither an endpoint nor a dependency;
    - test code: test files (`test_*.py`, `*_test.py`, `conftest.py`, files under `tests/`)
      and pytest fixtures; a test's event loop serves no other request.

    ## Fix safety
    Safe when the function is an endpoint (only route decorators, not a websocket route) or
    a dependency used only through `Depends`, nothing in the checked tree calls it directly,
    and its own body has no `await`, `async for`, `async with` or call into `asyncio` /
    `anyio` (also none in what a nested definition evaluates in it: a default value, a
    decorator, an annotation, a class's bases): the fix removes the `async` keyword, and
    FastAPI then runs the function in its thread pool (an async generator dependency
    becomes a generator dependency, which FastAPI also supports). A direct caller that
    awaits the function would break, so the fix is unsafe when the run cannot know there
    is none: when it did not see every module of the project (see SL001's "Fix safety"),
    or when a call through a module name two source roots share may be a call of it.
    Otherwise there is no fix: move to `AsyncSession`.
    """

    code = "SL004"
    name = "sync-session-in-async"
    message = (
        "Sync session `{session}` in `async def {function}`: every query blocks the event loop "
        "and stalls every other request; use `AsyncSession`, or a plain `def` that FastAPI runs "
        "in its thread pool"
    )
    fix_title = "Turn `async def` into `def`"
    fix_availability = FixAvailability.SOMETIMES

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        # The name a session call is bound to (`db = SessionLocal()`, `with ... as db`).
        self._bound_names: dict[cst.Call, str] = {}
        # One fix per function, shared by its findings (the fixer applies it once).
        self._fixes: dict[cst.FunctionDef, Fix | None] = {}
        self._assigned_names: dict[cst.Call, str] = {}
        self._blocking: BlockingCalls | None = None
        self._thread_arguments: dict[cst.FunctionDef, set[cst.CSTNode]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.semantics.function_for(node)
        if node.asynchronous is None or function is None or self.semantics.in_test_code:
            return
        project = self.semantics.project
        params = {param.name.value: param for param in _all_params(node.params)}
        for param in function.facts.params:
            if param.name not in params or project.param_kind(param, function.module) != Kind.SYNC_SESSION:
                continue
            if paramuse.does_no_io(function, param.name):
                continue  # never used to talk to the database: nothing blocks
            if paramuse.declared_only(project, param, function) and paramuse.used_as_async(
                project, function, param.name
            ):
                continue  # awaited on: an `AsyncSession` under a stale annotation
            if not self._only_handed_to_threads(node, param.name):
                evidence = self.semantics.evidence.of_param(param, function.module)
                self._report(params[param.name], node, function, param.name, evidence)

    def visit_Assign(self, node: cst.Assign) -> None:
        targets = node.targets
        if isinstance(node.value, cst.Call) and len(targets) == 1 and isinstance(targets[0].target, cst.Name):
            self._bound_names[node.value] = self._assigned_names[node.value] = targets[0].target.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and isinstance(node.target, cst.Name):
            self._bound_names[node.value] = self._assigned_names[node.value] = node.target.value

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if (
            isinstance(node.item, cst.Call)
            and node.asname is not None
            and isinstance(node.asname.name, cst.Name)
        ):
            self._bound_names[node.item] = node.asname.name.value

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.semantics.running_function
        if scope is None or scope.function is None:
            return
        function_node = cst.ensure_type(scope.node, cst.FunctionDef)
        if function_node.asynchronous is None or self.semantics.in_test_code:
            return
        kind = self.semantics.kind_of(node)
        if kind is None and node not in self._handed(function_node):
            self._check_blocking_call(node, function_node, scope.function)
        if kind != Kind.SYNC_SESSION:
            return
        # Making a session does no I/O: only where it is used counts.
        if node in self._handed(function_node):
            return  # `await run_in_threadpool(work, SessionLocal())`
        assigned = self._assigned_names.get(node)
        if assigned is not None and self._only_handed_to_threads(function_node, assigned):
            return
        session = self._bound_names.get(node) or _call_text(self.context, node)
        self._report(node, function_node, scope.function, session, self.semantics.evidence_of(node))

    def _check_blocking_call(
        self, node: cst.Call, function_node: cst.FunctionDef, function: Function
    ) -> None:
        """An endpoint or dependency calling a project function that opens a sync session
        and queries it (itself or through further project calls): the call blocks too."""
        semantics = self.semantics
        project = semantics.project
        callee = project.function_of(semantics.value_of(node.func), semantics.module)
        if callee is None or not (project.is_endpoint(function) or project.is_dependency(function)):
            return
        if self._blocking is None:
            self._blocking = BlockingCalls(project)
        chain = self._blocking.chain(callee)
        if chain is None:
            return
        last = chain[-1]
        names = " -> ".join(f"{link.facts.qualname}()" for link in chain)
        evidence = semantics.evidence
        related = [
            evidence.defined(link, f"`{link.facts.qualname}` calls `{below.facts.qualname}`")
            for link, below in zip(chain, chain[1:])
        ]
        related.append(evidence.defined(last, f"`{last.facts.qualname}` opens a sync session and queries it"))
        self._report(
            node, function_node, function, f"{names} at {last.module.path}:{last.facts.line}", related
        )

    def _handed(self, function_node: cst.FunctionDef) -> set[cst.CSTNode]:
        """Arguments of the function's thread-pool calls (also inside `functools.partial`)."""
        if function_node not in self._thread_arguments:
            finder = _ThreadPoolArguments(self.semantics)
            visit(function_node.body, finder)
            self._thread_arguments[function_node] = finder.arguments
        return self._thread_arguments[function_node]

    def _only_handed_to_threads(self, function_node: cst.FunctionDef, name: str) -> bool:
        """Every use of the name in the body is an argument of a thread-pool call: the
        session is used in a worker thread, never on the event loop."""
        references = lifetime.References(frozenset({name}))
        visit(function_node.body, references)
        if name in references.captured:
            return False
        handed = self._handed(function_node)
        uses = [ref for ref in references.found if ref.how != lifetime.BIND]
        return bool(uses) and all(ref.node in handed for ref in uses)

    def _report(
        self,
        node: cst.CSTNode,
        function_node: cst.FunctionDef,
        function: Function,
        session: str,
        related: list[Related | None],
    ) -> None:
        if function_node not in self._fixes:
            self._fixes[function_node] = self._fix(function_node, function)
        fix = self._fixes[function_node]
        if fix is not None and fix.applicability is Applicability.SAFE:
            # The safe fix rests on FastAPI being the only caller.
            related = [*related, self.semantics.evidence.no_direct_caller(function)]
        self.report(
            node,
            fix=fix,
            related=related,
            session=session,
            function=function.facts.qualname,
        )

    def _fix(self, node: cst.FunctionDef, function: Function) -> Fix | None:
        if not self._runs_in_thread_pool_when_sync(function):
            return None
        asynchronous = node.asynchronous
        assert asynchronous is not None
        start, end = self.context.span(asynchronous)
        # `async` and the whitespace up to `def` (which may hold a line continuation).
        end += len(asynchronous.whitespace_after.value)
        edit = self.context.edit(start, end, "")
        title = f"Make `{function.facts.name}` a plain `def`"
        # A caller this run did not see may await it: unsafe then.
        if not self.semantics.project.knows_every_use(function):
            return self.make_fix([edit], safe=False, title=f"{title} ({UNSEEN_CALLERS})")
        return self.make_fix([edit], title=title)

    def _runs_in_thread_pool_when_sync(self, function: Function) -> bool:
        """FastAPI alone calls it, and nothing in its body needs the event loop."""
        facts = function.facts
        project = self.semantics.project
        # A known direct caller: no fix. A caller that may exist unseen: an unsafe fix (`_fix`).
        if facts.awaits or facts.is_method or project.has_known_caller(function):
            return False
        if any(name.startswith(_EVENT_LOOP_PACKAGES) for name in facts.calls):
            return False
        if project.is_endpoint(function):
            # Another decorator (a cache, a retry) may rely on the function being a coroutine.
            return all(
                project.is_route_decorator(decorator, _THREAD_POOL_ROUTE_METHODS, function.module.root)
                for decorator in facts.decorators
            )
        return project.is_dependency(function) and not facts.decorators


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return every + [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]


def _call_text(context: FileContext, node: cst.Call) -> str:
    func = context.module.code_for_node(node.func)
    return f"{func}(...)" if node.args else f"{func}()"


class _ThreadPoolArguments(OwnScopeVisitor):
    """Argument expressions of thread-pool calls in one scope (`run_in_threadpool(f, db)`,
    `asyncio.to_thread(partial(f, db=db))`)."""

    def __init__(self, semantics: FileSemantics) -> None:
        super().__init__()
        self.semantics = semantics
        self.arguments: set[cst.CSTNode] = set()

    def visit_Call(self, node: cst.Call) -> None:
        if not self.semantics.is_thread_pool_call(node):
            return
        for arg in node.args:
            values = [arg.value]
            if (
                isinstance(arg.value, cst.Call)
                and self.semantics.qualified_name(arg.value.func) in vocab.PARTIAL
            ):
                values += [inner.value for inner in arg.value.args]
            for value in values:
                self.arguments.add(value)
                if isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name):
                    # A bound method (`run_in_threadpool(session.commit)`): called in the thread.
                    self.arguments.add(value.value)
