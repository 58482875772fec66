"""The fact pass's reading of expressions: the symbolic value an `ast` expression stands for
(`facts/values.py`), and the qualified names an import statement binds.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Callable, Optional

from sessionlint.facts.values import (
    TEXT_PREFIX_LENGTH,
    Awaited,
    CallOf,
    NoneValue,
    SubscriptOf,
    Text,
    UnionOf,
    Value,
    with_attribute,
)

NameResolver = Callable[[str], Optional[Value]]


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
