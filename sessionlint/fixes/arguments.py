"""Adding a keyword argument to a call, in the call's own layout."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.report.diagnostics import Edit

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext

_NEWLINE = re.compile(r"\r\n|\r|\n")


def add_keyword_argument(context: FileContext, call: cst.Call, keyword: str, value: str) -> Edit:
    """The edit that appends `keyword=value` to `call`'s arguments.

    The edit is an insertion only: every byte of the original call is kept. With no
    arguments it goes right after `(`; with one argument per line and a trailing comma it
    becomes a new line in the same style (indent, newline sequence); otherwise it follows
    the last argument (after any parentheses around it), before any trailing comma or comment.
    """
    argument = f"{keyword}={value}"
    if not call.args:
        # Right after `func(` and any whitespace inside the parentheses.
        func_end = context.span(call.func)[1]
        opening = context.source.index("(", func_end) + 1
        return context.edit(opening, opening, argument)
    last = call.args[-1]
    comma = last.comma
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        # One argument per line with a trailing comma: add a line in the same style.
        _, value_end = context.span(last)
        newline = _NEWLINE.search(context.source, value_end)
        if newline is not None:
            indent = context.line_indent(last)
            content = f"{indent}{argument},{newline.group()}"
            return context.edit(newline.end(), newline.end(), content)
    # The argument's own span ends after any parentheses around its value (`(engine)`);
    # the value's span would end inside them.
    _, value_end = context.span(last)
    return context.edit(value_end, value_end, f", {argument}")
