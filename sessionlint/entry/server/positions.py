"""Positions between sessionlint (1-based rows, 1-based columns in characters) and LSP
(0-based lines, 0-based columns in the negotiated encoding's code units).

Lines are split as Python splits a source (`\\r\\n`, `\\r`, `\\n`), not as `str.splitlines`
does (which also breaks at form feeds and other separators a source line may hold), so a
row here is the row the rules counted.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from lsprotocol import types

from sessionlint.report.diagnostics import Location

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

UTF8 = types.PositionEncodingKind.Utf8
UTF16 = types.PositionEncodingKind.Utf16
UTF32 = types.PositionEncodingKind.Utf32


class LineIndex:
    """One text's lines, for converting positions both ways."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]

    def line(self, number: int) -> str:
        """The 0-based line `number`, without its line break ("" past the end)."""
        if not 0 <= number < len(self.starts):
            return ""
        start = self.starts[number]
        end = self.starts[number + 1] if number + 1 < len(self.starts) else len(self.text)
        return _LINE_BREAK.sub("", self.text[start:end])

    def line_break(self, number: int) -> str:
        """The break ending the 0-based line `number` ("" for the last line)."""
        if number + 1 >= len(self.starts):
            return ""
        return self.text[self.starts[number] : self.starts[number + 1]][len(self.line(number)) :]

    def _units(self, chars: str) -> int:
        if self.encoding == UTF32:
            return len(chars)
        if self.encoding == UTF8:
            return len(chars.encode("utf-8", "surrogatepass"))
        return len(chars.encode("utf-16-le", "surrogatepass")) // 2

    def to_lsp(self, location: Location) -> types.Position:
        """A sessionlint location as an LSP position (clamped to the text)."""
        line = min(max(location.row - 1, 0), len(self.starts) - 1)
        text = self.line(line)
        column = min(max(location.column - 1, 0), len(text))
        return types.Position(line=line, character=self._units(text[:column]))

    def range_of(self, start: Location, end: Location) -> types.Range:
        return types.Range(start=self.to_lsp(start), end=self.to_lsp(end))

    def offset(self, position: types.Position) -> int:
        """The character offset of an LSP position (clamped to its line)."""
        if position.line >= len(self.starts):
            return len(self.text)
        text = self.line(position.line)
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return self.starts[position.line] + index
            units += self._units(char)
        return self.starts[position.line] + len(text)

    def line_of_offset(self, offset: int) -> int:
        """The 0-based line holding the character `offset`."""
        return bisect_right(self.starts, offset) - 1

    def at_offset(self, offset: int) -> types.Position:
        """The LSP position of the character `offset`."""
        line = self.line_of_offset(offset)
        return self.to_lsp(Location(line + 1, offset - self.starts[line] + 1))

    def end(self) -> types.Position:
        """The position after the last character."""
        last = len(self.starts) - 1
        return types.Position(line=last, character=self._units(self.line(last)))
