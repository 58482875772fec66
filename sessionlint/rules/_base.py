"""The base every rule derives from: metadata, reporting, and fix construction."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import ClassVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper

from sessionlint.report.diagnostics import (
    Applicability,
    Diagnostic,
    Edit,
    Fix,
    FixAvailability,
    Location,
    Related,
)
from sessionlint.rulepass.context import FileSemantics
from sessionlint.rulepass.positions import StatementPositions
from sessionlint.rulepass.tokenview import TokenView, effective_indent

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Source quoted in a message longer than this is summarised (`func(...)`).
QUOTE_LIMIT = 60


def _one_line(message: str) -> str:
    """A finding is one line in every output format, whatever a field quoted (see `Rule.quote`)."""
    return " ".join(message.split()) if _NEWLINE.search(message) else message


# Why a fix that needs "nothing else in the project does X" is unsafe in a partial run.
UNSEEN_CALLERS = (
    "unsafe: not every use of it in the project is known to this run "
    "(a module it did not see, or a call through a module name two source roots share)"
)


class FileContext:
    """One file under check: its source, its tree, its semantics, and what was reported."""

    def __init__(
        self,
        path: str,
        source: str,
        wrapper: MetadataWrapper,
        semantics: FileSemantics,
        view: TokenView | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.wrapper = wrapper
        self.semantics = semantics
        # What LibCST parsed (see `sessionlint.rulepass.tokenview`): positions are in its text, offsets
        # and reported columns in `source`.
        self.view = view or TokenView(source)
        self.diagnostics: list[Diagnostic] = []
        self._positions: StatementPositions | None = None
        self._line_starts: list[int] | None = None
        self._faithful: bool | None = None

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def position(self, node: cst.CSTNode) -> CodeRange:
        # Resolved on first use only, for the top-level statement holding the node: most
        # files report nothing and never pay for it, the others for what they report.
        if self._positions is None:
            self._positions = StatementPositions(self.wrapper)
        return self._positions[node]

    @property
    def faithful(self) -> bool:
        """The tree prints back the text it was parsed from (LibCST drops a last lone `\r`,
        which moves nothing): its positions can be trusted for edits. Checked once, only
        for a file that reports a fix."""
        if self._faithful is None:
            try:
                code = self.module.code
            except RecursionError:
                code = None
            text = self.view.text
            self._faithful = code is not None and text.startswith(code) and not text[len(code) :].strip("\r")
        return self._faithful

    def line_start(self, row: int) -> int:
        """Character offset of the first character of a 1-based row of `source`."""
        if self._line_starts is None:
            self._line_starts = [0] + [match.end() for match in _NEWLINE.finditer(self.source)]
        return self._line_starts[row - 1]

    def offset(self, row: int, column: int) -> int:
        """Character offset in `source` of a tree position (1-based row, 0-based column)."""
        return self.line_start(row) + self.view.column(row, column)

    def location_of(self, offset: int) -> Location:
        self.line_start(1)
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
        """The indentation of the line the node starts on, as the tokenizer measures it (the
        whitespace after any form feed): a line written with it lines up with that one."""
        start, _ = self.span(node)
        return effective_indent(self.source[self.line_start(self.location_of(start).row) : start])

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

    def quote(self, node: cst.CSTNode) -> str:
        """`node`'s source for a message: as written when it is one short line, else a
        one-line summary (`sessionmaker(...)()`, `db.execute(...)`): a finding is one line
        in every output format, and a quoted comment would swallow the rest of it."""
        code = self.context.module.code_for_node(node).strip()
        if len(code) <= QUOTE_LIMIT and "\n" not in code and "\r" not in code and "#" not in code:
            return code
        if isinstance(node, cst.Call):
            return self.quote(node.func) + ("(...)" if node.args else "()")
        if isinstance(node, cst.Attribute):
            return f"{self.quote(node.value)}.{node.attr.value}"
        if isinstance(node, cst.Subscript):
            return f"{self.quote(node.value)}[...]"
        return "..."

    def report(
        self,
        node: cst.CSTNode,
        fix: Fix | None = None,
        *,
        related: Iterable[Related | None] = (),
        **fields: object,
    ) -> None:
        """Report `node`; `related`: the evidence (see `semantics.evidence`), None items skipped."""
        context = self.context
        code_range = context.position(node)
        start, end = code_range.start, code_range.end
        if fix is not None and not context.faithful:
            fix = None  # positions off: its edits would land in the wrong places
        context.diagnostics.append(
            Diagnostic(
                code=self.code,
                name=self.name,
                message=_one_line(self.message.format(**fields)),
                path=context.path,
                location=Location(start.line, context.view.column(start.line, start.column) + 1),
                end_location=Location(end.line, context.view.column(end.line, end.column) + 1),
                fix=fix,
                related=tuple(fact for fact in related if fact is not None),
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
