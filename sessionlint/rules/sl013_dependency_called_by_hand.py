"""SL013 dependency-called-by-hand."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from sessionlint.facts.values import Local, Value
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Related
from sessionlint.rules._base import FileContext, Rule

_DRIVERS = frozenset({"next", "anext"})
_DUNDER_DRIVERS = frozenset({"__next__", "__anext__"})
_CLOSERS = frozenset({"close", "aclose"})

_INLINE_SYNC = (
    "`{driver}` on a temporary `{generator}()` generator: CPython finalizes it as soon as `{driver}` "
    "returns, so the session is closed before it is used and its next query opens a transaction "
    "nobody closes"
)
_INLINE_ASYNC = (
    "`{driver}` on a temporary `{generator}()` async generator: the event loop finalizes it at an "
    "arbitrary later moment, closing the session while it may still be in use, or never"
)
_KEPT = (
    "Generator `{name}` of `{generator}()` is never closed: its `finally` (the session's close) runs "
    "only when the garbage collector gets to it; close it in a `finally`"
)


@dataclass
class _Kept:
    """`gen = get_db()` then `next(gen)`: reported when the function ends without closing `gen`."""

    node: cst.Call
    name: str
    generator: str
    related: list[Related] = field(default_factory=list)


class DependencyCalledByHand(Rule):
    """
    ## What it does
    Flags a session generator (a function that creates a session and yields it, such as a
    FastAPI dependency `get_db`) driven by hand: `db = next(get_db())`,
    `db = await anext(get_db())`, `get_db().__next__()`, or `gen = get_db(); db = next(gen)`
    with `gen` never closed.

    ## Why is this bad?
    The generator's `finally` (or `with` block) is what closes the session, and it runs only
    when the generator is closed. Driven by hand, nobody closes it:
    - kept in a variable, the generator is closed only when the garbage collector gets to it,
      so the session keeps its pooled connection for as long as that takes;
    - as a temporary (`next(get_db())`), CPython finalizes the generator as soon as `next()`
      returns: the session is closed before the caller uses it, its first query silently
      starts a new transaction on a new connection, and that one is never closed. An async
      generator is finalized by the event loop at some later moment instead, which may close
      the session in the middle of its use.

    Either way the caller holds a session nobody closes. This is common in scripts, seed
    jobs, background jobs and websocket handlers that reuse the request dependency.

    ## Example
    ```python
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)

    def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()

    def seed():
        db = next(get_db())
        db.execute(...)
        db.commit()
    ```

    ## Use instead
    ```python
    from contextlib import contextmanager

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
    SessionLocal = sessionmaker(bind=engine)

    def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()

    def seed():
        with contextmanager(get_db)() as db:
            db.execute(...)
            db.commit()
    ```

    Or open the session where it is used: `with SessionLocal() as db:`.

    ## Not flagged
    - a generator kept in a variable and closed in a `finally` (`gen.close()`,
      `await gen.aclose()`), or entered with `with closing(get_db()) as gen:`;
    - a generator object handed on (stored, passed to another call, returned): its new owner
      may close it;
    - `contextlib.contextmanager(get_db)()` / `asynccontextmanager` in a `with` block, and
      `@contextmanager` functions themselves;
    - generators that yield a session they did not create (a provider passing on a
      request's session): closing them closes nothing;
    - test files, where the process is short-lived (pytest fixtures yield and close by
      themselves).
    """

    code = "SL013"
    name = "dependency-called-by-hand"
    message = "{description}"

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._finally_depth = 0
        self._closed: list[set[str]] = []
        self._kept: list[list[_Kept]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._closed.append(set())
        self._kept.append([])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        closed, kept = self._closed.pop(), self._kept.pop()
        for candidate in kept:
            if candidate.name not in closed:
                self.report(
                    candidate.node,
                    related=candidate.related,
                    description=_KEPT.format(name=candidate.name, generator=candidate.generator),
                )

    def visit_Finally(self, node: cst.Finally) -> None:
        self._finally_depth += 1

    def leave_Finally(self, original_node: cst.Finally) -> None:
        self._finally_depth -= 1

    def visit_Call(self, node: cst.Call) -> None:
        if self.semantics.is_test_file:
            return
        self._note_close(node)
        driven = self._driven_generator(node)
        if driven is None:
            return
        driver, argument = driven
        if isinstance(argument, cst.Call):
            generator = self._session_generator(argument)
            if generator is not None:
                template = _INLINE_ASYNC if generator.facts.is_async else _INLINE_SYNC
                self.report(
                    node,
                    related=self.semantics.evidence.of_function(generator),
                    description=template.format(driver=driver, generator=generator.facts.name),
                )
        elif isinstance(argument, cst.Name) and self._kept:
            generator = self._kept_generator(argument.value)
            if generator is not None:
                related = self.semantics.evidence.of_function(generator)
                self._kept[-1].append(_Kept(node, argument.value, generator.facts.name, related))

    def _note_close(self, node: cst.Call) -> None:
        """`gen.close()` / `gen.aclose()` inside a `finally` of the current function."""
        func = node.func
        if (
            self._finally_depth
            and self._closed
            and isinstance(func, cst.Attribute)
            and func.attr.value in _CLOSERS
            and isinstance(func.value, cst.Name)
        ):
            self._closed[-1].add(func.value.value)

    def _driven_generator(self, node: cst.Call) -> tuple[str, cst.BaseExpression] | None:
        """`next(x)` / `anext(x)` (the builtins) or `x.__next__()`: (how it is driven, x)."""
        func = node.func
        if isinstance(func, cst.Name) and func.value in _DRIVERS and node.args:
            if self.semantics.resolve_name(func.value) is not None or node.args[0].star:
                return None  # a name of the module's or the function's own, not the builtin
            return f"{func.value}()", node.args[0].value
        if isinstance(func, cst.Attribute) and func.attr.value in _DUNDER_DRIVERS and not node.args:
            return f".{func.attr.value}()", func.value
        return None

    def _session_generator(self, call: cst.Call) -> Function | None:
        return self._session_generator_of(self.semantics.value_of(call))

    def _session_generator_of(self, value: Value | None) -> Function | None:
        return self.semantics.project.session_generator(value, self.semantics.module)

    def _kept_generator(self, name: str) -> Function | None:
        """A local bound only to calls of one session generator, and kept by this function."""
        function = self.semantics.function
        if function is None or not isinstance(self.semantics.resolve_name(name), Local):
            return None
        facts = function.facts
        if (
            facts.param(name) is not None
            or name in facts.with_targets
            or name in facts.shared_names
            or name in facts.declared_globals
            or Local(name) in facts.returns
            or Local(name) in facts.yields
        ):
            return None
        generators = [self._session_generator_of(value) for value in facts.locals.get(name, ())]
        first = generators[0] if generators else None
        if first is None or any(g is None or g.facts is not first.facts for g in generators):
            return None
        return first
