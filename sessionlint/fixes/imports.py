"""Module-level names a fix writes: reusing an import that is there, or adding one, once."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.fixes.blocks import line_end
from sessionlint.project.index import External
from sessionlint.report.diagnostics import Edit

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext

# Top-level modules of the standard library (a fallback list before Python 3.10).
_STDLIB: frozenset[str] = frozenset(
    getattr(sys, "stdlib_module_names", ())
    or {
        *("abc", "asyncio", "collections", "contextlib", "dataclasses", "datetime", "enum", "functools"),
        *("itertools", "json", "logging", "os", "pathlib", "re", "sys", "time", "typing", "uuid"),
    }
)


def imported_name(context: FileContext, qualnames: frozenset[str]) -> str | None:
    """How the module spells one of `qualnames` through its own imports, if it can.

    Only unconditional top-level imports count: a name imported under `if TYPE_CHECKING:`
    does not exist when the module runs. `from typing import Iterator` gives `Iterator`,
    `import typing` gives `typing.Iterator`, `from collections import abc` gives
    `abc.Iterator`; re-exports through the project's own modules are followed.
    """
    semantics = context.semantics
    found = None
    for local in _top_level_imports(context.module):
        qualname = semantics.module.imports.get(local)
        if qualname is None:
            continue
        target = semantics.project.resolve(qualname, semantics.module.root)
        resolved = target.qualname if isinstance(target, External) else qualname
        if resolved in qualnames:
            return local
        for candidate in sorted(qualnames):
            head, _, last = candidate.rpartition(".")
            if head == resolved and found is None:
                found = f"{local}.{last}"
    return found


def is_free(context: FileContext, name: str) -> bool:
    """Nothing at module level is called `name` yet (an import of it would shadow nothing)."""
    module = context.semantics.module
    return name not in module.imports and name not in module.definitions and name not in module.bindings


def add_import(context: FileContext, module: str, name: str) -> Edit:
    """The edit that imports `name` from `module` at module level, where isort (and ruff's
    `I` rules, default settings) would put it.

    Joined to an existing top-level `from module import ...` when there is one, at its
    sorted place among the names. Otherwise a line of its own in the first block of
    top-level imports: among the imports of its section (standard library or not), after
    the plain `import x` lines and sorted by module among the `from` imports; a section of
    its own (a blank line after it) when the block has none of its kind; after the module
    docstring and `from __future__` imports, before the first statement, when there is
    no block. In the file's own line break style.
    """
    existing = _from_import(context.module, module)
    if existing is not None:
        assert not isinstance(existing.names, cst.ImportStar)
        return _join(context, existing.names, name)
    body = context.module.body
    newline = context.module.default_newline
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_future_import(body[index]):
        index += 1
    line = f"from {module} import {name}{newline}"
    block = []
    while index + len(block) < len(body) and _is_import(body[index + len(block)]):
        block.append(body[index + len(block)])
    if block:
        return _into_block(context, block, module, line, newline)
    if index < len(body):
        statement = body[index]
        offset = _start(context, statement)
        # A lone import is followed by blank lines as isort spaces them: two before a
        # definition, one before other code.
        gap = 2 if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else 1
        return context.edit(offset, offset, line + newline * gap)
    end = len(context.source)
    prefix = "" if not context.source or context.source.endswith(("\n", "\r")) else newline
    return context.edit(end, end, prefix + line)


def _join(context: FileContext, names: Sequence[cst.ImportAlias], name: str) -> Edit:
    """`name` among the names of an existing `from ... import`, at its sorted place, with
    the separator the statement already uses (`, ` or one name a line)."""
    key = _member_key(name)
    position = next(
        (i for i, alias in enumerate(names) if _member_key(_dotted(alias.name)) > key), len(names)
    )
    separator = ", "
    if len(names) > 1:
        first = min(max(position - 1, 0), len(names) - 2)
        separator = context.source[_alias_end(context, names[first]) : context.span(names[first + 1])[0]]
    if position == len(names):
        end = _alias_end(context, names[-1])
        return context.edit(end, end, separator + name)
    start, _ = context.span(names[position])
    return context.edit(start, start, name + separator)


def _alias_end(context: FileContext, alias: cst.ImportAlias) -> int:
    """Where an imported name (with its `as` part) ends, before its comma."""
    return context.span(alias.name if alias.asname is None else alias.asname.name)[1]


def _into_block(
    context: FileContext, block: list[cst.BaseStatement], module: str, line: str, newline: str
) -> Edit:
    stdlib = _is_stdlib(module)
    same = [s for s in block if _is_stdlib(_statement_module(s)) == stdlib]
    if not same:
        if stdlib:  # the standard library's section comes first
            offset = _start(context, block[0])
            return context.edit(offset, offset, line + newline)
        offset = line_end(context.source, context.span(block[-1])[1])
        return context.edit(offset, offset, newline + line)
    key = module.lower()
    for statement in same:
        small = cst.ensure_type(statement, cst.SimpleStatementLine).body[0]
        if isinstance(small, cst.ImportFrom) and _statement_module(statement).lower() > key:
            offset = _start(context, statement)
            return context.edit(offset, offset, line)
    offset = line_end(context.source, context.span(same[-1])[1])
    return context.edit(offset, offset, line)


def _is_import(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], (cst.Import, cst.ImportFrom))
        and not (isinstance(statement.body[0], cst.ImportFrom) and statement.body[0].relative)
    )


def _statement_module(statement: cst.BaseStatement) -> str:
    small = cst.ensure_type(statement, cst.SimpleStatementLine).body[0]
    if isinstance(small, cst.Import):
        return _dotted(small.names[0].name)
    small = cst.ensure_type(small, cst.ImportFrom)
    return _dotted(small.module) if small.module is not None else ""


def _is_stdlib(module: str) -> bool:
    return module.partition(".")[0] in _STDLIB


def _member_key(name: str) -> tuple[int, str]:
    """isort's order of imported names: CONSTANTS, then Classes, then other names."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name.lower())


def _start(context: FileContext, statement: cst.BaseStatement) -> int:
    offset = context.span(statement)[0]
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
        offset = min(offset, context.span(statement.decorators[0])[0])
    return offset


def _from_import(module: cst.Module, dotted: str) -> cst.ImportFrom | None:
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (
                isinstance(small, cst.ImportFrom)
                and not small.relative
                and small.module is not None
                and not isinstance(small.names, cst.ImportStar)
                and _dotted(small.module) == dotted
            ):
                return small
    return None


def _top_level_imports(module: cst.Module) -> list[str]:
    names = []
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if alias.asname is not None:
                        names.append(cst.ensure_type(alias.asname.name, cst.Name).value)
                    else:
                        names.append(_dotted(alias.name).partition(".")[0])
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    target = alias.asname.name if alias.asname is not None else alias.name
                    names.append(cst.ensure_type(target, cst.Name).value)
    return names


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return cst.ensure_type(node, cst.Name).value


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.ImportFrom)
        and small.module is not None
        and not small.relative
        and _dotted(small.module) == "__future__"
        for small in statement.body
    )
