"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.

    ::error file=app/db.py,line=3,col=10,endLine=3,endColumn=44,title=SL005 (engine-without-pre-ping)::message

Escaping follows GitHub's rules for workflow commands: in the message `%`, `\\r` and `\\n`
are percent-encoded; in property values `:` and `,` are too.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionlint.report.diagnostics import Diagnostic


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_line(diagnostic: Diagnostic) -> str:
    properties = {
        "file": diagnostic.path,
        "line": diagnostic.location.row,
        "col": diagnostic.location.column,
        "endLine": diagnostic.end_location.row,
        "endColumn": diagnostic.end_location.column,
        "title": f"{diagnostic.code} ({diagnostic.name})",
    }
    joined = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::error {joined}::{escape_data(diagnostic.message)}"


def render(diagnostics: Sequence[Diagnostic]) -> str:
    return "".join(render_line(d) + "\n" for d in diagnostics)
