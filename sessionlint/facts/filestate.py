"""A file's way through the passes: its state (source, facts, the triage's answer), the
result of its rule pass, and the errors on the way (SL000s, a crash of the tool)."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sessionlint.facts.facts import ModuleFacts
from sessionlint.read.limits import TOO_DEEP
from sessionlint.read.sources import SourceFile, error_diagnostic
from sessionlint.report.diagnostics import Diagnostic

if TYPE_CHECKING:
    import libcst as cst

    from sessionlint.cache.store import CacheEntry


@dataclass
class InternalError:
    """A rule crashed on a file: reported (exit 2), the other rules and files still run."""

    path: str
    rule: str
    row: int
    message: str
    traceback: str


@dataclass
class FileState:
    source: SourceFile
    facts: ModuleFacts | None = None
    tree: cst.Module | None = None
    error: Diagnostic | None = None
    # The cache entry this state came from or went into (findings are cached on it).
    cached: CacheEntry | None = None
    # An unexpected exception while reading the file's facts (a bug): reported, exit 2.
    internal_error: InternalError | None = None
    # The selected rules that could flag something here (the triage's answer); None: all.
    rule_codes: frozenset[str] | None = None


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)


def crash_report(path: str, error: BaseException, rule: str = "sessionlint", row: int = 1) -> InternalError:
    """An unexpected exception as an internal error (the traceback shown with --verbose)."""
    return InternalError(
        path=path,
        rule=rule,
        row=row,
        message=f"{error.__class__.__name__}: {error}",
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


def syntax_error(display: str, error: Exception) -> Diagnostic:
    if type(error).__name__ == "ParserSyntaxError":
        # LibCST words it "parser error: error at 9:0: expected ...", a position of its own.
        message = re.sub(r"^parser error: error at \d+:\d+: ", "", error.message)
        return error_diagnostic(display, f"SyntaxError: {message}", error.raw_line, error.raw_column + 1)
    if isinstance(error, SyntaxError):
        return error_diagnostic(display, f"SyntaxError: {error.msg}", error.lineno or 1, error.offset or 1)
    if isinstance(error, (RecursionError, MemoryError)):
        return error_diagnostic(display, TOO_DEEP)
    return error_diagnostic(display, f"cannot parse file: {error}")
