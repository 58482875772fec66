"""SL012 async-engine-not-disposed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.project import lifecycle
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Fix, FixAvailability
from sessionlint.rules._base import FileContext, Rule

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MESSAGE = (
    "Async engine `{name}` is never disposed by the application: on shutdown and on every reload "
    "its pooled connections are dropped without being closed; `await {name}.dispose()` after the "
    "lifespan's `yield` or in a shutdown hook"
)


@dataclass
class _Engine:
    call: cst.Call
    # (module key, binding name), see `lifecycle.ObjectRef`.
    ref: tuple[str, str]
    # How the lifespan can name it: a global's name, or the target it was assigned to.
    spelling: str | None
    # The function that made it (None at module level).
    maker: Function | None


class AsyncEngineNotDisposed(Rule):
    """
    ## What it does
    Flags an async engine (`create_async_engine(...)`, or a project function that only
    returns one) created once for an application that has a lifespan or a shutdown hook,
    when no application code in the checked tree calls `dispose()` on it.

    ## Why is this bad?
    An engine owns a pool of open database connections. When the application stops (on
    every deploy, every `--reload`, every worker recycled) without `await engine.dispose()`,
    those connections are dropped without being closed: the database keeps them until its
    own timeout, and the connection count climbs on rolling deploys until new connections
    are refused ("too many connections"). An async engine also warns or fails when its
    connections are garbage collected after the event loop is gone.

    ## Example
    ```python
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(lifespan=lifespan)
    ```

    ## Use instead
    ```python
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    ```

    Or dispose it in an `@app.on_event("shutdown")` handler, or hand `engine.dispose` to
    `app.add_event_handler("shutdown", ...)`.

    ## Not flagged
    - an engine disposed by application code anywhere in the checked tree: in the lifespan
      after its `yield`, in a shutdown hook, in an `atexit` callback, through
      `app.state.<name>`, `self.<name>` or a getter returning the global;
    - a `dispose()` the checker cannot resolve to one engine (a parameter's, an unknown
      object's): it may be this engine's;
    - an application without a lifespan or a shutdown hook that the checker sees (there is
      no place it knows for the dispose), and engines of tests, scripts, CLI commands and
      migrations, whose processes end with them. A dispose that only a test fixture or a
      script performs does not count: the running application never disposes;
    - engines created in other functions than a lifespan or an app factory (SL003's
      concern), and sync engines;
    - a run that does not see the whole project (a few files named out of a larger tree):
      the dispose may be in a file it did not read.

    ## Fix safety
    When the application has exactly one lifespan, in the engine's own module, that
    `yield`s once and can name the engine (a global, or the name the lifespan bound it
    to), the fix adds `await <engine>.dispose()` on the line after the `yield`. It is
    unsafe: code after the `yield` that still uses the engine would now meet a disposed
    pool (which opens new connections again), and a `yield` inside a `try` runs the line
    only on a clean shutdown. Otherwise there is no fix.
    """

    code = "SL012"
    name = "async-engine-not-disposed"
    message = "{description}"
    fix_title = "Dispose the engine after the lifespan's `yield`"
    fix_availability = FixAvailability.SOMETIMES

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._engines: list[_Engine] = []
        self._functions: dict[str, tuple[cst.FunctionDef, Function]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.semantics.function_for(node)
        if function is not None:
            self._functions[function.facts.qualname] = (node, function)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            self._note(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._note(node.target, node.value)

    def _note(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        semantics = self.semantics
        if not isinstance(value, cst.Call) or not isinstance(value.func, (cst.Name, cst.Attribute)):
            return  # `make()()`: an engine is made by naming its maker (and chains run deep)
        if not lifecycle.makes_async_engine(semantics.project, semantics.value_of(value), semantics.module):
            return
        if (
            semantics.is_test_file
            or semantics.in_migration
            or semantics.in_one_shot_code
            or semantics.in_test_code
        ):
            return
        module = semantics.module
        if semantics.at_module_level:
            if not isinstance(target, cst.Name) or semantics.main_guards:
                return
            prefix = "".join(f"{scope.qualname}." for scope in semantics.scopes[-1:])
            name = prefix + target.value
            self._engines.append(_Engine(value, (module.key, name), name, None))
            return
        running = semantics.running_function
        function = semantics.function
        if running is None or function is None:
            return
        project = semantics.project
        if not (project.is_startup_hook(function) or project.is_app_factory(function)):
            return  # made per call elsewhere: SL003's concern
        ref = lifecycle.made_object(module, function.facts.qualname)
        spelling = _spelling(target)
        self._engines.append(_Engine(value, ref, spelling, function))

    def leave_Module(self, original_node: cst.Module) -> None:
        project = self.semantics.project
        reported = set()
        for engine in self._engines:
            key, name = engine.ref
            if engine.ref in reported:
                continue  # made again in another branch (`if sqlite: ... else: ...`): one object
            if (
                not project.knows_whole_project()
                or not project.lifecycle_answer("shutdown", *lifecycle.UNKNOWN)
                or project.lifecycle_answer("disposed", *lifecycle.UNKNOWN)
                or project.lifecycle_answer("disposed", key, name)
            ):
                continue
            reported.add(engine.ref)
            shown = engine.spelling or self.quote(engine.call)
            self.report(engine.call, fix=self._fix(engine), description=_MESSAGE.format(name=shown))

    # -- the fix ----------------------------------------------------------------------------

    def _fix(self, engine: _Engine) -> Fix | None:
        project = self.semantics.project
        if engine.spelling is None or not project.lifecycle_answer("shutdown", lifecycle.LIFESPANS, "1"):
            return None
        lifespan = self._lifespan(engine)
        if lifespan is None:
            return None
        node, function = lifespan
        facts = function.facts
        if engine.maker is None and engine.spelling.partition(".")[0] in facts.local_names:
            return None  # the lifespan's own name of that spelling would shadow the global
        statement = _only_yield_statement(node)
        if statement is None:
            return None
        return self._insert_after(statement, f"await {engine.spelling}.dispose()")

    def _lifespan(self, engine: _Engine) -> tuple[cst.FunctionDef, Function] | None:
        """The application's one lifespan, in this module: the engine's maker, or any."""
        project = self.semantics.project
        for node, function in self._functions.values():
            if engine.maker is not None and function.facts is not engine.maker.facts:
                continue
            facts = function.facts
            if (
                facts.is_async
                and facts.is_generator
                and len(facts.yields) == 1
                and project.lifecycle_answer("shutdown", function.module.key, facts.qualname)
                and project.is_startup_hook(function)
                and not any(project.is_route_decorator(d, vocab.STARTUP_HOOKS) for d in facts.decorators)
            ):
                return node, function
        return None

    def _insert_after(self, statement: cst.SimpleStatementLine, text: str) -> Fix:
        """`text` on a line of its own after the statement's line, at its indentation."""
        context = self.context
        indent = context.line_indent(statement)
        _, end = context.span(statement)
        row = context.location_of(end).row
        newline = context.module.default_newline
        if row < len(_LINE_BREAK.split(context.source)):
            start = context.line_start(row + 1)
            edit = context.edit(start, start, f"{indent}{text}{newline}")
        else:  # the last line, without a line break
            end_of_file = len(context.source)
            edit = context.edit(end_of_file, end_of_file, f"{newline}{indent}{text}")
        return self.make_fix([edit], safe=False)


def _spelling(target: cst.BaseExpression) -> str | None:
    """`engine` or `app.state.engine`: a name or an attribute chain of names."""
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Attribute):
        base = _spelling(target.value)
        return f"{base}.{target.attr.value}" if base is not None else None
    return None


def _only_yield_statement(function: cst.FunctionDef) -> cst.SimpleStatementLine | None:
    """The statement line holding the function's one bare `yield` (its own body, not nested
    scopes); None when there is not exactly one such line."""
    found: list[cst.SimpleStatementLine] = []

    class _Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            if any(isinstance(small, cst.Expr) and isinstance(small.value, cst.Yield) for small in node.body):
                found.append(node)

    function.visit(_Finder())
    return found[0] if len(found) == 1 else None
