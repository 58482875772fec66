"""SL009 async-session-not-awaited."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Kind
from sessionlint.report.diagnostics import Edit, FixAvailability, Related
from sessionlint.rules._base import FileContext, Rule

# Attributes of the coroutine object itself: using them is deliberate, not a missing `await`.
_COROUTINE_ATTRIBUTES = frozenset({"send", "throw", "close", "__await__"})
# Receivers whose methods are coroutines: the session, and the scoped registry proxying to it.
_COROUTINES = {
    Kind.ASYNC_SESSION: vocab.ASYNC_SESSION_COROUTINES,
    Kind.ASYNC_REGISTRY: vocab.ASYNC_SCOPED_SESSION_COROUTINES,
}
_ANY_COROUTINE = frozenset().union(*_COROUTINES.values())
# Coroutines whose result is iterated with `async for` (an `AsyncResult`), the others' with `for`.
_ASYNC_ITERABLE_RESULTS = frozenset({"stream", "stream_scalars"})


class _Use(enum.Enum):
    """Where an un-awaited coroutine call stands."""

    STATEMENT = "statement"  # `session.commit()`
    ASSIGNED = "assigned"  # `result = session.execute(q)`
    RETURNED = "returned"  # `return session.get(User, 1)`
    ITERATED = "iterated"  # `async for row in session.stream(q)`
    TESTED = "tested"  # `if session.get(User, 1) is None:`
    BASE = "base"  # `session.execute(q).scalars()`


@dataclass
class _Candidate:
    call: cst.Call
    method: str
    fixable: bool
    use: _Use
    # The scope an `ASSIGNED` result lives in, and its name: reported only if never consumed.
    scope: cst.CSTNode | None = None
    name: str | None = None
    # The `for` statement an `ITERATED` call is the iterable of.
    loop: cst.For | None = None
    # Why the receiver is an async session (asked while its scope was being visited).
    related: list[Related] = field(default_factory=list)


class AsyncSessionNotAwaited(Rule):
    """
    ## What it does
    Flags a coroutine method of an `AsyncSession` (`execute`, `scalar`, `scalars`, `get`,
    `get_one`, `commit`, `rollback`, `refresh`, `flush`, `close`, `delete`, `merge`,
    `stream`, `run_sync`, `connection`, ...) called without `await` on a receiver known to
    be an `AsyncSession`: a parameter annotated so (directly, in `Annotated`, or through an
    alias), a `Depends` on an async session dependency, or a name bound from an async
    factory (`async with factory() as session`, `session = factory()`), or from a function
    whose return annotation says so where its returned or yielded values are not known
    (`-> AsyncSession`, `-> AsyncIterator[AsyncSession]`; the real dependency wins over a
    stale annotation: a parameter annotated `AsyncSession` filled by a dependency that
    yields a sync session is a sync session). Also the loop target of `async for db in
    get_db()` over a project async generator, `self.session` in a method when the class's
    `__init__` assigns it from a typed parameter or a factory (and no other method assigns
    it), and `session = session or factory()`; and the same
    methods (and `remove()`) of an `async_scoped_session` registry, which proxies them as
    coroutines. Reported when the call is a statement, assigned, returned from an
    `async def`, iterated, tested (`if session.get(User, 1) is None:`), or used with
    attribute access (`session.execute(q).scalars()`).

    ## Why is this bad?
    Calling a coroutine function only creates a coroutine object: nothing runs.
    `session.commit()` commits nothing, `session.delete(obj)` deletes nothing, and the only
    trace is a `RuntimeWarning: coroutine ... was never awaited` in the logs; the request
    succeeds and the data is silently lost. A result used directly
    (`session.execute(q).scalars()`) fails with `AttributeError: 'coroutine' object has no
    attribute ...`, and a tested one is always truthy, never `None`.

    ## Example
    ```python
    from sqlalchemy.ext.asyncio import AsyncSession

    async def rename(session: AsyncSession, user, name: str) -> None:
        user.name = name
        session.commit()
    ```

    ## Use instead
    ```python
    from sqlalchemy.ext.asyncio import AsyncSession

    async def rename(session: AsyncSession, user, name: str) -> None:
        user.name = name
        await session.commit()
    ```

    ## Not flagged
    - sync sessions (an un-awaited call on a `Session` is an ordinary call; a sync session
      in `async def` is SL004's business);
    - methods that are not coroutines: `add`, `add_all`, `expunge`, `expunge_all`,
      `in_transaction`, `begin`, `begin_nested`, `get_bind`, ...;
    - a coroutine passed as an argument (`asyncio.gather(session.execute(a), ...)`,
      `asyncio.create_task(session.commit())`): the callee consumes it;
    - a coroutine returned from a plain `def` (delegation: the caller awaits it);
    - an assigned coroutine whose name is later awaited, passed on, stored, aliased,
      yielded, or returned from a plain `def` (`pending = session.commit(); await pending`);
    - receivers whose type is not known (an unannotated parameter, `self.session` set from
      an unannotated parameter or assigned in several methods, a closure variable, a lambda
      parameter such as the sync session `run_sync` hands over, `a or b` of two unknowns);
    - a coroutine yielded, stored in a container, or an operand of `and` / `or` (what
      happens to it is not known).

    ## Fix safety
    Safe, inside an `async def`: the fix inserts `await` before the call, parenthesised when
    the result is used with attribute access (`(await session.execute(q)).scalars()`); a
    plain `for` over `stream()` / `stream_scalars()` becomes `async for` (only that
    iterates their `AsyncResult`). The code then does what it says. No fix outside
    `async def` (where `await` is not allowed), inside lambdas and comprehensions, when an
    enclosing `await` already applies to the chain (`await session.execute(q).scalars()`),
    or for `async for` over another coroutine's result (`async for row in
    session.execute(q)`: a plain `Result` is not async-iterable): where the `await` belongs,
    or which method was meant, needs a human.
    """

    code = "SL009"
    name = "async-session-not-awaited"
    message = "`{receiver}.{method}()` is not awaited: it is an AsyncSession coroutine, nothing runs"
    fix_title = "Add `await`"
    fix_availability = FixAvailability.SOMETIMES

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._uses: dict[cst.CSTNode, _Use] = {}
        self._assigned_names: dict[cst.CSTNode, str] = {}
        self._loops: dict[cst.CSTNode, cst.For] = {}
        self._awaited: set[cst.CSTNode] = set()
        self._in_awaited_chain: set[cst.CSTNode] = set()
        self._comprehension_depth = 0
        self._candidates: list[_Candidate] = []
        # Per function (None: the module), names used where a coroutine is legitimately
        # consumed: awaited, passed on, returned, yielded, stored or aliased.
        self._consumed: dict[cst.CSTNode | None, set[str]] = {}

    def _consume(self, *nodes: cst.CSTNode | None) -> None:
        for node in nodes:
            if isinstance(node, cst.Name):
                # A use in a nested function counts for every enclosing one (closures).
                for scope in (None, *(s.node for s in self.semantics.function_scopes)):
                    self._consumed.setdefault(scope, set()).add(node.value)

    # -- where expressions stand ------------------------------------------------------------

    def visit_Expr(self, node: cst.Expr) -> None:
        self._uses[node.value] = _Use.STATEMENT

    def visit_Assign(self, node: cst.Assign) -> None:
        self._consume(node.value)
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self._uses[node.value] = _Use.ASSIGNED
            self._assigned_names[node.value] = node.targets[0].target.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._consume(node.value)
        if node.value is not None and isinstance(node.target, cst.Name):
            self._uses[node.value] = _Use.ASSIGNED
            self._assigned_names[node.value] = node.target.value

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._consume(node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._consume(node.value)

    def visit_Return(self, node: cst.Return) -> None:
        if not self._in_async_def():
            # Delegation; an `async def` returning a coroutine makes its caller await twice.
            self._consume(node.value)
        if node.value is not None:
            self._uses[node.value] = _Use.RETURNED

    def visit_Yield(self, node: cst.Yield) -> None:
        self._consume(node.value)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._consume(node.body)

    def visit_Arg(self, node: cst.Arg) -> None:
        self._consume(node.value)

    def visit_Element(self, node: cst.Element) -> None:
        self._consume(node.value)

    def visit_StarredElement(self, node: cst.StarredElement) -> None:
        self._consume(node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self._consume(node.key, node.value)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._consume(node.left, node.right)

    def visit_For(self, node: cst.For) -> None:
        self._uses[node.iter] = _Use.ITERATED
        self._loops[node.iter] = node

    def visit_If(self, node: cst.If) -> None:
        self._uses[node.test] = _Use.TESTED

    def visit_While(self, node: cst.While) -> None:
        self._uses[node.test] = _Use.TESTED

    def visit_Assert(self, node: cst.Assert) -> None:
        self._uses[node.test] = _Use.TESTED

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._uses[node.test] = _Use.TESTED
        self._consume(node.body, node.orelse)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._uses[node.expression] = _Use.TESTED

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self._uses[node.left] = _Use.TESTED
        for target in node.comparisons:
            self._uses[target.comparator] = _Use.TESTED

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in _COROUTINE_ATTRIBUTES:
            self._consume(node.value)
        else:
            self._uses[node.value] = _Use.BASE

    def visit_Subscript(self, node: cst.Subscript) -> None:
        self._uses[node.value] = _Use.BASE

    def visit_Await(self, node: cst.Await) -> None:
        self._consume(node.expression)
        self._awaited.add(node.expression)
        chain: cst.BaseExpression = node.expression
        while isinstance(chain, (cst.Call, cst.Attribute, cst.Subscript)):
            chain = chain.func if isinstance(chain, cst.Call) else chain.value
            self._in_awaited_chain.add(chain)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comprehension_depth += 1

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._comprehension_depth -= 1

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]
    leave_SetComp = leave_DictComp = leave_GeneratorExp = leave_ListComp  # type: ignore[assignment]

    # -- the calls ----------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _ANY_COROUTINE:
            return
        use = self._uses.get(node)
        if use is None or node in self._awaited:
            return
        in_async_def = self._in_async_def()
        if use is _Use.RETURNED and not in_async_def:
            return  # a plain function handing the coroutine to its caller
        if func.attr.value not in _COROUTINES.get(self.semantics.kind_of(func.value), ()):
            return
        fixable = (
            in_async_def
            and not self.semantics.in_lambda
            and not self._comprehension_depth
            and not (use is _Use.BASE and node in self._in_awaited_chain)
        )
        candidate = _Candidate(node, func.attr.value, fixable, use, loop=self._loops.get(node))
        candidate.related = self.semantics.evidence_of(func.value)
        if _plain_result_into_async_for(candidate):
            candidate.fixable = False
        if use is _Use.ASSIGNED:
            scopes = self.semantics.function_scopes
            candidate.scope = scopes[-1].node if scopes else None
            candidate.name = self._assigned_names[node]
        self._candidates.append(candidate)

    def _in_async_def(self) -> bool:
        scopes = self.semantics.scopes
        if not scopes or scopes[-1].is_class:
            return False
        node = cst.ensure_type(scopes[-1].node, cst.FunctionDef)
        return node.asynchronous is not None

    def leave_Module(self, original_node: cst.Module) -> None:
        for candidate in self._candidates:
            if candidate.name is not None and candidate.name in self._consumed.get(candidate.scope, ()):
                continue
            fix = self.make_fix(self._add_await(candidate)) if candidate.fixable else None
            func = cst.ensure_type(candidate.call.func, cst.Attribute)
            receiver = self.context.module.code_for_node(func.value)
            self.report(
                candidate.call, fix=fix, related=candidate.related, receiver=receiver, method=candidate.method
            )

    def _add_await(self, candidate: _Candidate) -> list[Edit]:
        if candidate.use is _Use.BASE:
            return [
                self.insert_before(candidate.call, "(await "),
                self.insert_after(candidate.call, ")"),
            ]
        edits = [self.insert_before(candidate.call, "await ")]
        if candidate.loop is not None and _streams_into_plain_for(candidate):
            edits.append(self.insert_before(candidate.loop, "async "))
        return edits


def _streams_into_plain_for(candidate: _Candidate) -> bool:
    """`for row in session.stream(q)`: an `AsyncResult` is iterated with `async for` only."""
    loop = candidate.loop
    return loop is not None and loop.asynchronous is None and candidate.method in _ASYNC_ITERABLE_RESULTS


def _plain_result_into_async_for(candidate: _Candidate) -> bool:
    """`async for row in session.execute(q)`: a plain `Result` is not async-iterable; whether
    `stream()` or a plain `for` was meant needs a human."""
    loop = candidate.loop
    return (
        loop is not None and loop.asynchronous is not None and candidate.method not in _ASYNC_ITERABLE_RESULTS
    )
