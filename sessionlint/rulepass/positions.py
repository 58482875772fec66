"""Positions of the few nodes a file reports, without computing every node's.

LibCST's `PositionProvider` prints the whole module once, recording a range for every node:
on a file that reports one finding it cost 1.7 times the file's parse (55 KB: parse 0.21 s,
positions 0.34 s, plain printing 0.05 s). `StatementPositions` gives the same ranges: it
prints the top-level statement holding the node asked about, recording ranges only inside
that node (a node's range depends on where its printing starts and on its own subtree
alone: LibCST records each node's syntactic range from its own `_codegen`); the statements
before it are printed once, plainly, to know the line it starts on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodeRange
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

# After this many statements printed for one file, the whole table is cheaper.
MAX_PRINTS = 6


class StatementPositions:
    """`wrapper.resolve(PositionProvider)[node]`, one top-level statement at a time."""

    def __init__(self, wrapper: MetadataWrapper) -> None:
        self.wrapper = wrapper
        self.module = wrapper.module
        # Filled by LibCST's position-recording printer, as its provider's table is.
        self._computed: dict[cst.CSTNode, CodeRange] = {}
        self._owner: dict[cst.CSTNode, int] = {}  # node -> index of its top-level statement
        self._scanned = 0
        self._starts: list[tuple[int, int]] = []  # (line, column) where each statement starts
        self.prints = 0
        self._everything: dict[cst.CSTNode, CodeRange] | None = None

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._computed.get(node)
        if found is not None:
            return found
        index = None if self._everything is not None else self._statement_of(node)
        if index is not None and self.prints < MAX_PRINTS:
            self._print(index, node)
            found = self._computed.get(node)
            if found is not None:
                return found
        # The module itself, its header or footer lines, a node LibCST does not print, or
        # many nodes asked about: every position, as LibCST has them.
        if self._everything is None:
            self._everything = dict(self.wrapper.resolve(PositionProvider))
        return self._everything[node]

    def _statement_of(self, node: cst.CSTNode) -> int | None:
        body = self.module.body
        while node not in self._owner and self._scanned < len(body):
            index = self._scanned
            self._scanned += 1
            for inner in _subtree(body[index]):
                self._owner[inner] = index
        return self._owner.get(node)

    def _print(self, index: int, node: cst.CSTNode) -> None:
        self.prints += 1
        state = _RecordingInside(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=self,  # only its `_computed` table is used
        )
        state.line, state.column = self._start(index)
        state.target, state.depth = node, 0
        # Printed up to the node's end only: the rest of a long class holds nothing asked.
        with contextlib.suppress(_TargetPrinted):
            self.module.body[index]._codegen(state)

    def _start(self, index: int) -> tuple[int, int]:
        """Where statement `index` starts: the module printed up to it, counted the way
        LibCST's position-recording printer counts (token by token)."""
        if not self._starts:
            self._starts.append(_advance((1, 0), self.module, self.module.header))
        body = self.module.body
        while len(self._starts) <= index:
            previous = len(self._starts) - 1
            self._starts.append(_advance(self._starts[previous], self.module, [body[previous]]))
        return self._starts[index]


_NOT_RECORDING = contextlib.nullcontext()


class _TargetPrinted(Exception):
    """The target and everything inside it are printed, their ranges recorded."""


class _RecordingInside(PositionProvidingCodegenState):
    """LibCST's position-recording printer, recording inside `target` only, and stopping
    once the target is printed (`_TargetPrinted`: outside the target no range is being
    recorded, so nothing is left half-recorded)."""

    __slots__ = ("depth", "target")
    target: cst.CSTNode
    depth: int  # > 0: printing inside the target

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node is self.target:
            self.depth += 1
        if self.depth:
            super().before_codegen(node)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if self.depth:
            super().after_codegen(node)
        if node is self.target:
            self.depth -= 1
            if not self.depth:
                raise _TargetPrinted

    def record_syntactic_position(self, node: cst.CSTNode, **kwargs: Any) -> Any:
        if not self.depth:
            return _NOT_RECORDING
        return super().record_syntactic_position(node, **kwargs)


def _advance(
    position: tuple[int, int], module: cst.Module, nodes: list[cst.CSTNode] | tuple[cst.CSTNode, ...]
) -> tuple[int, int]:
    state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline)
    for node in nodes:
        node._codegen(state)
    line, column = position
    for token in state.tokens:
        segments = NEWLINE_RE.split(token)
        if len(segments) == 1:
            column += len(token)
        else:
            line += len(segments) - 1
            column = len(segments[-1])
    return line, column


@functools.cache
def _fields(node_class: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(node_class))


def _subtree(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under `root` (itself included), whitespace and punctuation too."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        for name in _fields(type(node)):
            child = getattr(node, name)
            if isinstance(child, cst.CSTNode):
                stack.append(child)
            elif isinstance(child, (tuple, list)):
                stack.extend(item for item in child if isinstance(item, cst.CSTNode))
