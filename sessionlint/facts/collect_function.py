"""The fact pass's function walker: one function body's locals, returns, yields, calls and
the uses of its parameters, condensed into `FunctionFacts` (nested scopes excluded: the
module walker in `collect` visits them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import cast

from sessionlint.facts import callsites
from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_nodes import SCOPES, Kinds, all_args, bound_names, by_kind, frozen, own_nodes
from sessionlint.facts.collect_values import NameResolver, import_bindings, value_of
from sessionlint.facts.dataflow import dataflow
from sessionlint.facts.engines import disposed_names
from sessionlint.facts.facts import FunctionFacts, ParamFacts, Span, value_refs
from sessionlint.facts.uses import param_uses
from sessionlint.facts.values import ItemOf, Local, Ref, Value
from sessionlint.project import tasks

_KEEPING_METHODS = vocab.CONTAINER_STORE_METHODS | vocab.EXIT_STACK_METHODS
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# The node types `FunctionWalker.facts` looks at (`ast` classes are never subclassed): the
# others, most of a body, are skipped at the cost of one set look-up.
_NOTED = frozenset(
    {ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.AugAssign, ast.With}
    | {ast.AsyncWith, ast.Return, ast.Yield, ast.YieldFrom, ast.Call, ast.Set, ast.List, ast.Tuple, ast.Dict}
)
_AWAITS = (ast.Await, ast.AsyncFor, ast.AsyncWith)
_IMPORT_TYPES = frozenset({ast.Import, ast.ImportFrom})


def _awaits(nodes: list[ast.AST]) -> bool:
    """`await`, `async for`, `async with` or an async comprehension among a scope's own nodes,
    including the parts of nested scopes that run in this one."""
    return _awaits_among(by_kind(nodes))


def _awaits_among(kinds: Kinds) -> bool:
    """`_awaits` of the nodes `kinds` groups."""
    if any(kind in kinds for kind in _AWAITS):
        return True
    for kind in _COMPREHENSIONS:
        if any(g.is_async for node in kinds.get(kind, ()) for g in node.generators):  # type: ignore[attr-defined]
            return True
    return any(
        _awaits(own_nodes(_evaluated_outside(node))) for kind in SCOPES for node in kinds.get(kind, ())
    )


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


class FunctionWalker:
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
        self.nodes = own_nodes(node.body)
        self.kinds = by_kind(self.nodes)
        self.declared_globals: set[str] = set()
        self.imports: dict[str, str] = {}
        self.local_names = self._local_names(module, is_package)

    def _local_names(self, module: str, is_package: bool) -> set[str]:
        kinds = self.kinds
        names = {arg.arg for arg in all_args(self.node.args)}
        names.update(node.id for node in kinds.get(ast.Name, ()) if node.ctx.__class__ is ast.Store)  # type: ignore[attr-defined]
        for node in (*kinds.get(ast.Global, ()), *kinds.get(ast.Nonlocal, ())):
            self.declared_globals.update(node.names)  # type: ignore[attr-defined]
        for kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler):
            names.update(node.name for node in kinds.get(kind, ()) if node.name)  # type: ignore[attr-defined]
        if ast.Import in kinds and ast.ImportFrom in kinds:  # both: in source order
            imports = [node for node in self.nodes if node.__class__ in _IMPORT_TYPES]
        else:
            imports = [*kinds.get(ast.Import, ()), *kinds.get(ast.ImportFrom, ())]
        imported: dict[str, set[str]] = {}
        for node in imports:
            for local, target in import_bindings(
                cast("ast.Import | ast.ImportFrom", node), module, is_package
            ):
                imported.setdefault(local, set()).add(target)
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
            for name in bound_names(target):
                local_values.setdefault(name, []).append(value if single else None)

        every_arg = all_args(node.args)
        self_name = every_arg[0].arg if is_method and every_arg else None
        attributes: dict[str, list[Value | None]] = {}

        def note_attribute(target: ast.AST, value: Value | None) -> None:
            base = target.value if isinstance(target, ast.Attribute) else None
            if isinstance(base, ast.Name) and base.id == self_name:
                attributes.setdefault(cast(ast.Attribute, target).attr, []).append(value)

        for inner in self.nodes:
            if inner.__class__ not in _NOTED:
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
                        with_targets.update(bound_names(item.optional_vars))
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
        flows, leaving = dataflow(self.nodes, self.local_names, {arg.arg for arg in all_args(args)})
        is_async = isinstance(node, ast.AsyncFunctionDef)
        handoffs, gather_sites = (
            tasks.session_uses(self.kinds.get(ast.Call, ()), frozenset(p.name for p in params), self.resolve)
            if is_async
            else ((), ())
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
            local_names=frozen(self.local_names),
            calls=frozen(calls),
            declared_globals=frozen(self.declared_globals),
            awaits=_awaits_among(self.kinds),
            with_targets=frozen(with_targets),
            assigned_names=frozen(assigned),
            shared_names=frozen(shared),
            referenced=frozen(set(calls).union(value_refs(mentioned))),
            imports=self.imports,
            returns_annotation=value_of(node.returns, self.enclosing),
            self_attributes={name: tuple(values) for name, values in attributes.items()},
            closed_names=frozen(closed),
            flows=flows,
            leaving=frozen(leaving),
            param_handoffs=handoffs,
            gather_sites=gather_sites,
            param_uses=param_uses(node, self.kinds, lambda expr: value_of(expr, self.resolve)),
            disposed=frozen(disposed_names(self.node.body, self.nodes, self.kinds)),
            **callsites.function_facts(self.nodes, self.kinds, lambda expr: value_of(expr, self.resolve)),
            span=span,
        )
