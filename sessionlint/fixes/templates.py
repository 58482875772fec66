"""The code the SL001 fix writes, generated from `sessionlint.runtime.dependencies`' own source.

`session_dependency(factory)` and `async_session_dependency(factory)` are the tested
reference dependencies. Their inner `get_session` functions are parsed (never imported,
never re-typed here) and their bodies rendered with two renames: the `factory()` call
becomes the user's own session-creating expression, and `session` the user's variable name.
Statements the user had between creating and returning the session go right before the
`yield`, where they still run before the request's endpoint.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import libcst as cst

RUNTIME_MODULE = "sessionlint.runtime.dependencies"
SYNC_REFERENCE = "session_dependency"
ASYNC_REFERENCE = "async_session_dependency"
INNER_FUNCTION = "get_session"
FACTORY_PARAMETER = "factory"
SESSION_VARIABLE = "session"

# Placeholders no real code spells: the renamed tree is rendered first, then these are
# replaced by the user's text (which may span several lines and keeps its own layout).
_FACTORY_MARK = "__sessionlint_factory__"
_BODY_MARK = "__sessionlint_body__"


def runtime_source() -> str:
    """The text of `sessionlint/runtime/dependencies.py`, located without importing it."""
    spec = importlib.util.find_spec(RUNTIME_MODULE)
    if spec is None or spec.origin is None:
        raise LookupError(f"cannot locate {RUNTIME_MODULE}")
    return Path(spec.origin).read_text(encoding="utf-8")


@functools.cache
def reference_body(*, is_async: bool) -> tuple[cst.BaseStatement, ...]:
    """The statements of the inner `get_session` of the sync or async reference dependency."""
    outer_name = ASYNC_REFERENCE if is_async else SYNC_REFERENCE
    module = cst.parse_module(runtime_source())
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == outer_name:
            for inner in cst.ensure_type(statement.body, cst.IndentedBlock).body:
                if isinstance(inner, cst.FunctionDef) and inner.name.value == INNER_FUNCTION:
                    return tuple(cst.ensure_type(inner.body, cst.IndentedBlock).body)
    raise LookupError(f"{RUNTIME_MODULE}.{outer_name} has no inner {INNER_FUNCTION}()")


def render_dependency_body(
    *,
    is_async: bool,
    factory: str,
    session: str,
    indent: str,
    unit: str,
    newline: str,
    body: str = "",
    keep_creation: bool = True,
    first_line_suffix: str = "",
) -> str:
    """The reference dependency's body as source text.

    Every line starts with `indent`, nested blocks add `unit`, and every line ends with
    `newline`. `factory` replaces the `factory()` call, `session` the session variable.
    `body` (whole lines, already indented one `unit` deeper than `indent`) is placed before
    the `yield`. With `keep_creation=False` a leading `session = factory()` statement is
    left out (the caller keeps the user's own line that creates the session).
    `first_line_suffix` ends the first line (a comment the user had there).
    """
    statements = list(reference_body(is_async=is_async))
    if not keep_creation:
        if not statements or not _binds_session(statements[0]):
            raise ValueError("the reference body does not start with `session = factory()`")
        statements = statements[1:]
    renamed = [
        cst.ensure_type(statement.visit(_Renamer(session)), cst.BaseStatement) for statement in statements
    ]
    renamed = _with_body_mark(renamed)
    code = cst.Module(body=renamed, default_indent=unit, default_newline=newline).code
    lines = code.splitlines(keepends=True)
    if first_line_suffix and lines:
        lines[0] = lines[0].rstrip("\r\n") + first_line_suffix + newline
    rendered = []
    for line in lines:
        if line.strip() == _BODY_MARK:
            rendered.append(body)
        else:
            rendered.append(indent + line if line.strip() else line)
    return "".join(rendered).replace(_FACTORY_MARK, factory)


def _binds_session(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    assign = statement.body[0]
    return (
        isinstance(assign, cst.Assign)
        and len(assign.targets) == 1
        and isinstance(assign.targets[0].target, cst.Name)
        and assign.targets[0].target.value == SESSION_VARIABLE
    )


def _with_body_mark(statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """A marker statement inserted right before the statement holding the `yield`."""
    marked = _BodyMarker()
    result = [cst.ensure_type(statement.visit(marked), cst.BaseStatement) for statement in statements]
    if not marked.done:
        raise LookupError(f"{RUNTIME_MODULE}: no `yield` in the reference body")
    return result


class _Renamer(cst.CSTTransformer):
    """`factory()` -> the factory mark, `session` -> the user's name; blocks use the default indent."""

    def __init__(self, session: str) -> None:
        super().__init__()
        self.session = session

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        if isinstance(func, cst.Name) and func.value == FACTORY_PARAMETER:
            return cst.Name(_FACTORY_MARK)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if original_node.value == SESSION_VARIABLE:
            return updated_node.with_changes(value=self.session)
        return updated_node

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return updated_node.with_changes(indent=None)


class _BodyMarker(cst.CSTTransformer):
    """Puts `__sessionlint_body__` before the first simple statement that yields."""

    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        if self.done:
            return updated_node
        body = list(updated_node.body)
        for index, statement in enumerate(body):
            if isinstance(statement, cst.SimpleStatementLine) and _yields(statement):
                mark = cst.SimpleStatementLine(body=[cst.Expr(cst.Name(_BODY_MARK))])
                body.insert(index, mark)
                self.done = True
                return updated_node.with_changes(body=body)
        return updated_node


def _yields(statement: cst.SimpleStatementLine) -> bool:
    return any(isinstance(small, cst.Expr) and isinstance(small.value, cst.Yield) for small in statement.body)
