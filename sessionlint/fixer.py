"""Applying fixes: non-overlapping edits, re-check to a fixpoint, never write what won't parse."""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sessionlint.diagnostics import Diagnostic, Edit, Fix
from sessionlint.engine import Engine, FileState, LintResult
from sessionlint.semantics.project import ProjectFacts
from sessionlint.sources import SourceFile, encode

MAX_PASSES = 10


@dataclass
class FixOutcome:
    state: FileState
    result: LintResult
    fixed: int = 0
    # Fixes dropped because the fixed file would not parse (reported, never written).
    dropped: list[Diagnostic] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        return self.state.source.text


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits; everything outside them is kept as it was."""
    pieces = []
    cursor = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.content)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _overlaps(fix: Fix, taken: list[tuple[int, int]]) -> bool:
    for edit in fix.edits:
        for start, end in taken:
            if (edit.start < end and start < edit.end) or (edit.start == start and edit.end == end):
                return True
    return False


def choose_fixes(diagnostics: Sequence[Diagnostic], *, unsafe: bool) -> list[Diagnostic]:
    """Fixes that can be applied together: the first of any overlapping pair wins."""
    chosen: list[Diagnostic] = []
    taken: list[tuple[int, int]] = []
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or not fix.applies(unsafe=unsafe) or _overlaps(fix, taken):
            continue
        chosen.append(diagnostic)
        taken.extend((edit.start, edit.end) for edit in fix.edits)
    return chosen


def parses(text: str) -> bool:
    import libcst as cst

    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    try:
        ast.parse(text)
    except SyntaxError:
        # Newer syntax than this interpreter knows is fine when LibCST accepted it.
        return True
    except (ValueError, RecursionError, MemoryError):
        return False
    return True


def fix_file(
    engine: Engine, state: FileState, project: ProjectFacts, *, unsafe: bool
) -> tuple[FixOutcome, ProjectFacts]:
    """Fix, re-check and repeat until nothing changes (bounded)."""
    outcome = FixOutcome(state, engine.lint(state, project))
    for _ in range(MAX_PASSES):
        chosen = choose_fixes(outcome.result.diagnostics, unsafe=unsafe)
        if not chosen:
            break
        text = outcome.state.source.text
        assert text is not None
        new_text, applied = _apply_parsing(text, chosen, outcome.dropped)
        if not applied:
            break
        new_state = engine.analyze(_replaced_source(outcome.state.source, new_text))
        if new_state.facts is not None:
            project = project.with_module(new_state.facts)
        outcome.state = new_state
        outcome.fixed += applied
        outcome.result = engine.lint(new_state, project)
    return outcome, project


def _apply_parsing(
    text: str, chosen: list[Diagnostic], dropped: list[Diagnostic]
) -> tuple[str, int]:
    """All chosen fixes at once when that parses; else one by one, dropping those that break it."""
    edits = [edit for diagnostic in chosen for edit in diagnostic.fix.edits]  # type: ignore[union-attr]
    candidate = apply_edits(text, edits)
    if parses(candidate):
        return candidate, len(chosen)
    applied = 0
    for diagnostic in reversed(chosen):  # from the end, so earlier offsets stay valid
        attempt = apply_edits(text, diagnostic.fix.edits)  # type: ignore[union-attr]
        if parses(attempt):
            text = attempt
            applied += 1
        else:
            dropped.append(diagnostic)
    return text, applied


def _replaced_source(source: SourceFile, text: str) -> SourceFile:
    return SourceFile(
        source.path, source.display, encode(text, source.encoding), source.encoding, text
    )


class ConcurrentModification(Exception):
    """The file changed on disk after it was read: it is not overwritten."""


def write_atomically(path: Path, original: bytes, new: bytes) -> None:
    """Replace the file's content via a temporary file in the same folder, keeping its mode."""
    if path.read_bytes() != original:
        raise ConcurrentModification(
            f"{path} changed on disk while it was being checked; not fixed"
        )
    mode = path.stat().st_mode
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".sessionlint", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
