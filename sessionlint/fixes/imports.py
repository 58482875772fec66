"""Module-level names a fix writes: reusing an import that is there, or adding one, once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.diagnostics import Edit
from sessionlint.semantics.project import External

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext


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
    """The edit that imports `name` from `module` at module level.

    Joined to an existing top-level `from module import ...` when there is one; otherwise a
    line of its own after the module docstring and any `from __future__` imports, before
    the first other statement (after the comments and blank lines that lead into it), in
    the file's own line break style.
    """
    existing = _from_import(context.module, module)
    if existing is not None:
        last = existing.names[-1]
        _, end = context.span(last.name if last.asname is None else last.asname.name)
        return context.edit(end, end, f", {name}")
    body = context.module.body
    newline = context.module.default_newline
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_future_import(body[index]):
        index += 1
    line = f"from {module} import {name}{newline}"
    if index < len(body):
        statement = body[index]
        offset = context.span(statement)[0]
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
            offset = min(offset, context.span(statement.decorators[0])[0])
        return context.edit(offset, offset, line)
    end = len(context.source)
    prefix = "" if not context.source or context.source.endswith(("\n", "\r")) else newline
    return context.edit(end, end, prefix + line)


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
