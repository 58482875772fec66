"""Moving statements into a new block: re-indenting source text without touching its content.

A fix that wraps statements in `try:` or `async with` moves them one level deeper. The
text is taken from the original source and only indentation is inserted: comments, blank
lines, line continuations and the inside of multi-line string literals stay exactly as
they were (indenting a line inside a triple-quoted string would change the string).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.rulepass.tokenview import leading_whitespace
from sessionlint.rulepass.walk import visit

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext

_NEWLINE = re.compile(r"\r\n|\r|\n")


def line_start(source: str, offset: int) -> int:
    """Offset of the first character of the line holding `offset`."""
    return max(source.rfind("\n", 0, offset), source.rfind("\r", 0, offset)) + 1


def line_end(source: str, offset: int) -> int:
    """Offset just past the line break ending the line that holds `offset` (or the text's end)."""
    match = _NEWLINE.search(source, offset)
    return match.end() if match else len(source)


def newline_at(source: str, offset: int, default: str) -> str:
    """The line break ending the line that holds `offset`, or `default` on the last line."""
    match = _NEWLINE.search(source, offset)
    return match.group() if match else default


def body_indent(module: cst.Module, block: cst.BaseSuite) -> str:
    """The indentation a block adds to its header's (its own, or the module's default)."""
    if isinstance(block, cst.IndentedBlock) and block.indent is not None:
        return block.indent
    return module.default_indent


def indent_text(
    context: FileContext,
    start: int,
    end: int,
    *,
    base: str,
    extra: str,
    nodes: Iterable[cst.CSTNode],
) -> str:
    """`source[start:end]` (whole lines) moved one level deeper.

    `extra` is inserted after `base` on every line whose indentation starts with `base`
    (and before anything else on the others, which can only be continuation or comment
    lines), except on blank lines and on lines that begin inside a multi-line string literal
    of `nodes`. Indentation is the tokenizer's (`effective_indent`): a form feed and what
    precedes it on the line stay in front, where they count for nothing.
    """
    source = context.source
    protected = [span for node in nodes for span in _multiline_strings(context, node)]
    pieces = []
    cursor = start
    for begin in _line_starts(source, start, end):
        if any(first < begin < last for first, last in protected):
            continue
        stop = line_end(source, begin)
        if not source[begin:stop].strip():
            continue
        lead = leading_whitespace(source[begin:stop])
        at = begin + lead.rfind("\f") + 1  # where the measured indentation starts
        if source.startswith(base, at):
            at += len(base)
        pieces.append(source[cursor:at])
        pieces.append(extra)
        cursor = at
    pieces.append(source[cursor:end])
    return "".join(pieces)


def _line_starts(source: str, start: int, end: int) -> Iterator[int]:
    offset = start
    while offset < end:
        yield offset
        offset = line_end(source, offset)


def _multiline_strings(context: FileContext, node: cst.CSTNode) -> Iterator[tuple[int, int]]:
    collector = _StringCollector()
    visit(node, collector)
    for string in collector.strings:
        first, last = context.span(string)
        if _NEWLINE.search(context.source, first, last):
            yield first, last


class _StringCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.strings: list[cst.CSTNode] = []

    def visit_SimpleString(self, node: cst.SimpleString) -> bool:
        self.strings.append(node)
        return False

    def visit_FormattedString(self, node: cst.FormattedString) -> bool:
        self.strings.append(node)
        return False
