"""A fast, read-only, batched traversal of a LibCST tree.

LibCST's `CSTNode.visit` rebuilds (and re-validates) every node it passes, even for a
read-only `CSTVisitor`, and its `visit_batched` rebuilds its hook table with
`inspect.getmembers` for every file; together they cost several times the parse. Rules and
the helpers they use should walk trees with `walk` (several visitors, every node), `visit`
(one visitor whose hooks may skip subtrees) or `iter_nodes` instead.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Sequence

import libcst as cst


@functools.cache
def _hook_names(visitor_class: type) -> tuple[str, ...]:
    """`visit_<Node>` / `leave_<Node>` methods a visitor class defines (computed once per class)."""
    return tuple(
        name
        for name in dir(visitor_class)
        if name.startswith(("visit_", "leave_"))
        and "_" not in name.split("_", 1)[1]
        # LibCST's base classes define a no-op hook for every node type: skip those.
        and getattr(visitor_class, name) is not getattr(cst.CSTVisitor, name, None)
        and getattr(visitor_class, name) is not getattr(cst.BatchableCSTVisitor, name, None)
    )


# Fields that only hold whitespace and punctuation: no rule hooks on them.
_SKIPPED_FIELDS = (
    "whitespace",
    "lpar",
    "rpar",
    "lbracket",
    "rbracket",
    "lbrace",
    "rbrace",
    "leading_lines",
    "lines_after_decorators",
    "header",
    "footer",
    "comma",
    "semicolon",
    "equal",
    "colon",
    "trailing_whitespace",
    "newline",
    "dot",
)
# Where the dataclass field order differs from the source order LibCST visits in (or a
# whitespace / punctuation field is not named like those above).
_SOURCE_ORDER = {
    "FunctionDef": ("decorators", "asynchronous", "name", "type_parameters", "params", "returns", "body"),
    "ClassDef": ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    "Parameters": ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
    "IfExp": ("body", "test", "orelse"),
    "Arg": ("keyword", "value"),
    "For": ("asynchronous", "target", "iter", "body", "orelse"),
    "With": ("asynchronous", "items", "body"),
    "CompFor": ("asynchronous", "target", "iter", "ifs", "inner_for_in"),
    "ExceptHandler": ("type", "name", "body"),
    "ExceptStarHandler": ("type", "name", "body"),
    "ImportFrom": ("relative", "module", "names"),
    "MatchCase": ("pattern", "guard", "body"),
    "TypeAlias": ("name", "type_parameters", "value"),
    "SimpleStatementSuite": ("body",),
    "Slice": ("lower", "upper", "step"),
}


@functools.cache
def _child_fields(node_class: type) -> tuple[str, ...]:
    order = _SOURCE_ORDER.get(node_class.__name__)
    if order is not None:
        return order
    return tuple(f.name for f in dataclasses.fields(node_class) if not f.name.startswith(_SKIPPED_FIELDS))


class _Batch:
    """Walks a tree once, calling every visitor's hooks for each node, in visitor order.

    A read-only walk over the nodes' fields: LibCST's own `visit` rebuilds (and re-validates)
    every node it passes, and its `visit_batched` rebuilds its hook table with
    `inspect.getmembers` for every file; both cost more than parsing the file.
    """

    def __init__(self, visitors: Sequence[cst.CSTVisitor | cst.BatchableCSTVisitor]) -> None:
        self.visit_hooks: dict[str, list[Callable[[cst.CSTNode], None]]] = defaultdict(list)
        self.leave_hooks: dict[str, list[Callable[[cst.CSTNode], None]]] = defaultdict(list)
        for visitor in visitors:
            for name in _hook_names(type(visitor)):
                kind, node_type = name.split("_", 1)
                hooks = self.visit_hooks if kind == "visit" else self.leave_hooks
                hooks[node_type].append(getattr(visitor, name))

    def walk(self, node: cst.CSTNode) -> None:
        node_type = type(node).__name__
        for hook in self.visit_hooks.get(node_type, ()):
            hook(node)
        for field in _child_fields(type(node)):
            child = getattr(node, field)
            if isinstance(child, cst.CSTNode):
                self.walk(child)
            elif isinstance(child, (tuple, list)):
                for item in child:
                    if isinstance(item, cst.CSTNode):
                        self.walk(item)
        for hook in self.leave_hooks.get(node_type, ()):
            hook(node)


def walk(node: cst.CSTNode, visitors: Sequence[cst.CSTVisitor | cst.BatchableCSTVisitor]) -> None:
    """Call each visitor's `visit_<Node>` / `leave_<Node>` hooks over the tree, in one pass.

    Hook return values are ignored: every subtree is visited. Children come in source order.
    """
    _Batch(visitors).walk(node)


def visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """`node.visit(visitor)` for a read-only `CSTVisitor`, without rebuilding the tree.

    The same contract as LibCST's: a `visit_<Node>` hook returning False skips that node's
    children (its `leave_<Node>` still runs); a visitor that overrides `on_visit` /
    `on_leave` gets those for every node instead. Children come in source order. Unlike
    LibCST, nodes in whitespace and punctuation fields (`_SKIPPED_FIELDS`: commas, dots of
    attributes, parentheses, ...) are not visited, and `visit_<Node>_<field>` hooks are not
    called: a visitor must not depend on either. Hooks get the tree's own nodes.
    """
    kind = type(visitor)
    if kind.on_visit is not cst.CSTVisitor.on_visit or kind.on_leave is not cst.CSTVisitor.on_leave:
        _visit(node, visitor.on_visit, visitor.on_leave)
        return
    visit_hooks: dict[str, Callable[[cst.CSTNode], bool | None]] = {}
    leave_hooks: dict[str, Callable[[cst.CSTNode], None]] = {}
    for name in _hook_names(kind):
        prefix, node_type = name.split("_", 1)
        (visit_hooks if prefix == "visit" else leave_hooks)[node_type] = getattr(visitor, name)

    def on_visit(current: cst.CSTNode) -> bool:
        hook = visit_hooks.get(type(current).__name__)
        return hook is None or hook(current) is not False

    def on_leave(current: cst.CSTNode) -> None:
        hook = leave_hooks.get(type(current).__name__)
        if hook is not None:
            hook(current)

    _visit(node, on_visit, on_leave)


def _visit(
    node: cst.CSTNode,
    on_visit: Callable[[cst.CSTNode], bool],
    on_leave: Callable[[cst.CSTNode], None],
) -> None:
    if on_visit(node):
        for field in _child_fields(type(node)):
            child = getattr(node, field)
            if isinstance(child, cst.CSTNode):
                _visit(child, on_visit, on_leave)
            elif isinstance(child, (tuple, list)):
                for item in child:
                    if isinstance(item, cst.CSTNode):
                        _visit(item, on_visit, on_leave)
    on_leave(node)


class OwnScopeVisitor(cst.CSTVisitor):
    """A visitor of one scope's own nodes (with `visit`): nested functions, classes and
    lambdas are their own scopes and are skipped."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def iter_nodes(node: cst.CSTNode):  # type: ignore[no-untyped-def]
    """Every node under `node` (itself included), in source order (skipping whitespace)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = []
        for field in _child_fields(type(current)):
            child = getattr(current, field)
            if isinstance(child, cst.CSTNode):
                children.append(child)
            elif isinstance(child, (tuple, list)):
                children.extend(item for item in child if isinstance(item, cst.CSTNode))
        stack.extend(reversed(children))
