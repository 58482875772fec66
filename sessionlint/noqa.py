"""`# noqa` and `# noqa: SL001, SL005` comments, as flake8 and ruff read them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sessionlint.diagnostics import Diagnostic

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)
_LINES = re.compile(r"\r\n|\r|\n")


def suppressions(source: str) -> dict[int, frozenset[str] | None]:
    """Per 1-based line: None for a bare `# noqa` (everything), else the codes named."""
    result: dict[int, frozenset[str] | None] = {}
    if "noqa" not in source.lower():
        return result
    for number, line in enumerate(_LINES.split(source), start=1):
        match = _NOQA.search(line)
        if match is None:
            continue
        codes = match.group("codes")
        result[number] = frozenset(code.upper() for code in _CODE.findall(codes)) if codes else None
    return result


def without_suppressed(diagnostics: Iterable[Diagnostic], source: str) -> list[Diagnostic]:
    table = suppressions(source)
    kept = []
    for diagnostic in diagnostics:
        codes = table.get(diagnostic.location.row, frozenset())
        if codes is None or diagnostic.code in codes:
            continue
        kept.append(diagnostic)
    return kept
