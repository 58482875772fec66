"""`--add-noqa`: suppress every current finding with a `# noqa: SLxxx` on its line.

The comment goes on the line a finding is reported on (the line `noqa` reads), merged into
a `# noqa:` already there (other tools' codes kept), else appended to the line's comment or
code. A line that cannot end with a comment, one that ends inside a multi-line string or
with a `\\` continuation, is reported and left alone. A file is written only when the
result passes the fixes' soundness check (`fixer.Soundness`), atomically, keeping its
mode, encoding and line endings.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sessionlint.read.sources import SourceFile, UnreadableSource, decode, encode
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.rulepass.noqa import directives
from sessionlint.settings.codes import PARSE_ERROR, UNUSED_NOQA

# A line with its line break: only `\r\n`, `\r` and `\n` end one, as for the diagnostics'
# rows (`str.splitlines` also splits at form feeds and other separators).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass
class NoqaOutcome:
    added: int = 0  # findings newly suppressed
    files: int = 0  # files written
    # Lines left alone, and files that could not be read or written (`path:row: why`).
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def add_noqa(diagnostics: Sequence[Diagnostic]) -> NoqaOutcome:
    """Add the comments for `diagnostics` (what a check reported, so none is suppressed yet)."""
    from sessionlint.fixes.fixer import ConcurrentModification, Soundness, write_atomically

    outcome = NoqaOutcome()
    by_file: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for diagnostic in diagnostics:
        # An SL000 has no line to suppress; an SL100 is fixed by removing the comment.
        if diagnostic.code not in (PARSE_ERROR, UNUSED_NOQA):
            by_file[diagnostic.path][diagnostic.location.row].add(diagnostic.code)
    for display, rows in sorted(by_file.items()):
        path = Path(display)
        try:
            data = path.read_bytes()
            source = SourceFile(path, display, data)
            text = decode(source)
        except (OSError, UnreadableSource) as error:
            outcome.errors.append(f"{display}: cannot read: {error}")
            continue
        new_text, added, skipped = with_comments(text, rows)
        outcome.skipped += [f"{display}:{row}: {why}" for row, why in skipped]
        if not added:
            continue
        if not Soundness(text, display, source.encoding)(new_text):
            outcome.errors.append(f"{display}: the comments would break the file: not written")
            continue
        try:
            write_atomically(path, data, encode(new_text, source.encoding))
        except (ConcurrentModification, OSError) as error:
            outcome.errors.append(f"{display}: {error}")
            continue
        outcome.added += added
        outcome.files += 1
    return outcome


def with_comments(text: str, rows: dict[int, set[str]]) -> tuple[str, int, list[tuple[int, str]]]:
    """The text with the codes of each row suppressed; how many findings that suppresses;
    the rows left alone, with why."""
    ends = _comment_places(text)
    existing = {directive.row: directive for directive in directives(text)}
    lines = _LINE.findall(text)
    added = 0
    skipped = []
    for row, codes in sorted(rows.items()):
        if row > len(lines):
            skipped.append((row, "no such line"))
            continue
        place = ends.get(row)
        if isinstance(place, str):
            skipped.append((row, f"cannot take a comment: {place}"))
            continue
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        directive = existing.get(row)
        if directive is not None and not directive.codes:
            continue  # a blanket noqa comment suppresses them already
        if directive is not None:
            named = {code for code, _, _ in directive.codes}
            new = sorted(codes - named)
            if not new:
                continue
            at = directive.column + directive.codes[-1][2]
            body = body[:at] + "".join(f", {code}" for code in new) + body[at:]
        else:
            new = sorted(codes)
            body = body.rstrip() + "  # noqa: " + ", ".join(new)
        lines[row - 1] = body + line[len(line.rstrip("\r\n")) :]
        added += len(new)
    return "".join(lines), added, skipped


def _comment_places(text: str) -> dict[int, str]:
    """Rows that cannot end with a comment, with why (every other row can)."""
    places: dict[int, str] = {}
    ends: set[int] = set()
    strings: list[tuple[int, int]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
                ends.add(token.start[0])
            elif token.start[0] < token.end[0]:
                strings.append((token.start[0], token.end[0]))  # a string over several lines
    except (tokenize.TokenError, SyntaxError):
        return {}  # it was parsed to be checked: tokenize reads what the parser read
    for first, last in strings:
        for row in range(first, last):
            places[row] = "the line ends inside a multi-line string"
    total = len(_LINE.findall(text))
    for row in range(1, total + 1):
        if row not in ends and row not in places:
            places[row] = "the line ends with a `\\` continuation"
    return places
