"""Code actions on a checked document: a quick fix per finding, "ignore SLxxx on this
line", and `source.fixAll.sessionlint` (the safe fixes, to a fixpoint)."""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types

from sessionlint.entry.server.noqa_edit import noqa_edit
from sessionlint.entry.server.positions import LineIndex
from sessionlint.report.diagnostics import Applicability, Diagnostic

FIX_ALL = "source.fixAll.sessionlint"
KINDS = [types.CodeActionKind.QuickFix, FIX_ALL]


def document_edit(uri: str, version: int | None, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    """Edits of one document, tied to the version they were computed on (a client refuses
    them once the buffer has moved on, rather than applying them at the wrong place)."""
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=edits,
            )
        ]
    )


def quick_fix(
    finding: Diagnostic, lsp: types.Diagnostic, uri: str, version: int | None, index: LineIndex
) -> types.CodeAction | None:
    fix = finding.fix
    if fix is None or fix.applicability is Applicability.DISPLAY_ONLY or not fix.edits:
        return None
    unsafe = fix.applicability is Applicability.UNSAFE
    title = fix.title or "Apply the fix"
    edits = [
        types.TextEdit(range=index.range_of(edit.location, edit.end_location), new_text=edit.content)
        for edit in fix.edits
    ]
    return types.CodeAction(
        title=f"{finding.code}: {title}" + (" (unsafe fix)" if unsafe else ""),
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[lsp],
        edit=document_edit(uri, version, edits),
        # The one a client applies with a single key: a safe fix, never an unsafe one.
        is_preferred=not unsafe,
    )


def ignore_action(
    finding: Diagnostic, lsp: types.Diagnostic, uri: str, version: int | None, index: LineIndex
) -> types.CodeAction | None:
    edit = noqa_edit(index, finding.location.row, finding.code)
    if edit is None:
        return None
    start, end, text = edit
    return types.CodeAction(
        title=f"Ignore {finding.code} on this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[lsp],
        edit=document_edit(
            uri,
            version,
            [
                types.TextEdit(
                    range=types.Range(start=index.at_offset(start), end=index.at_offset(end)), new_text=text
                )
            ],
        ),
    )


def fix_all_action(uri: str, version: int | None, index: LineIndex, fixed: str) -> types.CodeAction:
    """The whole text replaced by its fixed form (fixes interact: a fixpoint is not a sum
    of per-finding edits)."""
    whole = types.Range(start=types.Position(line=0, character=0), end=index.end())
    return types.CodeAction(
        title="sessionlint: fix all (safe fixes)",
        kind=FIX_ALL,
        edit=document_edit(uri, version, [types.TextEdit(range=whole, new_text=fixed)]),
    )


def overlapping(
    pairs: Iterable[tuple[Diagnostic, types.Diagnostic]], wanted: types.Range
) -> list[tuple[Diagnostic, types.Diagnostic]]:
    """The findings whose range meets the requested one (an empty request range at the
    cursor meets the findings around it)."""
    return [(finding, lsp) for finding, lsp in pairs if _meets(lsp.range, wanted)]


def _meets(a: types.Range, b: types.Range) -> bool:
    return _key(a.start) <= _key(b.end) and _key(b.start) <= _key(a.end)


def _key(position: types.Position) -> tuple[int, int]:
    return position.line, position.character
