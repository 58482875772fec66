"""The base every rule derives from: metadata, reporting, and fix construction."""

from __future__ import annotations

import bisect
import re
from typing import ClassVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from sessionlint.diagnostics import Applicability, Diagnostic, Edit, Fix, FixAvailability, Location
from sessionlint.semantics.context import FileSemantics

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Why a fix that needs "nothing else in the project does X" is unsafe in a partial run.
UNSEEN_CALLERS = (
    "unsafe: not every use of it in the project is known to this run "
    "(a module it did not see, or a module name two files share)"
)


class FileContext:
    """One file under check: its source, its tree, its semantics, and what was reported."""

    def __init__(self, path: str, source: str, wrapper: MetadataWrapper, semantics: FileSemantics) -> None:
        self.path = path
        self.source = source
        self.wrapper = wrapper
        self.semantics = semantics
        self.diagnostics: list[Diagnostic] = []
        self._positions: dict[cst.CSTNode, CodeRange] | None = None
        self._line_starts: list[int] | None = None

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def position(self, node: cst.CSTNode) -> CodeRange:
        # Resolved on first use only: most files report nothing and never pay for it.
        if self._positions is None:
            self._positions = self.wrapper.resolve(PositionProvider)
        return self._positions[node]

    def offset(self, row: int, column: int) -> int:
        """Character offset of a 1-based row and 0-based column."""
        if self._line_starts is None:
            self._line_starts = [0] + [match.end() for match in _NEWLINE.finditer(self.source)]
        return self._line_starts[row - 1] + column

    def location_of(self, offset: int) -> Location:
        if self._line_starts is None:
            self.offset(1, 0)
        assert self._line_starts is not None
        row = bisect.bisect_right(self._line_starts, offset)
        return Location(row, offset - self._line_starts[row - 1] + 1)

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        code_range = self.position(node)
        return (
            self.offset(code_range.start.line, code_range.start.column),
            self.offset(code_range.end.line, code_range.end.column),
        )

    def line_indent(self, node: cst.CSTNode) -> str:
        """The whitespace that starts the line the node starts on."""
        start, _ = self.span(node)
        line_start = self.offset(self.location_of(start).row, 0)
        line = self.source[line_start:start]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def edit(self, start: int, end: int, content: str) -> Edit:
        return Edit(start, end, content, self.location_of(start), self.location_of(end))


class Rule(cst.BatchableCSTVisitor):
    """A rule: a LibCST visitor whose docstring is its documentation page."""

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    fix_title: ClassVar[str | None] = None
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NEVER

    def __init__(self, context: FileContext) -> None:
        super().__init__()
        self.context = context
        self.semantics = context.semantics

    @classmethod
    def summary(cls) -> str:
        """The first line of the rule's page, under `## What it does`."""
        doc = (cls.__doc__ or "").split("## What it does", 1)[-1].strip()
        return " ".join(doc.split("\n\n", 1)[0].split())

    def report(self, node: cst.CSTNode, fix: Fix | None = None, **fields: object) -> None:
        code_range = self.context.position(node)
        self.context.diagnostics.append(
            Diagnostic(
                code=self.code,
                name=self.name,
                message=self.message.format(**fields),
                path=self.context.path,
                location=Location(code_range.start.line, code_range.start.column + 1),
                end_location=Location(code_range.end.line, code_range.end.column + 1),
                fix=fix,
            )
        )

    # -- fix construction ---------------------------------------------------------------

    def make_fix(self, edits: list[Edit], *, safe: bool = True, title: str | None = None) -> Fix:
        applicability = Applicability.SAFE if safe else Applicability.UNSAFE
        return Fix(
            applicability,
            title or self.fix_title or "",
            tuple(sorted(edits, key=lambda e: e.start)),
        )

    def replace(self, node: cst.CSTNode, content: str) -> Edit:
        start, end = self.context.span(node)
        return self.context.edit(start, end, content)

    def insert_before(self, node: cst.CSTNode, content: str) -> Edit:
        start, _ = self.context.span(node)
        return self.context.edit(start, start, content)

    def insert_after(self, node: cst.CSTNode, content: str) -> Edit:
        _, end = self.context.span(node)
        return self.context.edit(end, end, content)
