"""The "ignore SLxxx on this line" edit: a noqa comment naming the code at the end of the
line the finding is reported on, or the code added to the noqa comment already there.
Every edit is checked against `sessionlint.rulepass.noqa`, the reader of those comments."""

from __future__ import annotations

import io
import re
import tokenize

from sessionlint.entry.server.positions import LineIndex
from sessionlint.rulepass.noqa import suppressions

# A noqa comment, bare or with codes (`noqa: SL001, SL005`), in any case.
_NOQA = re.compile(r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def noqa_edit(index: LineIndex, row: int, code: str) -> tuple[int, int, str] | None:
    """(start offset, end offset, new text) suppressing `code` on 1-based `row`, or None
    when a comment cannot go there: the line ends inside a string or with a backslash
    continuation, or the source does not tokenize (nothing is reported on it then)."""
    edit = _edit(index, row, code)
    if edit is None:
        return None
    start, end, content = edit
    after = index.text[:start] + content + index.text[end:]
    codes = suppressions(after).get(row, frozenset())
    return edit if codes is None or code in codes else None


def _edit(index: LineIndex, row: int, code: str) -> tuple[int, int, str] | None:
    comment = _comment_on(index.text, row)
    if comment is False:
        return None
    line_start = index.starts[row - 1]
    line = index.line(row - 1)
    if comment is None:
        end = line_start + len(line.rstrip())
        return end, line_start + len(line), f"  # noqa: {code}"
    column, text = comment
    match = _NOQA.search(text)
    if match is None:  # another comment: the noqa goes after it (read anywhere in the comment)
        end = line_start + len(line.rstrip())
        return end, line_start + len(line), f"  # noqa: {code}"
    codes = _CODE.findall(match.group("codes") or "")
    if not match.group("codes"):
        return None  # a bare noqa already silences the whole line
    if code.upper() in (c.upper() for c in codes):
        return None
    start = line_start + column + match.start()
    return start, start + len(match.group()), f"# noqa: {', '.join([*codes, code])}"


def _comment_on(text: str, row: int) -> tuple[int, str] | bool | None:
    """The comment on `row` (column, text), None when it has none, False when a comment
    added at its end would not be a comment of that line."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text, newline=None).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    found: tuple[int, str] | None = None
    ends_line = False
    for token in tokens:
        (start_row, start_col), (end_row, _) = token.start, token.end
        if start_row <= row < end_row:
            return False  # the line ends inside a token: a multi-line string or f-string
        if start_row == row and token.type == tokenize.COMMENT:
            found = (start_col, token.string)
        if start_row == row and token.type in (tokenize.NEWLINE, tokenize.NL):
            ends_line = True
    if not ends_line:
        return False  # a backslash continuation: the line goes on without a NEWLINE/NL token
    return found
