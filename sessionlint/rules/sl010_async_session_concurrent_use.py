"""SL010 async-session-concurrent-use."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import CallOf, Kind, Local, Value
from sessionlint.project.tasks import Chain, callee_param
from sessionlint.rules._base import FileContext, Rule
from sessionlint.rules._concurrency import (
    FunctionState,
    Handed,
    async_comprehension,
    comprehension_targets,
    gathered,
    literal_items,
    slots,
    suspends,
)

_GATHER = "`asyncio.gather` runs its coroutines at the same time"
_REPEATED = "a task is started with it on every iteration, none awaited before the next"
_SECOND = "a task started with it earlier is not awaited yet"


class AsyncSessionConcurrentUse(Rule):
    """
    ## What it does
    Flags one `AsyncSession` used by tasks that run at the same time:
    `asyncio.gather(session.execute(a), session.execute(b))`,
    `asyncio.gather(*(load(session, i) for i in ids))` where `load` uses the session,
    `asyncio.create_task` / `TaskGroup.create_task` / anyio's `start_soon` handing the same
    session to a second task while the first is still running (created before either is
    awaited, or once per iteration of a loop). It is reported on the call that hands the
    session to the second task (for `gather`: the `gather` call; for a project coroutine
    that gathers its unannotated session parameter so: the call passing it the session).

    ## Why is this bad?
    An `AsyncSession` is not safe for concurrent use: it holds one connection and one
    transaction, and its state (the identity map, the connection being provisioned) is
    changed by every operation. Two tasks awaiting it at once make SQLAlchemy raise
    `InvalidRequestError: This session is provisioning a new connection; concurrent
    operations are not permitted` (or `IllegalStateChangeError`), or leave the session's
    state corrupted, intermittently and only under load.

    ## Example
    ```python
    import asyncio

    from fastapi import Depends, FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

    from app.models import User

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
    SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()

    async def get_session():
        async with SessionLocal() as session:
            yield session

    async def load_user(session: AsyncSession, user_id: int):
        return await session.get(User, user_id)

    @app.get("/users")
    async def users(ids: list[int], session: AsyncSession = Depends(get_session)):
        return await asyncio.gather(*(load_user(session, i) for i in ids))
    ```

    ## Use instead
    ```python
    import asyncio

    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from app.models import User

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
    SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()

    async def load_user(user_id: int):
        async with SessionLocal() as session:
            return await session.get(User, user_id)

    @app.get("/users")
    async def users(ids: list[int]):
        return await asyncio.gather(*(load_user(i) for i in ids))
    ```

    Or keep one session and await one query after the other (or one query for all ids).

    ## Not flagged
    - tasks that each open their own session from the factory (they get no session);
    - sequential awaits, and a task awaited before the next is started (any `await` in
      between counts as awaiting it: which task it waits for is not known);
    - tasks started in different branches of an `if` / `try` / `match`;
    - a callee that is not known to use the session: a method, a function outside the
      checked modules, one that only passes it to such code, or one that rebinds its
      parameter (a coroutine uses a session when it awaits a method on it, enters it with
      `async with`, or passes it on to a project coroutine that does);
    - a sync `Session`, an `async_scoped_session` registry (it gives each task its own
      session when scoped to the task), and values not known to be an `AsyncSession` (the
      kind comes from annotations, dependencies and factories, across modules; never from
      a name's spelling).
    """

    code = "SL010"
    name = "async-session-concurrent-use"
    message = (
        "AsyncSession `{session}` is used by tasks that run at the same time ({how}): an AsyncSession "
        "is not safe for concurrent use (`InvalidRequestError: ... concurrent operations are not "
        "permitted`); give each task its own session, or await one after the other"
    )

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._states: list[FunctionState] = []

    # -- where the visit is --------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._states.append(FunctionState())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._states.pop()

    def visit_Await(self, node: cst.Await) -> None:
        if self._states:
            self._states[-1].pending.clear()
            self._states[-1].awaited.add(id(node.expression))

    def leave_Await(self, original_node: cst.Await) -> None:
        # A task started inside an awaited expression (`await wait_for(create_task(...), 5)`)
        # may be what it awaits.
        self._suspend_if(True)

    def visit_With(self, node: cst.With) -> None:
        self._suspend_if(node.asynchronous is not None)

    def leave_With(self, original_node: cst.With) -> None:
        self._suspend_if(original_node.asynchronous is not None)  # the exit awaits a task group's tasks

    def visit_For(self, node: cst.For) -> None:
        self._suspend_if(node.asynchronous is not None)
        # `async for` waits between two iterations.
        self._enter_loop(node.asynchronous is None and not suspends(node.body))

    def leave_For(self, original_node: cst.For) -> None:
        self._leave_loop()

    def visit_While(self, node: cst.While) -> None:
        self._enter_loop(not suspends(node.body) and not suspends(node.test))

    def leave_While(self, original_node: cst.While) -> None:
        self._leave_loop()

    def visit_If(self, node: cst.If) -> None:
        if self._states:
            ifs = self._states[-1].ifs
            self._suspend_if(bool(ifs) and ifs[-1].orelse is node)  # an `elif`: another branch
            ifs.append(node)

    def leave_If(self, original_node: cst.If) -> None:
        if self._states:
            self._states[-1].ifs.pop()

    # Another branch: what the previous one started may not have run.
    def visit_Else(self, node: cst.Else) -> None:
        self._suspend_if(True)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._suspend_if(True)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._suspend_if(True)

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self._suspend_if(True)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comprehension(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._leave_comprehension()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._enter_comprehension(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._leave_comprehension()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comprehension(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._leave_comprehension()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._enter_comprehension(node)

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._leave_comprehension()

    def _suspend_if(self, condition: bool) -> None:
        if condition and self._states:
            self._states[-1].pending.clear()

    def _enter_loop(self, repeats: bool) -> None:
        if self._states:
            self._states[-1].loops.append(repeats)

    def _leave_loop(self) -> None:
        if self._states:
            self._states[-1].loops.pop()

    def _enter_comprehension(self, node: cst.BaseComp | cst.DictComp) -> None:
        if self._states:
            self._enter_loop(not suspends(node))
            self._states[-1].shadowed.append(comprehension_targets(node))

    def _leave_comprehension(self) -> None:
        if self._states:
            self._leave_loop()
            self._states[-1].shadowed.pop()

    # -- lists of coroutines gathered later ----------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._states or len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        name, value = node.targets[0].target.value, node.value
        lists = self._states[-1].coroutine_lists
        lists.pop(name, None)
        if self._bound_once(name):
            if isinstance(value, (cst.List, cst.Tuple)):
                lists[name] = literal_items(value)
            elif isinstance(value, (cst.ListComp, cst.GeneratorExp)) and not async_comprehension(value):
                lists[name] = [(value.elt, comprehension_targets(value), True)]

    def _bound_once(self, name: str) -> bool:
        function = self.semantics.function
        return (
            function is not None
            and function.facts.param(name) is None
            and len(function.facts.locals.get(name, ())) == 1
        )

    def _note_append(self, node: cst.Call) -> None:
        """`coros.append(load(session, i))` on a list of coroutines."""
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "append"
            and isinstance(func.value, cst.Name)
            and len(node.args) == 1
            and not node.args[0].star
        ):
            state = self._states[-1]
            found = state.coroutine_lists.get(func.value.value)
            if found is not None:
                found.append((node.args[0].value, frozenset(), any(state.loops)))

    # -- task starts ---------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        if not self._states or self.semantics.running_function is None:
            return
        qualified = self.semantics.qualified_name(node.func)
        if qualified in vocab.TASK_GATHERERS:
            self._check_gather(node)
            return
        self._note_append(node)
        handed = self._started(node, qualified)
        if handed is None:
            self._check_gathered_through(node)
            return
        state = self._states[-1]
        if id(node) in state.awaited:
            return
        repeated = any(state.loops)
        for key, expression in handed:
            if repeated or key in state.pending:
                self.report(node, session=self.quote(expression), how=_REPEATED if repeated else _SECOND)
                break
        state.pending += [key for key, _ in handed]

    def _check_gather(self, node: cst.Call) -> None:
        """Every coroutine passed to `gather`, a starred comprehension counting as several."""
        counts: dict[Value, int] = {}
        for expression, shadowed, many in gathered(node, self._states[-1].coroutine_lists):
            if (
                isinstance(expression, cst.Call)
                and self._started(expression, self.semantics.qualified_name(expression.func)) is not None
            ):
                continue  # a task: its start is checked where it is started
            for key, session in self._coroutine_sessions(expression, shadowed):
                counts[key] = counts.get(key, 0) + (2 if many else 1)
                if counts[key] >= 2:
                    self.report(node, session=self.quote(session), how=_GATHER)
                    return

    def _check_gathered_through(self, node: cst.Call) -> None:
        """A session passed to a project coroutine that hands it to `gather` with another
        coroutine using it, where no function on the way knows it is an AsyncSession (where
        one does, the `gather` is reported there)."""
        project = self.semantics.project
        callee = project.function_of(self.semantics.value_of(node.func), self.semantics.module)
        if callee is None or not callee.facts.is_async:
            return
        for slot, arg in slots(node.args):
            param = callee_param(callee, slot)
            session = self._session(arg.value, frozenset()) if param is not None else None
            chain = project.gathered_through(callee, param) if session is not None and param else ()
            if chain and not self._known_on_the_way(chain):
                how = f"`{chain[-1][0].facts.name}` gathers coroutines that all use it"
                self.report(node, session=self.quote(arg.value), how=how)
                return

    def _known_on_the_way(self, chain: Chain) -> bool:
        """A function of the chain knows its parameter is an AsyncSession (and so is checked itself)."""
        project = self.semantics.project
        for function, name in chain:
            param = function.facts.param(name)
            if param is not None and project.param_kind(param, function.module) == Kind.ASYNC_SESSION:
                return True
        return False

    def _started(self, node: cst.Call, qualified: str | None) -> list[Handed] | None:
        """The sessions a task start hands to its task (None: not a task start); `qualified`:
        the library name its callee resolves to."""
        func = node.func
        positional = [arg for arg in node.args if arg.keyword is None]
        if qualified in vocab.TASK_CREATORS:
            return self._coroutine_sessions(positional[0].value) if positional else []
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in vocab.TASK_GROUP_METHODS
            and self._is_task_group(func.value)
        ):
            if not positional or positional[0].star:
                return []
            if func.attr.value == "create_task":
                return self._coroutine_sessions(positional[0].value)
            return self._passed_sessions(positional[0].value, node.args[1:])  # `start_soon(f, *args)`
        return None

    def _is_task_group(self, expression: cst.BaseExpression) -> bool:
        """A local bound only to `asyncio.TaskGroup()` / `anyio.create_task_group()`."""
        value = self.semantics.value_of(expression)
        function = self.semantics.function
        if not isinstance(value, Local) or function is None or function.facts.param(value.name):
            return False
        bound = function.facts.locals.get(value.name, ())
        project, root = self.semantics.project, self.semantics.module.root
        return bool(bound) and all(
            isinstance(call, CallOf) and project.external_name(call.func, root) in vocab.TASK_GROUPS
            for call in bound
        )

    def _coroutine_sessions(
        self, expression: cst.BaseExpression, shadowed: frozenset[str] = frozenset()
    ) -> list[Handed]:
        """The AsyncSessions a coroutine expression uses: `session.execute(...)`, or
        `load(session, ...)` of a project coroutine that uses that parameter as a session."""
        if not isinstance(expression, cst.Call):
            return []
        func = expression.func
        if isinstance(func, cst.Attribute) and func.attr.value in vocab.ASYNC_SESSION_COROUTINES:
            session = self._session(func.value, shadowed)
            return [session] if session is not None else []
        return self._passed_sessions(func, expression.args, shadowed)

    def _passed_sessions(
        self, callee: cst.BaseExpression, args: Sequence[cst.Arg], shadowed: frozenset[str] = frozenset()
    ) -> list[Handed]:
        project = self.semantics.project
        function = project.function_of(self.semantics.value_of(callee), self.semantics.module)
        if function is None or not function.facts.is_async:
            return []
        found = []
        for slot, arg in slots(args):
            session = self._session(arg.value, shadowed)
            param = callee_param(function, slot)
            if session is not None and param is not None and project.uses_param_as_session(function, param):
                found.append(session)
        return found

    def _session(self, expression: cst.BaseExpression, shadowed: frozenset[str]) -> Handed | None:
        """The expression's value when it is known to be an AsyncSession."""
        value = self.semantics.value_of(expression)
        names = shadowed.union(*self._states[-1].shadowed)
        if value is None or (isinstance(value, Local) and value.name in names):
            return None
        return (value, expression) if self.semantics.kind_of(expression) == Kind.ASYNC_SESSION else None
