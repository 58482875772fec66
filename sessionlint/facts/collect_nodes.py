"""The fact pass's walk of one scope: its own nodes in source order (nested scopes left
out), the names a target binds, a function's parameters, and shared empty sets.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_SCOPE_TYPES = frozenset(SCOPES)
# The most common nodes that hold no node worth a look (names, constants): not asked.
_LEAVES = frozenset({ast.Name, ast.Constant, ast.alias, ast.Pass, ast.Break, ast.Continue})

# Fields that never hold a node the fact pass looks at: names and flags (plain values), and
# the `Load` / `Store` / operator singletons (their parents are what is checked).
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "asname", "module", "level"}
    | {"kind", "conversion", "is_async", "type_comment"}
)


@functools.cache
def _child_fields(node_class: type[ast.AST]) -> tuple[str, ...]:
    return tuple(name for name in node_class._fields if name not in _LEAF_FIELDS)


# Fields whose lists may hold something else than nodes (`None`, names), and fields that
# hold a plain value (not worth a look in `walk`).
_MIXED_LISTS = frozenset({("Dict", "keys"), ("arguments", "kw_defaults"), ("MatchClass", "kwd_attrs")})
_PLAIN_VALUES = frozenset({("Constant", "value"), ("MatchSingleton", "value"), ("AnnAssign", "simple")})


@functools.cache
def _walked_fields(node_class: type[ast.AST]) -> tuple[tuple[str, bool], ...]:
    name = node_class.__name__
    return tuple(
        (field, (name, field) in _MIXED_LISTS)
        for field in _child_fields(node_class)
        if (name, field) not in _PLAIN_VALUES
    )


def own_nodes(body: Iterable[ast.AST]) -> list[ast.AST]:
    """Every node of a scope's body in source order, not descending into nested scopes.

    Computed once per scope and reused by every question asked of it: walking the tree is
    most of the fact pass's cost (`ast.iter_child_nodes` also yields every `Load` context).
    """
    nodes: list[ast.AST] = []
    append = nodes.append
    stack = list(body)[::-1]
    pop = stack.pop
    while stack:
        node = pop()
        append(node)
        kind = node.__class__
        if kind in _LEAVES or kind in _SCOPE_TYPES:
            continue
        children = _children(node)
        if children:
            children.reverse()
            stack += children
    return nodes


Kinds = dict[type, list[ast.AST]]


def by_kind(nodes: list[ast.AST]) -> Kinds:
    """A scope's own nodes grouped by class, each group in source order: most questions
    asked of a function concern one or two kinds of node (its calls, its awaits), and a
    look-up of those beats a test of every node in each of them."""
    kinds: Kinds = {}
    for node in nodes:
        group = kinds.get(node.__class__)
        if group is None:
            kinds[node.__class__] = [node]
        else:
            group.append(node)
    return kinds


def walk(node: ast.AST) -> list[ast.AST]:
    """`ast.walk(node)` as a list, in the same order, without the `Load` / `Store` /
    operator singletons and names (`_LEAF_FIELDS`): faster than `ast.walk`, whose
    generators over every field of every node were much of the fact pass's time."""
    nodes = [node]
    index = 0
    while index < len(nodes):
        current = nodes[index]
        if current.__class__ not in _LEAVES:
            nodes += _children(current)
        index += 1
    return nodes


def _children(node: ast.AST) -> list[ast.AST]:
    """The node's child nodes worth a look, in field order."""
    children: list[ast.AST] = []
    for field, mixed in _walked_fields(node.__class__):
        value = getattr(node, field, None)
        if value is None:
            continue
        if value.__class__ is list:
            children += [item for item in value if isinstance(item, ast.AST)] if mixed else value
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def bound_names(target: ast.AST) -> Iterator[str]:
    # Only names the target binds: `db.info["x"] = 1` and `app.state.engine = e` bind nothing.
    for node in walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def all_args(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return args.posonlyargs + args.args + args.kwonlyargs + extra


NOTHING: frozenset[str] = frozenset()


def frozen(names: Iterable[str]) -> frozenset[str]:
    """One shared empty set: most functions call, share or declare nothing, and an empty
    frozenset costs as much memory as a small full one."""
    return frozenset(names) or NOTHING
