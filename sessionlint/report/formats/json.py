"""A JSON list, one object per diagnostic (ruff's shape)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sessionlint.report.diagnostics import Diagnostic, Fix, Location, Related

if TYPE_CHECKING:
    from sessionlint.report.formats.text import RuleCount


def _location(location: Location) -> dict[str, int]:
    return {"row": location.row, "column": location.column}


def _fix(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "message": fix.title,
        "edits": [
            {
                "content": edit.content,
                "location": _location(edit.location),
                "end_location": _location(edit.end_location),
            }
            for edit in fix.edits
        ],
    }


def _related(related: Related) -> dict[str, Any]:
    return {
        "message": related.message,
        "filename": related.path,
        "location": _location(related.location),
        "end_location": _location(related.end_location),
    }


def as_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "filename": diagnostic.path,
        "location": _location(diagnostic.location),
        "end_location": _location(diagnostic.end_location),
        "fix": _fix(diagnostic.fix),
        "related": [_related(related) for related in diagnostic.related],
        "url": diagnostic.url,
    }


def render(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([as_dict(d) for d in diagnostics], indent=2) + "\n"


def render_statistics(rows: Sequence[RuleCount]) -> str:
    """`--statistics --format json`: one object per rule (ruff's shape)."""
    items = [{"code": row.code, "name": row.name, "count": row.count, "fixable": row.fixable} for row in rows]
    return json.dumps(items, indent=2) + "\n"
