"""`# noqa` and `# noqa: SL001, SL005` comments, as flake8 and ruff read them."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

from sessionlint.report.diagnostics import Diagnostic

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)
_LINES = re.compile(r"\r\n|\r|\n")


def suppressions(source: str) -> dict[int, frozenset[str] | None]:
    """Per 1-based line: None for a bare `# noqa` (everything), else the codes named."""
    result: dict[int, frozenset[str] | None] = {}
    if "noqa" not in source.lower():
        return result
    for number, line in _comments(source):
        match = _NOQA.search(line)
        if match is None:
            continue
        codes = match.group("codes")
        result[number] = frozenset(code.upper() for code in _CODE.findall(codes)) if codes else None
    return result


@dataclass(frozen=True)
class Directive:
    """One `# noqa` in a comment: its line, where the comment starts in it (0-based column),
    the comment's text, the span of the directive in that text (`# noqa: A1, B2`), and each
    code named with its span (none: a blanket `# noqa`)."""

    row: int
    column: int
    comment: str
    start: int
    end: int
    codes: tuple[tuple[str, int, int], ...]

    @property
    def codes_start(self) -> int:
        return self.codes[0][1] if self.codes else self.end


def directives(source: str) -> list[Directive]:
    """Every `# noqa` directive of the source, in order (comments only, never strings)."""
    if "noqa" not in source.lower():
        return []
    found = []
    for number, column, comment in _positioned_comments(source):
        match = _NOQA.search(comment)
        if match is None:
            continue
        codes: tuple[tuple[str, int, int], ...] = ()
        if match.group("codes"):
            base = match.start("codes")
            codes = tuple(
                (code.group().upper(), base + code.start(), base + code.end())
                for code in _CODE.finditer(match.group("codes"))
            )
        found.append(Directive(number, column, comment, match.start(), match.end(), codes))
    return found


def without_suppressed(diagnostics: Iterable[Diagnostic], source: str) -> list[Diagnostic]:
    diagnostics = list(diagnostics)
    if not _may_suppress(diagnostics, source):
        return diagnostics
    table = suppressions(source)
    kept = []
    for diagnostic in diagnostics:
        codes = table.get(diagnostic.location.row, frozenset())
        if codes is None or diagnostic.code in codes:
            continue
        kept.append(diagnostic)
    return kept


def _may_suppress(diagnostics: list[Diagnostic], source: str) -> bool:
    """Whether a line of a finding spells `noqa`: a comment lies within its line, so the
    others need no tokenizing (Python's tokenizer costs more than LibCST's parse of a
    large file whose findings are few)."""
    if not diagnostics or "noqa" not in source.lower():
        return False
    lines = _LINES.split(source)
    rows = {diagnostic.location.row for diagnostic in diagnostics}
    return any(0 < row <= len(lines) and "noqa" in lines[row - 1].lower() for row in rows)


def _comments(source: str) -> Iterable[tuple[int, str]]:
    """Each comment with its line: a `# noqa` inside a string literal is no comment. Lines
    as a whole when the source does not tokenize (then nothing was parsed to report on)."""
    return [(row, comment) for row, _, comment in _positioned_comments(source)]


def _positioned_comments(source: str) -> list[tuple[int, int, str]]:
    """Each comment with its line and column (lines as a whole, at column 0, when the
    source does not tokenize)."""
    comments = []
    try:
        # Universal newlines: a lone `\r` ends a line here as it does for the diagnostics.
        for token in tokenize.generate_tokens(io.StringIO(source, newline=None).readline):
            if token.type == tokenize.COMMENT:
                comments.append((token.start[0], token.start[1], token.string))
    except (tokenize.TokenError, SyntaxError):
        return [(row, 0, line) for row, line in enumerate(_LINES.split(source), start=1)]
    return comments
