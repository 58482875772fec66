"""reviewdog's diagnostic format, rdjson (`reviewdog -f=rdjson`).

One `DiagnosticResult` object: the source, and per finding its message, location (a
range whose end is exclusive), severity, code with its page, and the fix as suggestions.
rdjson counts columns in UTF-8 bytes, sessionlint in characters: columns are converted
with the reported line's text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sessionlint.report.diagnostics import Diagnostic, Fix, Location
from sessionlint.report.formats.lines import SourceLines

SOURCE = {"name": "sessionlint", "url": "https://github.com/sessionlint/sessionlint"}


def _position(lines: SourceLines, path: str, location: Location) -> dict[str, int]:
    text = lines.text(path, location.row)
    column = location.column
    if text is not None:
        column = len(text[: column - 1].encode("utf-8", "surrogatepass")) + 1
    return {"line": location.row, "column": column}


def _range(lines: SourceLines, path: str, start: Location, end: Location) -> dict[str, Any]:
    return {"start": _position(lines, path, start), "end": _position(lines, path, end)}


def _suggestions(lines: SourceLines, path: str, fix: Fix | None) -> list[dict[str, Any]]:
    if fix is None:
        return []
    return [
        {"range": _range(lines, path, edit.location, edit.end_location), "text": edit.content}
        for edit in fix.edits
    ]


def as_diagnostic(diagnostic: Diagnostic, lines: SourceLines) -> dict[str, Any]:
    result: dict[str, Any] = {
        "message": diagnostic.message,
        "location": {
            "path": diagnostic.path,
            "range": _range(lines, diagnostic.path, diagnostic.location, diagnostic.end_location),
        },
        "severity": "ERROR",
        "source": SOURCE,
        "code": {"value": diagnostic.code, "url": diagnostic.url},
    }
    suggestions = _suggestions(lines, diagnostic.path, diagnostic.fix)
    if suggestions:
        result["suggestions"] = suggestions
    return result


def render(diagnostics: Sequence[Diagnostic]) -> str:
    lines = SourceLines()
    document = {
        "source": SOURCE,
        "severity": "ERROR",
        "diagnostics": [as_diagnostic(d, lines) for d in diagnostics],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
