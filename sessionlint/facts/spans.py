"""Where the fact pass's nodes stand, as `facts.Span`s: 1-based lines, columns in characters.

`ast` counts columns in UTF-8 bytes of the line; findings count characters. An ASCII file
needs no conversion (most files); the lines of another are split once, when a position in
it is first asked for.
"""

from __future__ import annotations

import ast
import re

from sessionlint.facts.facts import NO_SPAN, Span

# The line breaks `ast` counts (not `str.splitlines`' form feeds and other separators).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEYWORDS = {ast.FunctionDef: "def ", ast.AsyncFunctionDef: "async def ", ast.ClassDef: "class "}
_HEADERS = {
    ast.FunctionDef: re.compile(r"def\s+"),
    ast.AsyncFunctionDef: re.compile(r"async\s+def\s+"),
    ast.ClassDef: re.compile(r"class\s+"),
}


class SpanMaker:
    """Spans of one file's nodes (`text`: what `ast` parsed; None: columns as `ast` has them)."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.ascii = text is None or text.isascii()
        self._lines: list[str] | None = None

    def _line(self, row: int) -> str | None:
        if self.text is None:
            return None
        if self._lines is None:
            text = self.text
            self._lines = text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)
        return self._lines[row - 1] if 0 < row <= len(self._lines) else None

    def column(self, row: int, byte_offset: int) -> int:
        """The 1-based character column of a UTF-8 byte offset on line `row`."""
        if self.ascii:
            return byte_offset + 1
        line = self._line(row)
        if line is None:
            return byte_offset + 1
        return len(line.encode("utf-8", "surrogatepass")[:byte_offset].decode("utf-8", "replace")) + 1

    def of(self, node: ast.AST) -> Span:
        """The node's whole extent."""
        row = getattr(node, "lineno", None)
        if row is None:
            return NO_SPAN
        end_row = getattr(node, "end_lineno", None) or row
        end_offset = getattr(node, "end_col_offset", None)
        start = self.column(row, node.col_offset)  # type: ignore[attr-defined]
        end = self.column(end_row, end_offset) if end_offset is not None else start
        return (row, start, end_row, end)

    def of_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        """`def name` / `async def name` / `class Name`: where a reader looks for the definition
        (decorators and body left out)."""
        row = node.lineno
        start = self.column(row, node.col_offset)
        line = self._line(row)
        name = node.name
        if line is not None:
            # The usual spelling first (one space), a pattern only for the others.
            keyword = _KEYWORDS[type(node)]
            if line.startswith(keyword, start - 1) and line.startswith(name, start - 1 + len(keyword)):
                return (row, start, row, start + len(keyword) + len(name))
            found = _HEADERS[type(node)].match(line, start - 1)
            if found is not None and line.startswith(name, found.end()):
                return (row, start, row, found.end() + len(name) + 1)
        # A header split over lines (`def \` newline `name`): the keyword alone.
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        width = len(keyword) + (6 if isinstance(node, ast.AsyncFunctionDef) else 0)
        return (row, start, row, start + width)
