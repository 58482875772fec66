"""`path:row:col: CODE [*] message` lines, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import click

from sessionlint.report.diagnostics import Applicability, Diagnostic


def _has_fix(diagnostic: Diagnostic, applicability: Applicability) -> bool:
    return diagnostic.fix is not None and diagnostic.fix.applicability is applicability


def render_line(diagnostic: Diagnostic, *, color: bool, unsafe_fixes: bool = False) -> str:
    fixable = _has_fix(diagnostic, Applicability.SAFE) or (
        unsafe_fixes and _has_fix(diagnostic, Applicability.UNSAFE)
    )
    marker = " [*]" if fixable else ""
    position = f"{diagnostic.path}:{diagnostic.location.row}:{diagnostic.location.column}:"
    code = diagnostic.code
    if color:
        position = click.style(position, bold=True)
        code = click.style(code, fg="red", bold=True)
        marker = click.style(marker, fg="cyan") if marker else ""
    return f"{position} {code}{marker} {diagnostic.message}"


def summary(
    diagnostics: Sequence[Diagnostic], *, fixed: int = 0, unsafe_fixes: bool = False, baselined: int = 0
) -> str:
    count = len(diagnostics)
    safe = sum(_has_fix(d, Applicability.SAFE) for d in diagnostics)
    unsafe = sum(_has_fix(d, Applicability.UNSAFE) for d in diagnostics)
    if unsafe_fixes:
        safe, unsafe = safe + unsafe, 0
    hidden = f"{baselined} in the baseline" if baselined else ""
    if count == 0 and fixed == 0:
        return f"All checks passed! ({hidden})" if hidden else "All checks passed!"
    noun = "problem" if count + fixed == 1 else "problems"
    if fixed:
        text = f"Found {count + fixed} {noun} ({fixed} fixed, {count} remaining{', ' + hidden if hidden else ''})."
    else:
        notes = [f"{safe} fixable with --fix"] if safe else []
        notes += [hidden] if hidden else []
        text = f"Found {count} {noun}" + (f" ({'; '.join(notes)})." if notes else ".")
    if unsafe:
        text += (
            f"\nNo fixes applied for {unsafe} more: enable them with `--unsafe-fixes`."
            if fixed
            else (f"\n{unsafe} more fixable with `--fix --unsafe-fixes`.")
        )
    return text


class RuleCount(NamedTuple):
    code: str
    name: str
    count: int
    fixable: bool  # some of its findings have a safe fix


def counts(diagnostics: Sequence[Diagnostic]) -> list[RuleCount]:
    """Findings per rule, most frequent first."""
    per_rule = Counter((d.code, d.name) for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if _has_fix(d, Applicability.SAFE))
    ordered = sorted(per_rule.items(), key=lambda item: (-item[1], item[0]))
    return [RuleCount(code, name, count, fixable[code] > 0) for (code, name), count in ordered]


def statistics(diagnostics: Sequence[Diagnostic]) -> str:
    return "\n".join(
        f"{row.count:>5}\t{row.code}\t{'[*]' if row.fixable else '[ ]'} {row.name}"
        for row in counts(diagnostics)
    )


def render(
    diagnostics: Sequence[Diagnostic],
    *,
    color: bool = False,
    show_summary: bool = True,
    fixed: int = 0,
    unsafe_fixes: bool = False,
    baselined: int = 0,
) -> str:
    lines = [render_line(d, color=color, unsafe_fixes=unsafe_fixes) for d in diagnostics]
    if show_summary:
        lines.append(summary(diagnostics, fixed=fixed, unsafe_fixes=unsafe_fixes, baselined=baselined))
    return "\n".join(lines) + ("\n" if lines else "")
