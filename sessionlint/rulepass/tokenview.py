"""Lines as Python's tokenizer sees them: indentation after form feeds.

CPython's tokenizer resets the column to 0 at a form feed (`\\f`) in a line's leading
whitespace: `\\f    return x` is indented by four, `  \\f  x` by two. Two consequences:

- The indentation of a line is the whitespace after the last form feed of its leading
  whitespace (`effective_indent`), never a count of its leading characters. A fix that
  writes a line at "the same indentation" uses that.
- LibCST keeps one indentation string per block, and a form feed in the first line's
  indentation becomes part of that string: the tree then prints other bytes than it read
  (every position after it is off), and a form feed deeper in a block can make it fail
  ("no matching outer block for dedent"). `tokenizer_view` gives LibCST the same program
  with those form feeds (and what precedes them on the line) left out, and says how many
  characters were left out of each line, so positions map back to the original text.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

_LEADING = re.compile(r"[ \t\f]*")
# A line whose leading whitespace holds a form feed before its first non-blank character.
_FORM_FEED_INDENT = re.compile(r"(?:^|(?<=[\r\n]))[ \t\f]*\f[ \t\f]*[^ \t\f\r\n]")
_CR = re.compile(r"\r\n?")
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_SKIPPED = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING})


def split_lines(text: str) -> list[str]:
    """Lines with their line breaks (`\r\n`, `\r` or `\n`): unlike `str.splitlines`, a
    form feed (or any other character code may hold) does not end a line."""
    return _LINES.findall(text)


def leading_whitespace(line: str) -> str:
    """The spaces, tabs and form feeds a line starts with."""
    match = _LEADING.match(line)
    return match.group() if match else ""


def effective_indent(line: str) -> str:
    """The indentation the tokenizer measures for `line` (its start, or the whole line):
    the part of its leading whitespace after the last form feed."""
    lead = leading_whitespace(line)
    return lead[lead.rfind("\f") + 1 :]


@dataclass(frozen=True)
class TokenView:
    """`text` with the form feeds of logical lines' indentation left out (see the module)."""

    text: str
    # 1-based row -> how many characters were left out at the start of that line.
    shifts: dict[int, int] = field(default_factory=dict)

    def column(self, row: int, column: int) -> int:
        """The original text's column for `view.text`'s `(row, column)` (0-based columns)."""
        return column + self.shifts.get(row, 0)


def tokenizer_view(text: str) -> TokenView:
    """The text LibCST should parse for `text`: `text` itself unless a logical line's
    indentation holds a form feed (or the text does not tokenize: then LibCST reads it as
    it is, and a rule pass that finds the tree printing other bytes offers no fix)."""
    if "\f" not in text or not _FORM_FEED_INDENT.search(text):
        return TokenView(text)
    try:
        rows = _logical_line_starts(text)
    except (tokenize.TokenError, SyntaxError):
        return TokenView(text)
    lines = split_lines(text)
    shifts: dict[int, int] = {}
    for row, column in rows:
        prefix = lines[row - 1][:column]
        cut = prefix.rfind("\f") + 1
        if cut:
            shifts[row] = cut
    if not shifts:
        return TokenView(text)
    for row, cut in shifts.items():
        lines[row - 1] = lines[row - 1][cut:]
    return TokenView("".join(lines), shifts)


def _logical_line_starts(text: str) -> list[tuple[int, int]]:
    """(row, column) of the first token of every logical line."""
    # The tokenizer module splits lines at `\n` only; CPython reads `\r\n` and `\r` as `\n`.
    # Rows and columns stay those of `text`.
    readline = io.StringIO(_CR.sub("\n", text), newline="\n").readline
    starts = []
    at_start = True
    for token in tokenize.generate_tokens(readline):
        if token.type in _SKIPPED:
            continue
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            at_start = True
            continue
        if at_start:
            starts.append(token.start)
            at_start = False
    return starts
