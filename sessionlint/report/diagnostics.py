"""What a check produces: diagnostics, and the fixes they carry as text edits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DOCS_URL = "https://github.com/sessionlint/sessionlint/blob/main/docs/rules/{code}.md"


class Applicability(enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


class FixAvailability(enum.Enum):
    """Whether a rule can offer a fix (rule metadata; shown by `sessionlint rules`)."""

    NEVER = "never"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


@dataclass(frozen=True, order=True)
class Location:
    """1-based line, 1-based column (in characters)."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace `source[start:end]` (character offsets) with `content`."""

    start: int
    end: int
    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    title: str
    edits: tuple[Edit, ...]

    def applies(self, *, unsafe: bool) -> bool:
        if self.applicability is Applicability.SAFE:
            return True
        return unsafe and self.applicability is Applicability.UNSAFE


@dataclass(frozen=True)
class Related:
    """A fact a finding stands on, where it is: "`get_db` yields a sync session" at
    app/db.py:12. `path` as findings print it (relative to the working folder)."""

    message: str
    path: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    path: str
    location: Location
    end_location: Location
    fix: Fix | None = field(default=None, compare=False)
    # The evidence: what the rule's decision rests on, in this file or others (may be empty).
    related: tuple[Related, ...] = field(default=(), compare=False)

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.location.row, self.location.column, self.code)
