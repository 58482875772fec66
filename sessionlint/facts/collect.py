"""The fact pass: one stdlib `ast` walk of a module, condensed into `ModuleFacts`.

`ast` is used here rather than LibCST because this pass runs on every candidate file and
only needs names and shapes; LibCST is kept for the files the rules actually visit.

The module walker is here; the function walker is in `collect_function`, the reading of
expressions and imports in `collect_values`, the walk of one scope's nodes in `collect_nodes`.
"""

from __future__ import annotations

import ast
from typing import cast

from sessionlint.facts import callsites
from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_function import FunctionWalker
from sessionlint.facts.collect_nodes import Kinds, all_args, bound_names, frozen, own_nodes, walk
from sessionlint.facts.collect_values import NameResolver, import_bindings, star_import_source, value_of
from sessionlint.facts.facts import (
    Definition,
    FunctionFacts,
    LifecycleCall,
    ModuleFacts,
    Span,
    StateSlot,
    value_refs,
)
from sessionlint.facts.spans import SpanMaker
from sessionlint.facts.values import CallOf, Ref, Value
from sessionlint.project.lifecycle import DISPOSE, REMOVE, lifecycle_calls, state_slots

_DEPENDENCY_CALL_NAMES = frozenset({"Depends", "Security"})


def is_main_guard(test: ast.expr) -> bool:
    """`__name__ == "__main__"`: the test of a script's entry block."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


_SCOPE_TYPES = frozenset({ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
# What a lifecycle call or an `app.state` assignment spells as an attribute.
_LIFECYCLE_ATTRIBUTES = frozenset({DISPOSE, REMOVE, "state"})


class _ModuleCollector:
    def __init__(
        self, module: str, is_package: bool, *, shallow: bool = False, spans: SpanMaker | None = None
    ) -> None:
        self.module = module
        self.spans = spans or SpanMaker(None)
        self.binding_spans: dict[str, Span] = {}
        self.dependency_spans: list[Span] = []
        self.is_package = is_package
        self.shallow = shallow
        self.imports: dict[str, str] = {}
        self.star_imports: list[str] = []
        self.bindings: dict[str, Value | None] = {}
        self.definitions: set[str] = set()
        self.functions: dict[str, FunctionFacts] = {}
        self.dependency_calls: list[Value] = []
        self.calls: set[str] = set()
        self.toplevel_calls: set[str] = set()
        self.chained_calls: set[str] = set()
        self.main_calls: set[str] = set()
        self.constructor_calls: list[CallOf] = []
        self.lifespan_refs: list[Value | None] = []
        self.receiver_globals: set[str] = set()
        self.lifecycle_calls: list[LifecycleCall] = []
        self.state_slots: list[StateSlot] = []
        # The function being walked (`lifecycle`): its qualname and whether it is `async def`.
        self.scope = ""
        self.scope_is_async = False
        self.main_nodes: frozenset[int] = frozenset()

    # -- names -----------------------------------------------------------------------------

    def resolve_global(self, name: str) -> Value | None:
        if name in self.imports:
            return Ref(self.imports[name])
        if name in self.definitions or name in self.bindings:
            return Ref(f"{self.module}.{name}" if self.module else name)
        return None

    def declare_module_names(self, nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.update(import_bindings(node, self.module, self.is_package))
                source = star_import_source(node, self.module, self.is_package)
                if source is not None:
                    self.star_imports.append(source)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.definitions.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.definitions.add(node.id)

    # -- walking ---------------------------------------------------------------------------

    def collect_module(self, tree: ast.Module) -> None:
        nodes = own_nodes(tree.body)
        self.declare_module_names(nodes)
        self.main_nodes = frozenset(
            id(node)
            for statement in tree.body
            if isinstance(statement, ast.If) and is_main_guard(statement.test)
            for node in own_nodes(statement.body)
        )
        self.walk_block(nodes, self.resolve_global, prefix="", bindings_prefix="")
        for statement in tree.body:
            if isinstance(statement, ast.If) and is_main_guard(statement.test):
                for node in own_nodes(statement.body):
                    func = value_of(node.func, self.resolve_global) if isinstance(node, ast.Call) else None
                    if isinstance(func, Ref):
                        self.main_calls.add(func.qualname)

    def walk_block(
        self,
        nodes: list[ast.AST],
        resolve: NameResolver,
        *,
        prefix: str,
        bindings_prefix: str | None,
    ) -> None:
        """A module or class body (its own nodes): record bindings, descend into nested defs and classes."""
        runs_once = bindings_prefix is not None  # the module body or a class body in it
        self.note_lifecycle(nodes, resolve)
        for node in nodes:
            self.note_expression(node, resolve, toplevel=runs_once)
            if isinstance(node, ast.Lambda):
                self.note_lambda(node, resolve)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not self.shallow:
                    self.collect_function(node, resolve, prefix, is_method=bindings_prefix not in ("", None))
            elif isinstance(node, ast.ClassDef):
                self.note_scope_header(node, resolve)
                nested_bindings = f"{bindings_prefix}{node.name}." if bindings_prefix is not None else None
                if bindings_prefix is not None:
                    self.binding_spans[bindings_prefix + node.name] = self.spans.of_def(node)
                self.walk_block(
                    own_nodes(node.body),
                    resolve,
                    prefix=f"{prefix}{node.name}.",
                    bindings_prefix=nested_bindings,
                )
            elif bindings_prefix is not None:
                self.note_binding(node, resolve, bindings_prefix)

    def note_binding(self, node: ast.AST, resolve: NameResolver, bindings_prefix: str) -> None:
        if isinstance(node, ast.Assign):
            value = value_of(node.value, resolve)
            for target in node.targets:
                single = isinstance(target, ast.Name)
                for name in bound_names(target):
                    self.bindings[bindings_prefix + name] = value if single else None
                    self.binding_spans[bindings_prefix + name] = self.spans.of(node)
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            self.bindings[bindings_prefix + node.target.id] = value_of(node.value, resolve)
            self.binding_spans[bindings_prefix + node.target.id] = self.spans.of(node)

    def note_expression(self, node: ast.AST, resolve: NameResolver, *, toplevel: bool = False) -> None:
        """Facts any expression contributes wherever it stands: calls and dependencies."""
        if not isinstance(node, ast.Call):
            return
        func = value_of(node.func, resolve)
        if isinstance(func, CallOf) and isinstance(func.func, Ref):  # `sessionmaker(...)()`
            self.chained_calls.add(func.func.qualname)
            if toplevel:
                self.toplevel_calls.add(func.func.qualname + "()")
        if isinstance(func, Ref):
            self.calls.add(func.qualname)
            if toplevel:
                self.toplevel_calls.add(func.qualname)
            if func.qualname in vocab.CONSTRUCTORS:
                self.constructor_calls.append(cast(CallOf, value_of(node, resolve)))
        self.receiver_globals.update(callsites.receiver_globals(node, lambda e: value_of(e, resolve)))
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        # The whole call's value only where it is kept: most calls are just callees.
        if callee in _DEPENDENCY_CALL_NAMES:
            self.dependency_calls.append(value_of(node, resolve))
            self.dependency_spans.append(self.spans.of(node))
        if any(keyword.arg == "lifespan" for keyword in node.keywords):
            self.lifespan_refs.append(value_of(node, resolve))

    def note_lambda(self, node: ast.Lambda, resolve: NameResolver) -> None:
        """Calls in a lambda (and the lambdas in it): its parameters are nobody's globals."""
        params = {
            arg.arg for inner in walk(node) if isinstance(inner, ast.Lambda) for arg in all_args(inner.args)
        }

        def resolve_inside(name: str) -> Value | None:
            return None if name in params else resolve(name)

        inner_nodes = list(walk(node))
        for inner in inner_nodes:
            self.note_expression(inner, resolve_inside)
        self.note_lifecycle(inner_nodes, resolve_inside)

    def note_lifecycle(self, nodes: list[ast.AST], resolve: NameResolver, kinds: Kinds | None = None) -> None:
        """`dispose()` / `remove()` calls and `app.state` assignments (see `lifecycle`);
        `kinds`, the nodes grouped by class where known, tells most functions hold none."""
        if kinds is not None and _LIFECYCLE_ATTRIBUTES.isdisjoint(
            node.attr  # type: ignore[attr-defined]
            for node in kinds.get(ast.Attribute, ())
        ):
            return
        self.lifecycle_calls += lifecycle_calls(
            nodes,
            resolve,
            value_of,
            scope=self.scope,
            is_async=self.scope_is_async,
            main_nodes=self.main_nodes,
        )
        self.state_slots += state_slots(nodes, resolve, value_of, scope=self.scope)

    def note_scope_header(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, resolve: NameResolver
    ) -> None:
        """Decorators, defaults and annotations are evaluated in the enclosing scope."""
        header: list[ast.AST] = list(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            header += node.bases + [kw.value for kw in node.keywords]
        else:
            args = node.args
            header += args.defaults + [d for d in args.kw_defaults if d is not None]
            header += [a.annotation for a in all_args(args) if a.annotation is not None]
        for part in header:
            for inner in walk(part):
                self.note_expression(inner, resolve)

    def collect_function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        enclosing: NameResolver,
        prefix: str,
        *,
        is_method: bool,
    ) -> None:
        self.note_scope_header(node, enclosing)
        walker = FunctionWalker(node, enclosing, self.module, self.is_package)
        qualname = self.unique_qualname(prefix + node.name)
        self.functions[qualname] = walker.facts(qualname, is_method=is_method, span=self.spans.of_def(node))
        enclosing_scope = self.scope, self.scope_is_async
        self.scope, self.scope_is_async = qualname, isinstance(node, ast.AsyncFunctionDef)
        self.note_lifecycle(walker.nodes, walker.resolve, walker.kinds)
        self.walk_function_body(walker, qualname)
        self.scope, self.scope_is_async = enclosing_scope

    def walk_function_body(self, walker: FunctionWalker, qualname: str) -> None:
        for inner in walker.nodes:
            kind = inner.__class__
            if kind is ast.Call:
                self.note_expression(inner, walker.resolve)
            elif kind not in _SCOPE_TYPES:
                continue
            elif isinstance(inner, ast.Lambda):
                self.note_lambda(inner, walker.resolve_in_closure)
            elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.collect_function(
                    inner, walker.resolve_in_closure, f"{qualname}.<locals>.", is_method=False
                )
            elif isinstance(inner, ast.ClassDef):
                self.note_scope_header(inner, walker.resolve_in_closure)
                self.walk_block(
                    own_nodes(inner.body),
                    walker.resolve_in_closure,
                    prefix=f"{qualname}.<locals>.{inner.name}.",
                    bindings_prefix=None,
                )

    def unique_qualname(self, qualname: str) -> str:
        if qualname not in self.functions:
            return qualname
        count = 2
        while f"{qualname}#{count}" in self.functions:
            count += 1
        return f"{qualname}#{count}"


def collect(
    tree: ast.Module,
    *,
    path: str,
    module: str,
    is_package: bool,
    aliases: tuple[tuple[str, str], ...] = (),
    shallow: bool = False,
    text: str | None = None,
) -> ModuleFacts:
    """Condense a parsed module into its facts (`shallow`: module-level names only; `text`:
    the source `tree` was parsed from, which positions are counted in)."""
    collector = _ModuleCollector(module, is_package, shallow=shallow, spans=SpanMaker(text))
    collector.collect_module(tree)
    mentioned = [*collector.bindings.values(), *collector.dependency_calls, *collector.lifespan_refs]
    referenced = set(collector.calls).union(value_refs(mentioned))
    for function in collector.functions.values():
        referenced |= function.referenced
    return ModuleFacts(
        path=path,
        module=module,
        is_package=is_package,
        aliases=aliases,
        imports=collector.imports,
        star_imports=tuple(collector.star_imports),
        bindings=collector.bindings,
        binding_spans=collector.binding_spans,
        definitions=frozen(collector.definitions),
        functions=collector.functions,
        dependency_calls=tuple(collector.dependency_calls),
        dependency_spans=tuple(collector.dependency_spans),
        calls=frozen(collector.calls),
        lifespan_refs=tuple(collector.lifespan_refs),
        toplevel_calls=frozen(collector.toplevel_calls),
        chained_calls=frozen(collector.chained_calls),
        main_calls=frozen(collector.main_calls),
        constructor_calls=tuple(collector.constructor_calls),
        receiver_globals=frozen(collector.receiver_globals),
        lifecycle_calls=tuple(collector.lifecycle_calls),
        state_slots=tuple(collector.state_slots),
        referenced=frozen(referenced),
        shallow=shallow,
        outline=() if shallow else outline(tree.body),
    )


def outline(body: list[ast.stmt]) -> tuple[Definition, ...]:
    """The `def` and `class` statements of a module or class body (see `Definition`)."""
    return tuple(
        Definition(
            name=node.name,
            line=node.lineno,
            column=node.col_offset,
            first_line=min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)]),
            end_line=node.end_lineno or node.lineno,
            is_class=isinstance(node, ast.ClassDef),
            body=outline(node.body) if isinstance(node, ast.ClassDef) else (),
        )
        for node in body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )
