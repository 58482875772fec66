"""SL002's fix: the statements after a session's creation wrapped in `try:` / `finally: close()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.fixes.blocks import body_indent, indent_text, line_end, line_start, newline_at
from sessionlint.report.diagnostics import Edit
from sessionlint.rulepass.lifetime import References, names_in
from sessionlint.rulepass.tokenview import split_lines
from sessionlint.rulepass.walk import OwnScopeVisitor, visit

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext


def close_in_finally(
    context: FileContext,
    definition: cst.FunctionDef,
    statement: cst.SimpleStatementLine,
    name: str,
    *,
    is_async: bool,
    references: References,
) -> tuple[Edit, bool] | None:
    """The edit (and whether it is safe), or None when the shape is not simple enough.

    The creation must be a statement of its own at the top level of the function body.
    The statements after it, up to the end of the body or up to a trailing `name.close()`,
    go into `try:`; the close moves to (or is added in) `finally:`.
    """
    return _Wrap(context, definition, statement, name, is_async, references).fix()


@dataclass
class _Wrap:
    """The fix: the statements after the creation wrapped in `try:` / `finally: db.close()`."""

    context: FileContext
    definition: cst.FunctionDef
    statement: cst.SimpleStatementLine
    name: str
    is_async: bool
    references: References

    def fix(self) -> tuple[Edit, bool] | None:
        body = cst.ensure_type(self.definition.body, cst.IndentedBlock)
        statements = list(body.body)
        if self.is_async and self.definition.asynchronous is None:
            return None  # `await db.close()` needs an `async def`
        index = next((i for i, s in enumerate(statements) if s is self.statement), None)
        if index is None or len(self.statement.body) != 1:
            return None
        following = statements[index + 1 :]
        using = [s for s in following if self._mentions(s)]
        if not using:
            return None
        closing = using[-1] if self._is_close(using[-1]) else None
        wrapped = following[: following.index(closing)] if closing is not None else following
        if not wrapped:
            return None
        edit = self._edit(body, wrapped, closing)
        if edit is None:
            return None
        return edit, not _hands_out_results(wrapped, self.name)

    def _mentions(self, statement: cst.BaseStatement) -> bool:
        first, last = self.references.spans[statement]
        return any(first <= ref.order <= last for ref in self.references.of(self.name))

    def _is_close(self, statement: cst.BaseStatement) -> bool:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return False
        small = statement.body[0]
        if not isinstance(small, cst.Expr):
            return False
        value = small.value.expression if isinstance(small.value, cst.Await) else small.value
        return (
            isinstance(value, cst.Call)
            and not value.args
            and isinstance(value.func, cst.Attribute)
            and isinstance(value.func.value, cst.Name)
            and value.func.value.value == self.name
            and value.func.attr.value == "close"
        )

    def _edit(
        self,
        body: cst.IndentedBlock,
        wrapped: list[cst.BaseStatement],
        closing: cst.BaseStatement | None,
    ) -> Edit | None:
        context = self.context
        source = context.source
        indent = context.line_indent(self.statement)
        unit = body_indent(context.module, body)
        newline = newline_at(source, context.span(self.statement)[1], context.module.default_newline)
        start = line_start(source, _start(context, wrapped[0]))
        region_end = line_end(source, context.span(wrapped[-1])[1])
        inner = indent_text(context, start, region_end, base=indent, extra=unit, nodes=wrapped)
        if not inner.endswith(("\n", "\r")):
            inner += newline
        if closing is not None:
            closing_start = line_start(source, _start(context, closing))
            end = line_end(source, context.span(closing)[1])
            final = indent_text(context, closing_start, end, base=indent, extra=unit, nodes=[closing])
            # Comments that lead into the close move with it (blank lines around them do not).
            between = indent_text(context, region_end, closing_start, base=indent, extra=unit, nodes=[])
            final = "".join(line for line in split_lines(between) if line.strip()) + final
        else:
            end = region_end
            awaited = "await " if self.is_async else ""
            final = f"{indent}{unit}{awaited}{self.name}.close(){newline}"
        if not final.endswith(("\n", "\r")):
            final += newline
        text = f"{indent}try:{newline}{inner}{indent}finally:{newline}{final}"
        if not source[:end].endswith(("\n", "\r")):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        return context.edit(start, end, text)


def _hands_out_results(statements: list[cst.BaseStatement], name: str) -> bool:
    """A `return` / `yield` whose value is computed from the session (other than `yield db`).

    Closing the session in `finally` then closes it before the caller uses that value: a
    lazy `Result` can no longer be read, loaded objects are detached. That changes what
    works, so the fix is unsafe there.
    """
    finder = _HandedOut(name)
    for statement in statements:
        visit(statement, finder)
    return finder.found


class _HandedOut(OwnScopeVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False

    def visit_Return(self, node: cst.Return) -> None:
        self._check(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        value = node.value
        if isinstance(value, cst.Name) and value.value == self.name:
            return  # the session itself: its user is done with it when the generator resumes
        if isinstance(value, cst.BaseExpression):
            self._check(value)

    def _check(self, value: cst.BaseExpression | None) -> None:
        if value is not None and self.name in names_in(value):
            self.found = True


def _start(context, statement: cst.BaseStatement) -> int:  # type: ignore[no-untyped-def]
    start = context.span(statement)[0]
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
        start = min(start, context.span(statement.decorators[0])[0])
    return start
