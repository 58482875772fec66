"""Per-node answers for the rules, over the LibCST tree of one file.

`FileSemantics` is the rules' only window on the semantic model. A `ScopeTracker` pair
placed first and last in the batched visit keeps it pointed at the innermost function,
so every rule sees the same scope without keeping its own stack.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_values import string_value
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.values import (
    TEXT_PREFIX_LENGTH,
    Awaited,
    CallOf,
    Kind,
    Local,
    NoneValue,
    Ref,
    SubscriptOf,
    Text,
    UnionOf,
    Value,
    with_attribute,
)
from sessionlint.project.index import Function, ProjectFacts
from sessionlint.report.diagnostics import Related
from sessionlint.rulepass.evidence import Evidence


@dataclass
class Scope:
    """One `def` (with its facts when the fact pass saw it) or one class body."""

    node: cst.FunctionDef | cst.ClassDef
    qualname: str
    function: Function | None = None
    # Past the header (decorators, defaults, annotations): visiting the body itself.
    in_body: bool = False

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, cst.ClassDef)


class FileSemantics:
    """What the semantic model knows about the file being visited, asked node by node."""

    def __init__(self, module: ModuleFacts, project: ProjectFacts) -> None:
        self.module = module
        self.project = project
        self.scopes: list[Scope] = []
        # Parameters of the lambdas being visited: inside one they shadow the function's names.
        self.lambda_params: list[frozenset[str]] = []
        self._seen_qualnames: dict[str, int] = {}
        self.is_test_file = module.is_test_file
        self.is_migration_file = module.is_migration_file
        # Depth of module-level `if __name__ == "__main__":` blocks being visited.
        self.main_guards = 0
        self._evidence: Evidence | None = None

    @property
    def evidence(self) -> Evidence:
        """The facts a finding stands on, as related locations (see `semantics.evidence`)."""
        if self._evidence is None:
            self._evidence = Evidence(self.project)
        return self._evidence

    def evidence_of(self, node: cst.BaseExpression | None) -> list[Related]:
        """Why an expression of the visited scope has the kind `kind_of` gives it."""
        function = self.function
        return self.evidence.of_value(self.value_of(node), self.module, function.facts if function else None)

    # -- scopes -------------------------------------------------------------------------

    @property
    def function(self) -> Function | None:
        """The innermost enclosing function, when it is the innermost scope."""
        if self.scopes and not self.scopes[-1].is_class:
            return self.scopes[-1].function
        return None

    @property
    def function_scopes(self) -> list[Scope]:
        return [scope for scope in self.scopes if not scope.is_class]

    @property
    def at_module_level(self) -> bool:
        """Not inside any function (module body or class body)."""
        return not self.function_scopes

    def enter(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        parent = self.scopes[-1] if self.scopes else None
        prefix = ""
        if parent is not None:
            prefix = f"{parent.qualname}." if parent.is_class else f"{parent.qualname}.<locals>."
        qualname = prefix + node.name.value
        function = None
        if isinstance(node, cst.FunctionDef):
            count = self._seen_qualnames.get(qualname, 0) + 1
            self._seen_qualnames[qualname] = count
            qualname = qualname if count == 1 else f"{qualname}#{count}"
            function = self.project.function_in(self.module, qualname)
        self.scopes.append(Scope(node, qualname, function))

    def leave(self) -> None:
        self.scopes.pop()

    @property
    def running_function(self) -> Scope | None:
        """The innermost function whose own body runs the visited node, as it runs.

        None in a function's decorators, defaults and annotations (the enclosing scope
        evaluates them), in a lambda (its body runs when it is called, perhaps in a worker
        thread), and in a class body.
        """
        scope = self.scopes[-1] if self.scopes else None
        if scope is None or scope.is_class or not scope.in_body or self.in_lambda:
            return None
        return scope

    @property
    def in_lambda(self) -> bool:
        """Inside a lambda (its body runs when called, not where it stands)."""
        return bool(self.lambda_params)

    def enter_lambda(self, node: cst.Lambda) -> None:
        params = node.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
        self.lambda_params.append(frozenset(param.name.value for param in every))

    def leave_lambda(self) -> None:
        self.lambda_params.pop()

    def function_for(self, node: cst.FunctionDef) -> Function | None:
        """Facts of a function whose scope is currently entered."""
        for scope in reversed(self.scopes):
            if scope.node is node:
                return scope.function
        return None

    # -- where the visited code runs (`contexts`) ----------------------------------------

    @functools.cached_property
    def in_migration(self) -> bool:
        """Alembic's environment or a migration script (by place, or importing `alembic.context`).

        Once per file: the answer reads every import of the module, and rules ask it node by
        node (30,380 times, 52 s of a profiled run, on agno's 19 checked files)."""
        return self.is_migration_file or self.project.is_migration_module(self.module)

    @property
    def in_test_code(self) -> bool:
        """A test file, or a pytest fixture (and what is nested in one)."""
        if self.is_test_file:
            return True
        return any(
            scope.function is not None
            and self.project.decorator_names(scope.function) & vocab.PYTEST_FIXTURES
            for scope in self.function_scopes
        )

    @property
    def in_one_shot_code(self) -> bool:
        """Code of a short process: a module under `scripts/` no application module imports,
        a script's `if __name__ == "__main__":` block, a CLI command, and the functions only
        those reach (`ProjectFacts.is_one_shot`)."""
        if self.project.is_script_module(self.module):
            return True
        if self.main_guards and self.at_module_level:
            return True
        return any(
            scope.function is not None and self.project.is_one_shot(scope.function)
            for scope in self.function_scopes
        )

    # -- values -------------------------------------------------------------------------

    def resolve_name(self, name: str) -> Value | None:
        if any(name in params for params in self.lambda_params):
            return None  # a lambda parameter: not the function's name of that spelling
        closures = self.function_scopes
        for depth, scope in enumerate(reversed(closures)):
            if scope.function is None:
                return None  # a function the fact pass did not see: know nothing
            if name in scope.function.facts.imports:
                return Ref(scope.function.facts.imports[name])  # imported in the function
            if name in scope.function.facts.local_names:
                return Local(name) if depth == 0 else None
        if name in self.module.imports or name in self.module.definitions or name in self.module.bindings:
            if name in self.module.imports:
                return Ref(self.module.imports[name])
            return Ref(f"{self.module.module}.{name}" if self.module.module else name)
        return None

    def value_of(self, node: cst.BaseExpression | None) -> Value | None:
        return expression_value(node, self.resolve_name)

    def kind_of(self, node: cst.BaseExpression | None) -> Kind | None:
        """What an expression evaluates to: a session, a factory, an engine, ..."""
        value = self.value_of(node)
        function = self.function
        return self.project.value_kind(value, self.module, function.facts if function else None)

    def qualified_name(self, node: cst.BaseExpression | None) -> str | None:
        """The external qualified name an expression refers to (`sqlalchemy.pool.NullPool`)."""
        value = self.value_of(node)
        return self.project.external_name(
            value.func if isinstance(value, CallOf) else value, self.module.root
        )

    def is_engine_constructor_call(self, node: cst.Call) -> bool:
        return self.kind_of(node) == Kind.ENGINE

    def local_kind(self, name: str) -> Kind | None:
        function = self.function
        if function is None:
            return None
        return self.project.local_kind(name, function.module, function.facts)

    def request_session_kind(self, node: cst.BaseExpression) -> Kind | None:
        """The kind of request-scoped session an expression holds: a parameter of the current
        function, never rebound in it, filled by a session dependency (see
        `ProjectFacts.request_session_kind`)."""
        function = self.function
        value = self.value_of(node)
        if function is None or not isinstance(value, Local) or value.name in function.facts.locals:
            return None
        param = function.facts.param(value.name)
        if param is None:
            return None
        return self.project.request_session_kind(param, function.module)

    def created_session_kind(self, node: cst.BaseExpression | None) -> Kind | None:
        """The kind of session an expression is when the current function created it with a
        bare call (see `ProjectFacts.created_session_kind`)."""
        function = self.function
        value = self.value_of(node)
        return self.project.created_session_kind(value, self.module, function.facts if function else None)

    def is_thread_pool_call(self, node: cst.Call) -> bool:
        """`run_in_threadpool(f, ...)`, `asyncio.to_thread(f, ...)`, `anyio.to_thread.run_sync(f,
        ...)`, `loop.run_in_executor(None, f, ...)` on an event loop: runs `f` in a worker thread."""
        if self.qualified_name(node.func) in vocab.THREAD_POOL_HELPERS:
            return True
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "run_in_executor":
            return False
        loop = self.value_of(func.value)
        function = self.function
        if isinstance(loop, Local) and function is not None and loop.name not in function.facts.imports:
            bound = function.facts.locals.get(loop.name, ())
            if function.facts.param(loop.name) is not None or len(bound) != 1:
                return False
            loop = bound[0]
        loop = loop.value if isinstance(loop, Awaited) else loop
        return isinstance(loop, CallOf) and self.project.external_name(loop.func) in vocab.EVENT_LOOP_GETTERS


def expression_value(node: cst.BaseExpression | None, resolve) -> Value | None:  # type: ignore[no-untyped-def]
    """The symbolic value of a LibCST expression (the twin of `collect_values.value_of`)."""
    if node is None:
        return None
    if isinstance(node, cst.Name):
        return NoneValue() if node.value == "None" else resolve(node.value)
    if isinstance(node, cst.Attribute):
        return with_attribute(expression_value(node.value, resolve), node.attr.value)
    if isinstance(node, cst.Call):
        return CallOf(
            func=expression_value(node.func, resolve),
            args=tuple(
                expression_value(arg.value, resolve)
                for arg in node.args
                if arg.keyword is None and not arg.star
            ),
            kwargs=tuple(
                (arg.keyword.value, expression_value(arg.value, resolve))
                for arg in node.args
                if arg.keyword is not None
            ),
            has_star_kwargs=any(arg.star == "**" for arg in node.args),
        )
    if isinstance(node, cst.Await):
        inner = expression_value(node.expression, resolve)
        return Awaited(inner) if inner is not None else None
    if isinstance(node, cst.Subscript):
        items: Sequence[Value | None] = [
            expression_value(element.slice.value, resolve) if isinstance(element.slice, cst.Index) else None
            for element in node.slice
        ]
        return SubscriptOf(expression_value(node.value, resolve), tuple(items))
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return UnionOf((expression_value(node.left, resolve), expression_value(node.right, resolve)))
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
        return string_value(text, resolve) if isinstance(text, str) else None
    if isinstance(node, cst.ConcatenatedString):
        text = node.evaluated_value
        return Text(text[:TEXT_PREFIX_LENGTH]) if isinstance(text, str) else None
    if isinstance(node, cst.FormattedString):
        head = node.parts[0] if node.parts else None
        if isinstance(head, cst.FormattedStringText):
            return Text(head.value[:TEXT_PREFIX_LENGTH])
        return None
    return None


class ScopeEnter(cst.BatchableCSTVisitor):
    """Runs first in the batch: enters scopes before any rule sees the node."""

    def __init__(self, semantics: FileSemantics) -> None:
        super().__init__()
        self.semantics = semantics
        # The last statement entered: the line an internal error is reported at.
        self.last_statement: cst.CSTNode | None = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.last_statement = node
        self.semantics.enter(node)

    # A function's body is the block it owns; node hooks, not attribute hooks (`lint._Batch`).
    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._enter_body(node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._enter_body(node)

    def _enter_body(self, node: cst.BaseSuite) -> None:
        scopes = self.semantics.scopes
        if scopes and scopes[-1].node.body is node:
            scopes[-1].in_body = True

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.last_statement = node
        self.semantics.enter(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.last_statement = node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.semantics.enter_lambda(node)

    def visit_If(self, node: cst.If) -> None:
        if self.semantics.at_module_level and is_main_guard(node):
            self.semantics.main_guards += 1


class ScopeExit(cst.BatchableCSTVisitor):
    """Runs last in the batch: leaves scopes after every rule's `leave_*`."""

    def __init__(self, semantics: FileSemantics) -> None:
        super().__init__()
        self.semantics = semantics

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.semantics.leave()

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.semantics.leave()

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.semantics.leave_lambda()

    def leave_If(self, original_node: cst.If) -> None:
        if self.semantics.at_module_level and is_main_guard(original_node):
            self.semantics.main_guards -= 1


_MAIN = frozenset({'"__main__"', "'__main__'"})


def is_main_guard(node: cst.If) -> bool:
    """`if __name__ == "__main__":` (plain isinstance checks: `libcst.matchers` is slow to import)."""
    test = node.test
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    target = test.comparisons[0]
    return (
        isinstance(test.left, cst.Name)
        and test.left.value == "__name__"
        and isinstance(target.operator, cst.Equal)
        and isinstance(target.comparator, cst.SimpleString)
        and target.comparator.value in _MAIN
    )
