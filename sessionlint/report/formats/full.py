"""`--format full`: each finding as ruff shows it, with the source and the evidence.

    proj/app/routes.py:9:22: SL004 [*] Sync session `db` in `async def list_items`: ...
       |
     8 | @router.get("/items")
     9 | async def list_items(db: SessionDep):
       |                      ^^ SL004
       |
       = note: proj/app/deps.py:8: `SessionDep` is `Annotated[Session, Depends(get_db)]`, a sync session
       = help: Make `list_items` a plain `def` (safe fix)

The first line is the `text` format's line; the source lines are read back from the file
(a file that cannot be read shows none); each related location is a `note`, and the fix
a `help` that says whether `--fix` applies it or it needs `--unsafe-fixes`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionlint.report.diagnostics import Applicability, Diagnostic
from sessionlint.report.formats import text
from sessionlint.report.formats.lines import SourceLines

# A span over more lines than this shows its first lines only.
MAX_SPAN_LINES = 6
TAB = "    "


def render(
    diagnostics: Sequence[Diagnostic],
    *,
    color: bool = False,
    show_summary: bool = True,
    fixed: int = 0,
    unsafe_fixes: bool = False,
    baselined: int = 0,
) -> str:
    lines = SourceLines()
    blocks = [render_one(d, lines, color=color, unsafe_fixes=unsafe_fixes) for d in diagnostics]
    if show_summary:
        summary = text.summary(diagnostics, fixed=fixed, unsafe_fixes=unsafe_fixes, baselined=baselined)
        blocks.append(summary + "\n")
    return "\n".join(blocks)


def render_one(diagnostic: Diagnostic, lines: SourceLines, *, color: bool, unsafe_fixes: bool) -> str:
    """One finding's block (ends with a newline)."""
    out = [text.render_line(diagnostic, color=color, unsafe_fixes=unsafe_fixes)]
    snippet = _snippet(diagnostic, lines)
    width = max((len(str(row)) for row, _ in snippet), default=1)
    gutter = " " * (width + 1) + "|"
    if snippet:
        out.append(gutter)
        out += [f"{str(row).rjust(width)} | {line}".rstrip() for row, line in snippet]
    out.append(gutter)
    for related in diagnostic.related:
        where = f"{related.path}:{related.location.row}"
        out.append(f"{' ' * (width + 1)}= note: {where}: {related.message}")
    fix = diagnostic.fix
    if fix is not None:
        out.append(
            f"{' ' * (width + 1)}= help: {fix.title or 'Apply the fix'} ({_safety(fix.applicability)})"
        )
    return "\n".join(out) + "\n"


def _safety(applicability: Applicability) -> str:
    if applicability is Applicability.SAFE:
        return "safe fix"
    if applicability is Applicability.UNSAFE:
        return "unsafe fix: applied with `--fix --unsafe-fixes`"
    return "shown only, never applied"


def _snippet(diagnostic: Diagnostic, lines: SourceLines) -> list[tuple[int | str, str]]:
    """The reported lines, each followed by its underline (`^` under the span), with the
    line before for context. Rows of underlines are shown with an empty number."""
    start, end = diagnostic.location, diagnostic.end_location
    last = min(end.row, start.row + MAX_SPAN_LINES - 1)
    shown: list[tuple[int | str, str]] = []
    before = lines.text(diagnostic.path, start.row - 1) if start.row > 1 else None
    if before is not None and before.strip():
        shown.append((start.row - 1, before.replace("\t", TAB)))
    for row in range(start.row, last + 1):
        line = lines.text(diagnostic.path, row)
        if line is None:
            return []  # the file changed or cannot be read: the finding line alone
        first = start.column - 1 if row == start.row else len(line) - len(line.lstrip())
        stop = end.column - 1 if row == end.row else len(line)
        shown.append((row, line.replace("\t", TAB)))
        prefix = line[:first].replace("\t", TAB)
        marked = max(len(line[first:stop].replace("\t", TAB)), 1)
        label = f" {diagnostic.code}" if row == last else ""
        shown.append(("", " " * len(prefix) + "^" * marked + label))
    return shown
