"""What a run was asked to do and what it found: options, findings, fixes made."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sessionlint.report.diagnostics import Diagnostic

if TYPE_CHECKING:
    from sessionlint.facts.filestate import InternalError
    from sessionlint.settings.config import Settings


# The phases of a run, in the order `--verbose` shows them: finding the files, reading them,
# the cache (loading, saving, the incremental snapshot), an incremental re-check, each file's
# facts, the project's indexes, the triage, the rules, the fixes, and writing the report.
PHASES = (
    "discover",
    "read",
    "cache",
    "incremental",
    "facts",
    "project index",
    "triage",
    "rules",
    "fixes",
    "output",
)


@dataclass
class RunOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None
    # Parse and check every file, skipping the pre-filter and the triage (tests prove both sound).
    exhaustive: bool = False
    # Apply the excludes to the paths named too (pre-commit names every file it passes).
    force_exclude: bool = False


@dataclass
class FixedFile:
    display: str
    fixes: int
    original: str
    fixed: str
    fixed_data: bytes = b""  # `fixed` in the file's own encoding (BOM, line endings kept)
    original_data: bytes = b""  # the bytes as read
    codes: dict[str, int] = field(default_factory=dict)  # fixes applied per code


@dataclass
class FileCheck:
    """One file's findings (the workspace's answer to `check` and `update`)."""

    display: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)


@dataclass
class FileFix:
    """One file after its fixes: the fixed text (None: nothing changed) and what remains."""

    display: str
    fixed: FixedFile | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)


@dataclass
class RunReport:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)
    fixed_files: list[FixedFile] = field(default_factory=list)
    write_errors: list[str] = field(default_factory=list)
    files_seen: int = 0
    # How much work the run did: files parsed for facts, files checked by the rules, and
    # of those, how many were answered from the cache (shown with --verbose).
    files_analyzed: int = 0
    files_checked: int = 0
    files_from_cache: int = 0
    reused_last_run: bool = False
    # Findings a baseline hid from this report (`sessionlint.report.baseline`).
    baselined: int = 0
    # Set when the run was incremental: how many files changed since the last run.
    files_changed: int | None = None
    # Seconds spent in each phase (see `lap`), for `--verbose`.
    phase_seconds: dict[str, float] = field(default_factory=dict)
    _lap_started: float = field(default_factory=time.perf_counter, repr=False, compare=False)

    def lap(self, phase: str) -> None:
        """The time since the last lap (or since the report was made) went to `phase`: one
        line after each phase times the run without wrapping its code."""
        now = time.perf_counter()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - self._lap_started
        self._lap_started = now

    def phase_summary(self) -> str:
        """The time of each phase that ran, in the run's order."""
        ran = [phase for phase in PHASES if phase in self.phase_seconds]
        ran += sorted(set(self.phase_seconds) - set(PHASES))
        total = sum(self.phase_seconds.values())
        return (
            ", ".join(f"{phase} {self.phase_seconds[phase]:.3f}s" for phase in ran) + f" (total {total:.3f}s)"
        )

    # The run's settings (each file's, see `Configuration.run_settings`).
    settings: Settings | None = None

    def work_summary(self) -> str:
        if self.reused_last_run:
            return f"{self.files_seen} files, none changed since the last run: its findings reused"
        if self.files_changed is not None:
            return (
                f"{self.files_seen} files, {self.files_changed} changed since the last run, "
                f"{self.files_checked} of those checked by the rules; the other findings reused"
            )
        return (
            f"{self.files_seen} files read, {self.files_analyzed} analyzed, "
            f"{self.files_checked} checked by the rules ({self.files_from_cache} from the cache)"
        )

    @property
    def fixed_count(self) -> int:
        return sum(f.fixes for f in self.fixed_files)

    def diff(self) -> str:
        import difflib

        chunks = []
        for fixed in self.fixed_files:
            chunks.extend(
                difflib.unified_diff(
                    fixed.original.splitlines(keepends=True),
                    fixed.fixed.splitlines(keepends=True),
                    fromfile=f"a/{fixed.display}",
                    tofile=f"b/{fixed.display}",
                )
            )
        return "".join(chunk if chunk.endswith(("\n", "\r")) else chunk + "\n" for chunk in chunks)

    def diff_bytes(self) -> bytes:
        """The fixes as a unified diff of the files' bytes, as `patch -p1` applies it exactly.

        Bytes, not text: a latin-1 file's diff stays latin-1, a BOM and `\r\n` stay in
        their lines, and lines end only at `\n` (text would also split at form feeds).
        """
        import difflib

        out = []
        for fixed in self.fixed_files:
            name = fixed.display.encode("utf-8", "surrogateescape")
            for line in difflib.diff_bytes(
                difflib.unified_diff,
                _byte_lines(fixed.original_data),
                _byte_lines(fixed.fixed_data),
                b"a/" + name,
                b"b/" + name,
            ):
                out.append(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n")
        return b"".join(out)


def _byte_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
