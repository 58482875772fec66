"""`--show-fixes`: the fixes a run applied (with `--fix`), or those available, per file and
rule (ruff's shape: `- path:` then `N x CODE (name)` lines)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionlint.report.diagnostics import Applicability, Diagnostic
from sessionlint.settings.codes import RULE_NAMES

if TYPE_CHECKING:
    from sessionlint.report.run import FixedFile


def applied(fixed_files: Sequence[FixedFile]) -> str:
    """The section for a run that fixed: what each file got."""
    total = sum(file.fixes for file in fixed_files)
    if not total:
        return "No fixes applied."
    lines = [f"Fixed {total} {'problem' if total == 1 else 'problems'}:"]
    for file in sorted(fixed_files, key=lambda file: file.display):
        lines.append(f"- {file.display}:")
        for code, count in sorted(file.codes.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {count} x {code} ({RULE_NAMES.get(code, code)})")
    return "\n".join(lines)


def available(diagnostics: Sequence[Diagnostic], *, unsafe_fixes: bool) -> str:
    """The section for a run that only checked: the fixes `--fix` would apply, and the
    unsafe ones it would apply only with `--unsafe-fixes`."""
    per_file: dict[str, Counter[tuple[str, str, bool]]] = {}
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or fix.applicability is Applicability.DISPLAY_ONLY:
            continue
        needs_flag = fix.applicability is Applicability.UNSAFE and not unsafe_fixes
        per_file.setdefault(diagnostic.path, Counter())[(diagnostic.code, diagnostic.name, needs_flag)] += 1
    if not per_file:
        return "No fixes available."
    total = sum(sum(counts.values()) for counts in per_file.values())
    lines = [f"{total} {'fix' if total == 1 else 'fixes'} available:"]
    for path in sorted(per_file):
        lines.append(f"- {path}:")
        ordered = sorted(per_file[path].items(), key=lambda item: (item[0][2], -item[1], item[0][0]))
        for (code, name, needs_flag), count in ordered:
            note = ", unsafe: with --unsafe-fixes" if needs_flag else ""
            lines.append(f"    {count} x {code} ({name}{note})")
    return "\n".join(lines)
