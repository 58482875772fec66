"""Findings as LSP diagnostics, and the hover text that explains one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Protocol

from lsprotocol import types

from sessionlint.entry.server.positions import LineIndex
from sessionlint.report.diagnostics import Applicability, Diagnostic, Location

SOURCE = "sessionlint"

# Where a related location points: its file's URI and lines (None: the file is unknown,
# the location is left out rather than pointing at a wrong place).
Locate = Callable[[str], "tuple[str, LineIndex] | None"]


def to_lsp(finding: Diagnostic, index: LineIndex, locate: Locate) -> types.Diagnostic:
    """A finding on the document `index` holds. Every finding is a warning: sessionlint
    reports bugs waiting to happen, not code that fails now (the compiler's errors are
    other tools' business in an editor)."""
    return types.Diagnostic(
        range=index.range_of(finding.location, finding.end_location),
        severity=types.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=types.CodeDescription(href=finding.url),
        source=SOURCE,
        message=finding.message,
        related_information=related_information(finding, locate) or None,
        data={
            "fixable": finding.fix is not None and finding.fix.applicability is not Applicability.DISPLAY_ONLY
        },
    )


def related_information(finding: Diagnostic, locate: Locate) -> list[types.DiagnosticRelatedInformation]:
    """The evidence a finding carries (`Diagnostic.related`, where the fact it rests on
    lives: the factory, the dependency's registration, ...), each as a location."""
    result = []
    for related in _related(finding):
        target = locate(related.path)
        if target is None:
            continue
        uri, index = target
        result.append(
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=uri, range=index.range_of(related.location, related.end_location)
                ),
                message=related.message,
            )
        )
    return result


class _Related(Protocol):
    """A finding's evidence (`diagnostics.Related`): a message at a place in a file."""

    message: str
    path: str
    location: Location
    end_location: Location


def _related(finding: Diagnostic) -> Iterable[_Related]:
    # Read with getattr: findings carry `related` only since the evidence work landed.
    return getattr(finding, "related", None) or ()


def hover_markdown(findings: Iterable[Diagnostic]) -> str:
    """Per finding: its code and name, the message (why it fired here), the rule's summary
    (what it is about) and a link to its page."""
    parts = []
    for finding in findings:
        lines = [f"**{finding.code}** `{finding.name}`: {finding.message}"]
        summary = rule_summary(finding.code)
        if summary:
            lines.append(summary)
        if finding.fix is not None and finding.fix.applicability is not Applicability.DISPLAY_ONLY:
            safety = "safe" if finding.fix.applicability is Applicability.SAFE else "unsafe"
            lines.append(f"Fix ({safety}): {finding.fix.title}")
        lines.append(f"[{finding.code} documentation]({finding.url})")
        parts.append("\n\n".join(lines))
    return "\n\n---\n\n".join(parts)


@cache
def rule_summary(code: str) -> str:
    from sessionlint.report.formats.rules import find_rule

    doc = find_rule(code)
    return doc.summary if doc is not None else ""
