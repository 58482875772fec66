"""Applying fixes: non-overlapping edits, re-check to a fixpoint, never write what won't compile."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sessionlint.facts.engine import Engine
from sessionlint.facts.filestate import FileState, LintResult, crash_report
from sessionlint.project.index import ProjectFacts
from sessionlint.read.limits import deep_stack, parsing_as_cpython
from sessionlint.read.sources import SourceFile, encode
from sessionlint.report.diagnostics import Diagnostic, Edit, Fix
from sessionlint.rulepass.tokenview import tokenizer_view

MAX_PASSES = 10


@dataclass
class FixOutcome:
    state: FileState
    result: LintResult
    fixed: int = 0
    # How many fixes of each code were applied (`--show-fixes`).
    applied: Counter[str] = field(default_factory=Counter)
    # Fixes of the last pass left out because the fixed file would not compile (never written).
    dropped: list[Diagnostic] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        return self.state.source.text


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits; everything outside them is kept as it was.

    Line breaks inside an edit take the style of the line it lands on, so a fix never mixes
    `\n` into a `\r\n` file (whatever the rule rendered).
    """
    pieces = []
    cursor = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        pieces.append(text[cursor : edit.start])
        pieces.append(_with_newline(edit.content, _newline_at(text, edit.start)))
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _newline_at(text: str, offset: int) -> str:
    """The line break that ends the line holding `offset` (else the one before, else LF)."""
    after = _LINE_BREAK.search(text, offset)
    if after is not None:
        return after.group()
    before = [match.group() for match in _LINE_BREAK.finditer(text, max(0, offset - 4096), offset)]
    return before[-1] if before else "\n"


def _with_newline(content: str, newline: str) -> str:
    if "\n" not in content and "\r" not in content:
        return content
    return _LINE_BREAK.sub(lambda _: newline, content)


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


@deep_stack
def libcst_parses(text: str) -> bool:
    """LibCST reads it (through the tokenizer's view, as the rule pass does)."""
    import libcst as cst

    try:
        cst.parse_module(tokenizer_view(text).text)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    return True


def compiles(text: str, path: str) -> bool:
    """CPython compiles it to bytecode: beyond parsing, the checks `ast.parse` leaves out
    (`await` outside an `async def`, `yield` or `return` outside a function, `nonlocal`
    without a binding, ...). Compiled on its own (`dont_inherit`: sessionlint's own
    `from __future__` flags do not apply to the user's file), with no warnings shown."""
    try:
        with parsing_as_cpython():
            compile(text, path, "exec", flags=0, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


class Soundness:
    """Whether a fixed text may replace the original: it encodes in the file's encoding,
    LibCST parses it, and it compiles. A file that did not compile to begin with (newer
    syntax than this interpreter's, or an error only the compiler finds) is held to what it
    passed: LibCST parses it, and `ast` does when it did."""

    def __init__(self, original: str, path: str, encoding: str) -> None:
        self.path = path
        self.encoding = encoding
        self.original = original
        self._baseline: tuple[bool, bool] | None = None

    def __call__(self, candidate: str) -> bool:
        try:
            candidate.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        if not libcst_parses(candidate):
            return False
        if compiles(candidate, self.path):
            return True
        original_compiles, original_parses = self.baseline
        return not original_compiles and (not original_parses or _ast_parses(candidate))

    @property
    def baseline(self) -> tuple[bool, bool]:
        """Whether the original compiles, and whether `ast` parses it (computed only when a
        candidate does not compile)."""
        if self._baseline is None:
            self._baseline = (compiles(self.original, self.path), _ast_parses(self.original))
        return self._baseline


def _ast_parses(text: str) -> bool:
    try:
        with parsing_as_cpython():
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def fix_file(
    engine: Engine, state: FileState, project: ProjectFacts, *, unsafe: bool
) -> tuple[FixOutcome, ProjectFacts]:
    """Fix, re-check and repeat until nothing changes (bounded).

    An unexpected exception on the way (a bug) leaves the file as it was: its findings are
    reported with the exception as an internal error, and nothing is written.
    """
    try:
        return _fix_file(engine, state, project, unsafe=unsafe)
    except Exception as error:
        result = engine.lint(state, project)
        result.internal_errors.append(crash_report(state.source.display, error))
        return FixOutcome(state, result), project


def _fix_file(
    engine: Engine, state: FileState, project: ProjectFacts, *, unsafe: bool
) -> tuple[FixOutcome, ProjectFacts]:
    outcome = FixOutcome(state, engine.lint(state, project))
    sound = Soundness(state.source.text or "", state.source.display, state.source.encoding)
    for _ in range(MAX_PASSES):
        chosen = choose_fixes(outcome.result.diagnostics, unsafe=unsafe)
        # Only the last pass's drops count: they are at the final text's positions.
        outcome.dropped = []
        if not chosen:
            break
        text = outcome.state.source.text
        assert text is not None
        new_text, applied = _apply_sound(text, chosen, outcome.dropped, sound)
        if not applied or new_text == text:
            break
        new_state = engine.analyze(_replaced_source(outcome.state.source, new_text))
        if new_state.facts is not None:
            project = project.with_module(new_state.facts)
        outcome.state = new_state
        outcome.fixed += applied
        dropped_now = {id(diagnostic) for diagnostic in outcome.dropped}
        outcome.applied.update(d.code for d in chosen if id(d) not in dropped_now)
        outcome.result = engine.lint(new_state, project)
    # A fix that would break the file stays unapplied, and its finding is not shown as
    # fixable (`[*]`): `--fix` could not fix it.
    dropped = {_key(diagnostic) for diagnostic in outcome.dropped}
    outcome.result.diagnostics = [
        replace(diagnostic, fix=None) if _key(diagnostic) in dropped else diagnostic
        for diagnostic in outcome.result.diagnostics
    ]
    return outcome, project


def _key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return (diagnostic.code, diagnostic.location.row, diagnostic.location.column)


def _apply_sound(
    text: str, chosen: list[Diagnostic], dropped: list[Diagnostic], sound: Callable[[str], bool]
) -> tuple[str, int]:
    """All chosen fixes at once when the result is sound; else one at a time on top of those
    kept so far, dropping each that breaks it. Every edit is relative to `text`, so the
    kept ones are always applied together to it (never one fix's output shifted by another's)."""
    edits = [edit for diagnostic in chosen for edit in diagnostic.fix.edits]  # type: ignore[union-attr]
    candidate = apply_edits(text, edits)
    if sound(candidate):
        return candidate, len(chosen)
    kept: list[Edit] = []
    applied = 0
    for diagnostic in chosen:
        attempt = [*kept, *diagnostic.fix.edits]  # type: ignore[union-attr]
        if sound(apply_edits(text, attempt)):
            kept = attempt
            applied += 1
        else:
            dropped.append(diagnostic)
    return apply_edits(text, kept), applied


def _replaced_source(source: SourceFile, text: str) -> SourceFile:
    return SourceFile(source.path, source.display, encode(text, source.encoding), source.encoding, text)


class ConcurrentModification(Exception):
    """The file changed on disk after it was read: it is not overwritten."""


def write_atomically(path: Path, original: bytes, new: bytes) -> None:
    """Replace the file's content via a temporary file in the same folder, keeping its mode
    (and owner, where allowed). A symlink is written through: its target changes, the link
    stays. Raises `ConcurrentModification` (nothing written) when the file no longer holds
    `original`."""
    path = Path(os.path.realpath(path))
    if path.read_bytes() != original:
        raise ConcurrentModification("changed on disk while it was being checked; not fixed")
    status = path.stat()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".sessionlint", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        # Owner first: `chown` clears the setuid / setgid bits, so the mode goes on after it.
        if hasattr(os, "chown"):
            with contextlib.suppress(OSError):
                os.chown(temporary, status.st_uid, status.st_gid)
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        # Checked again just before the swap: the window for an editor's save stays tiny.
        if path.read_bytes() != original:
            raise ConcurrentModification("changed on disk while it was being checked; not fixed")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
