"""The fact pass: one stdlib `ast` walk of a module, condensed into `ModuleFacts`.

`ast` is used here rather than LibCST because this pass runs on every candidate file and
only needs names and shapes; LibCST is kept for the files the rules actually visit.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from typing import Callable, Optional, cast

from sessionlint.semantics import callsites, tasks
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.dataflow import dataflow
from sessionlint.semantics.engines import disposed_names
from sessionlint.semantics.facts import (
    FunctionFacts,
    LifecycleCall,
    ModuleFacts,
    ParamFacts,
    Span,
    StateSlot,
    value_refs,
)
from sessionlint.semantics.lifecycle import lifecycle_calls, state_slots
from sessionlint.semantics.spans import SpanMaker
from sessionlint.semantics.uses import param_uses
from sessionlint.semantics.values import (
    TEXT_PREFIX_LENGTH,
    Awaited,
    CallOf,
    ItemOf,
    Local,
    NoneValue,
    Ref,
    SubscriptOf,
    Text,
    UnionOf,
    Value,
    with_attribute,
)

NameResolver = Callable[[str], Optional[Value]]
_DEPENDENCY_CALL_NAMES = frozenset({"Depends", "Security"})
_KEEPING_METHODS = vocab.CONTAINER_STORE_METHODS | vocab.EXIT_STACK_METHODS
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_AWAITS = (ast.Await, ast.AsyncFor, ast.AsyncWith)


def relative_import_base(module: str, is_package: bool, level: int) -> str | None:
    """The package a `from .{level dots} import` statement is relative to."""
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    drop = level - 1
    if drop > len(parts):
        return None
    return ".".join(parts[: len(parts) - drop]) if drop else ".".join(parts)


def import_bindings(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> Iterator[tuple[str, str]]:
    """(local name, qualified name) pairs bound by an import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                top = alias.name.partition(".")[0]
                yield top, top
        return
    source = node.module or ""
    if node.level:
        base = relative_import_base(module, is_package, node.level)
        if base is None:
            return
        source = f"{base}.{source}" if base and source else base or source
    for alias in node.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{source}.{alias.name}" if source else alias.name


def star_import_source(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The module a `from ... import *` statement takes every public name of."""
    if not isinstance(node, ast.ImportFrom) or not any(alias.name == "*" for alias in node.names):
        return None
    source = node.module or ""
    if node.level:
        base = relative_import_base(module, is_package, node.level)
        if base is None:
            return None
        source = f"{base}.{source}" if base and source else base or source
    return source or None


def value_of(node: ast.expr | None, resolve: NameResolver) -> Value | None:
    """The symbolic value of an expression; None when it says nothing the rules use."""
    if node is None:
        return None
    if isinstance(node, ast.Name):
        return resolve(node.id)
    if isinstance(node, ast.Attribute):
        return with_attribute(value_of(node.value, resolve), node.attr)
    if isinstance(node, ast.Call):
        return CallOf(
            func=value_of(node.func, resolve),
            args=tuple(value_of(arg, resolve) for arg in node.args if not isinstance(arg, ast.Starred)),
            kwargs=tuple((kw.arg, value_of(kw.value, resolve)) for kw in node.keywords if kw.arg),
            has_star_kwargs=any(kw.arg is None for kw in node.keywords),
        )
    if isinstance(node, ast.Await):
        inner = value_of(node.value, resolve)
        return Awaited(inner) if inner is not None else None
    if isinstance(node, ast.Subscript):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return SubscriptOf(value_of(node.value, resolve), tuple(value_of(item, resolve) for item in items))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return UnionOf((value_of(node.left, resolve), value_of(node.right, resolve)))
    if isinstance(node, ast.Constant):
        if node.value is None:
            return NoneValue()
        if isinstance(node.value, str):
            return string_value(node.value, resolve)
        return None
    if isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return Text(head.value[:TEXT_PREFIX_LENGTH])
        return None
    return None


def string_value(text: str, resolve: NameResolver) -> Value:
    """A string literal; one that spells a dotted name may be a forward-reference annotation."""
    stripped = text.strip()
    if stripped and stripped.replace(".", "").replace("_", "").isalnum() and not stripped[0].isdigit():
        first, _, rest = stripped.partition(".")
        value = resolve(first)
        for attr in rest.split(".") if rest else ():
            value = with_attribute(value, attr)
        if value is not None:
            return value
    return Text(text[:TEXT_PREFIX_LENGTH])


# Fields that never hold a node the fact pass looks at: names and flags (plain values), and
# the `Load` / `Store` / operator singletons (their parents are what is checked).
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "asname", "module", "level"}
    | {"kind", "conversion", "is_async", "type_comment"}
)


@functools.cache
def _child_fields(node_class: type[ast.AST]) -> tuple[str, ...]:
    return tuple(name for name in node_class._fields if name not in _LEAF_FIELDS)


def _own_nodes(body: Iterable[ast.AST]) -> list[ast.AST]:
    """Every node of a scope's body in source order, not descending into nested scopes.

    Computed once per scope and reused by every question asked of it: walking the tree is
    most of the fact pass's cost (`ast.iter_child_nodes` also yields every `Load` context).
    """
    nodes: list[ast.AST] = []
    stack = list(body)[::-1]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, _SCOPES):
            continue
        children: list[ast.AST] = []
        for field in _child_fields(type(node)):
            value = getattr(node, field, None)
            if isinstance(value, list):
                children += [item for item in value if isinstance(item, ast.AST)]
            elif isinstance(value, ast.AST):
                children.append(value)
        stack += children[::-1]
    return nodes


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


def _bound_names(target: ast.AST) -> Iterator[str]:
    # Only names the target binds: `db.info["x"] = 1` and `app.state.engine = e` bind nothing.
    for node in ast.walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


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
        self.lifecycle_calls: list[LifecycleCall] = []
        self.state_slots: list[StateSlot] = []
        # The function being walked (`lifecycle`): its qualname and whether it is `async def`.
        self.scope = ""
        self.scope_is_async = False
        self.main_nodes: frozenset[int] = frozenset()
        self.receiver_globals: set[str] = set()

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
        nodes = _own_nodes(tree.body)
        self.declare_module_names(nodes)
        self.main_nodes = frozenset(
            id(node)
            for statement in tree.body
            if isinstance(statement, ast.If) and is_main_guard(statement.test)
            for node in _own_nodes(statement.body)
        )
        self.walk_block(nodes, self.resolve_global, prefix="", bindings_prefix="")
        for statement in tree.body:
            if isinstance(statement, ast.If) and is_main_guard(statement.test):
                for node in _own_nodes(statement.body):
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
                    _own_nodes(node.body),
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
                for name in _bound_names(target):
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
            arg.arg
            for inner in ast.walk(node)
            if isinstance(inner, ast.Lambda)
            for arg in _all_args(inner.args)
        }

        def resolve_inside(name: str) -> Value | None:
            return None if name in params else resolve(name)

        inner_nodes = list(ast.walk(node))
        for inner in inner_nodes:
            self.note_expression(inner, resolve_inside)
        self.note_lifecycle(inner_nodes, resolve_inside)

    def note_lifecycle(self, nodes: list[ast.AST], resolve: NameResolver) -> None:
        """`dispose()` / `remove()` calls and `app.state` assignments (see `lifecycle`)."""
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
            header += [a.annotation for a in _all_args(args) if a.annotation is not None]
        for part in header:
            for inner in ast.walk(part):
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
        walker = _FunctionWalker(node, enclosing, self.module, self.is_package)
        qualname = self.unique_qualname(prefix + node.name)
        self.functions[qualname] = walker.facts(qualname, is_method=is_method, span=self.spans.of_def(node))
        enclosing_scope = self.scope, self.scope_is_async
        self.scope, self.scope_is_async = qualname, isinstance(node, ast.AsyncFunctionDef)
        self.note_lifecycle(walker.nodes, walker.resolve)
        self.walk_function_body(walker, qualname)
        self.scope, self.scope_is_async = enclosing_scope

    def walk_function_body(self, walker: _FunctionWalker, qualname: str) -> None:
        for inner in walker.nodes:
            self.note_expression(inner, walker.resolve)
            if isinstance(inner, ast.Lambda):
                self.note_lambda(inner, walker.resolve_in_closure)
            elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.collect_function(
                    inner, walker.resolve_in_closure, f"{qualname}.<locals>.", is_method=False
                )
            elif isinstance(inner, ast.ClassDef):
                self.note_scope_header(inner, walker.resolve_in_closure)
                self.walk_block(
                    _own_nodes(inner.body),
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


def _awaits(nodes: list[ast.AST]) -> bool:
    """`await`, `async for`, `async with` or an async comprehension among a scope's own nodes,
    including the parts of nested scopes that run in this one."""
    for node in nodes:
        if isinstance(node, _AWAITS):
            return True
        if isinstance(node, _COMPREHENSIONS) and any(g.is_async for g in node.generators):
            return True
        if isinstance(node, _SCOPES) and _awaits(_own_nodes(_evaluated_outside(node))):
            return True
    return False


def _own_value(node: ast.Assign) -> ast.expr | None:
    """What an assignment binds, as far as its kind goes: `db = db or SessionLocal()` binds
    either what `db` already held or a new session, so the new binding is the session (the
    name's other bindings are weighed by whoever asks). Other `or`s: unknown."""
    value = node.value
    if not isinstance(value, ast.BoolOp) or not isinstance(value.op, ast.Or):
        return value
    target = node.targets[0] if len(node.targets) == 1 else None
    first = value.values[0]
    if isinstance(target, ast.Name) and isinstance(first, ast.Name) and first.id == target.id:
        return value.values[-1] if len(value.values) == 2 else None
    return None


def _evaluated_outside(scope: ast.AST) -> list[ast.AST]:
    """What a nested scope's definition evaluates in the enclosing scope: decorators, default
    values, annotations (without PEP 563), a class's bases and keywords."""
    if isinstance(scope, ast.ClassDef):
        return [*scope.decorator_list, *scope.bases, *scope.keywords]
    assert isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    args = scope.args
    parts: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if isinstance(scope, ast.Lambda):
        return parts
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    parts += [arg.annotation for arg in every if arg is not None and arg.annotation is not None]
    return [*scope.decorator_list, *parts, *([scope.returns] if scope.returns else [])]


def _hands_over(call: ast.Call, callee: Value | None) -> bool:
    """A call that keeps its arguments: `registry.add(db)`, `stack.enter_context(db)`,
    `closing(db)` (a plain call such as `crud.create(db)` only uses them)."""
    if isinstance(call.func, ast.Attribute) and call.func.attr in _KEEPING_METHODS:
        return True
    return isinstance(callee, Ref) and callee.qualname in vocab.OWNERSHIP_TAKERS


def _names_passed(call: ast.Call) -> Iterator[str]:
    """Names passed as arguments (`f(db)`, `f(*dbs)`, `f(session=db)`)."""
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.Starred) else arg
        if isinstance(value, ast.Name):
            yield value.id
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name):
            yield keyword.value.id


def _all_args(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return args.posonlyargs + args.args + args.kwonlyargs + extra


class _FunctionWalker:
    """Locals, returns, yields and calls of one function body (nested scopes excluded)."""

    def __init__(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        enclosing: NameResolver,
        module: str,
        is_package: bool,
    ) -> None:
        self.node = node
        self.enclosing = enclosing
        self.nodes = _own_nodes(node.body)
        self.declared_globals: set[str] = set()
        self.imports: dict[str, str] = {}
        self.local_names = self._local_names(module, is_package)

    def _local_names(self, module: str, is_package: bool) -> set[str]:
        names = {arg.arg for arg in _all_args(self.node.args)}
        imported: dict[str, set[str]] = {}
        for node in self.nodes:
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                self.declared_globals.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for local, target in import_bindings(node, module, is_package):
                    imported.setdefault(local, set()).add(target)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
        # A name bound by one import and nothing else is that import; a name imported from
        # two places (`try: from a import X` / `except: from b import X`) or also assigned is
        # a local whose value is unknown.
        for local, targets in imported.items():
            if len(targets) == 1 and local not in names and local not in self.declared_globals:
                self.imports[local] = next(iter(targets))
        names.update(imported)
        return names - self.declared_globals

    def resolve(self, name: str) -> Value | None:
        if name in self.imports:
            return Ref(self.imports[name])
        if name in self.local_names:
            return Local(name)
        return self.enclosing(name)

    def resolve_in_closure(self, name: str) -> Value | None:
        """From a nested scope, this function's locals are free variables: unknown (its
        imports are the same object everywhere)."""
        if name in self.imports:
            return Ref(self.imports[name])
        if name in self.local_names:
            return None
        return self.enclosing(name)

    def facts(self, qualname: str, *, is_method: bool, span: Span) -> FunctionFacts:
        node = self.node
        local_values: dict[str, list[Value | None]] = {}
        returns: list[Value | None] = []
        yields: list[Value | None] = []
        calls: set[str] = set()
        with_targets: set[str] = set()
        assigned: set[str] = set()
        shared: set[str] = set()
        closed: set[str] = set()
        is_generator = False

        def bind(target: ast.AST, value: Value | None) -> None:
            single = isinstance(target, ast.Name)
            for name in _bound_names(target):
                local_values.setdefault(name, []).append(value if single else None)

        every_arg = _all_args(node.args)
        self_name = every_arg[0].arg if is_method and every_arg else None
        attributes: dict[str, list[Value | None]] = {}

        def note_attribute(target: ast.AST, value: Value | None) -> None:
            base = target.value if isinstance(target, ast.Attribute) else None
            if isinstance(base, ast.Name) and base.id == self_name:
                attributes.setdefault(cast(ast.Attribute, target).attr, []).append(value)

        for inner in self.nodes:
            if isinstance(inner, _COMPREHENSIONS):
                continue
            if isinstance(inner, ast.Assign):
                value = value_of(_own_value(inner), self.resolve)
                for target in inner.targets:
                    bind(target, value)
                    if self_name is not None:
                        note_attribute(target, value)
                if len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name):
                    assigned.add(inner.targets[0].id)
                if isinstance(inner.value, ast.Name):
                    shared.add(inner.value.id)
            elif isinstance(inner, (ast.AnnAssign, ast.NamedExpr)) and inner.value is not None:
                bind(inner.target, value_of(inner.value, self.resolve))
                if self_name is not None and isinstance(inner, ast.AnnAssign):
                    note_attribute(inner.target, value_of(inner.value, self.resolve))
                if isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
                    assigned.add(inner.target.id)
            elif isinstance(inner, (ast.For, ast.AsyncFor)):
                iterated = value_of(inner.iter, self.resolve)
                item = ItemOf(iterated, isinstance(inner, ast.AsyncFor)) if iterated is not None else None
                bind(inner.target, item)
            elif isinstance(inner, ast.AugAssign):
                bind(inner.target, None)
            elif isinstance(inner, (ast.With, ast.AsyncWith)):
                closed.update(i.context_expr.id for i in inner.items if isinstance(i.context_expr, ast.Name))
                for item in inner.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars, value_of(item.context_expr, self.resolve))
                        with_targets.update(_bound_names(item.optional_vars))
            elif isinstance(inner, ast.Return) and inner.value is not None:
                returns.append(value_of(inner.value, self.resolve))
            elif isinstance(inner, ast.Yield):
                is_generator = True
                yields.append(value_of(inner.value, self.resolve))
            elif isinstance(inner, ast.YieldFrom):
                is_generator = True
                yields.append(None)
            elif isinstance(inner, ast.Call):
                func = inner.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr == "close"
                    and isinstance(func.value, ast.Name)
                ):
                    closed.add(func.value.id)
                callee = value_of(inner.func, self.resolve)
                if isinstance(callee, Ref):
                    calls.add(callee.qualname)
                if _hands_over(inner, callee):
                    shared.update(_names_passed(inner))
            elif isinstance(inner, ast.Set) or (
                isinstance(inner, (ast.List, ast.Tuple)) and isinstance(inner.ctx, ast.Load)
            ):
                shared.update(e.id for e in inner.elts if isinstance(e, ast.Name))
            elif isinstance(inner, ast.Dict):
                shared.update(e.id for e in (*inner.keys, *inner.values) if isinstance(e, ast.Name))

        args = node.args
        positional = args.posonlyargs + args.args
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        params = [
            ParamFacts(arg.arg, value_of(arg.annotation, self.enclosing), value_of(default, self.enclosing))
            for arg, default in [
                *zip(positional, defaults),
                *zip(args.kwonlyargs, args.kw_defaults),
            ]
        ]
        decorators = tuple(value_of(d, self.enclosing) for d in node.decorator_list)
        flows, leaving = dataflow(self.nodes, self.local_names, {arg.arg for arg in _all_args(args)})
        is_async = isinstance(node, ast.AsyncFunctionDef)
        session_params, handoffs, gather_sites = (
            tasks.session_uses(self.nodes, frozenset(p.name for p in params), self.resolve)
            if is_async
            else (_NOTHING, (), ())
        )
        mentioned: list[Value | None] = [
            *decorators,
            *returns,
            *yields,
            value_of(node.returns, self.enclosing),
        ]
        mentioned += [part for param in params for part in (param.annotation, param.default)]
        mentioned += [value for values in local_values.values() for value in values]
        return FunctionFacts(
            qualname=qualname,
            name=node.name,
            line=node.lineno,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            is_generator=is_generator,
            is_method=is_method,
            decorators=decorators,
            params=tuple(params),
            returns=tuple(returns),
            yields=tuple(yields),
            locals={name: tuple(values) for name, values in local_values.items()},
            local_names=_frozen(self.local_names),
            calls=_frozen(calls),
            declared_globals=_frozen(self.declared_globals),
            awaits=_awaits(self.nodes),
            with_targets=_frozen(with_targets),
            assigned_names=_frozen(assigned),
            shared_names=_frozen(shared),
            referenced=_frozen(set(calls).union(value_refs(mentioned))),
            imports=self.imports,
            returns_annotation=value_of(node.returns, self.enclosing),
            self_attributes={name: tuple(values) for name, values in attributes.items()},
            closed_names=_frozen(closed),
            flows=flows,
            leaving=_frozen(leaving),
            session_params=_frozen(session_params),
            param_handoffs=handoffs,
            gather_sites=gather_sites,
            starts_tasks=tasks.starts_tasks(self.nodes),
            param_uses=param_uses(node, self.nodes, lambda expr: value_of(expr, self.resolve)),
            disposed=_frozen(disposed_names(self.node.body, self.nodes)),
            **callsites.function_facts(self.nodes, lambda expr: value_of(expr, self.resolve)),
            span=span,
        )


_NOTHING: frozenset[str] = frozenset()


def _frozen(names: Iterable[str]) -> frozenset[str]:
    """One shared empty set: most functions call, share or declare nothing, and an empty
    frozenset costs as much memory as a small full one."""
    return frozenset(names) or _NOTHING


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
        definitions=_frozen(collector.definitions),
        functions=collector.functions,
        dependency_calls=tuple(collector.dependency_calls),
        dependency_spans=tuple(collector.dependency_spans),
        calls=_frozen(collector.calls),
        lifespan_refs=tuple(collector.lifespan_refs),
        toplevel_calls=_frozen(collector.toplevel_calls),
        chained_calls=_frozen(collector.chained_calls),
        main_calls=_frozen(collector.main_calls),
        constructor_calls=tuple(collector.constructor_calls),
        lifecycle_calls=tuple(collector.lifecycle_calls),
        state_slots=tuple(collector.state_slots),
        receiver_globals=_frozen(collector.receiver_globals),
        referenced=_frozen(referenced),
        shallow=shallow,
    )
