"""A buffer's LibCST tree after an edit, its unchanged leading statements taken from the tree
of its previous text: only the rest is parsed.

In an editor the same file is checked again after every edit, and LibCST's parse of a large
module is most of that check. An edit leaves the module's first statements as they were
(all of them, when it is at the end): `parse` keeps the last tree it made (one, the
buffer's) and, for a new text of the same file, parses only from the first top-level
statement the edit may touch, then puts the two together. The result is the tree a parse of
the whole text gives, node for node (`tests/test_reparse.py` compares them with
`deep_equals` on edits all over the apps corpus): the statements kept end in the text both
share, and the part parsed again starts a new top-level statement at column 0. Where that
cannot be shown from the trees (see `_spliced`), the whole text is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

__all__ = ["parse"]


@dataclass
class _Parsed:
    """A text, its tree, and (once asked) the length of each top-level statement's code."""

    name: str
    text: str
    module: cst.Module
    lengths: list[int] | None = None
    header: int | None = None  # the length of the header's code


_last: _Parsed | None = None


def parse(name: str, text: str) -> cst.Module:
    """`cst.parse_module(text)` for the file `name`, from its previous tree where it can."""
    global _last
    last = _last
    _last = None  # a parse that fails keeps nothing
    parsed = None
    if last is not None and last.name == name:
        # The same text again (an edit inside a function the rule pass leaves out): its tree.
        parsed = last if last.text == text else _spliced(last, text)
    if parsed is None:
        parsed = _Parsed(name, text, cst.parse_module(text))
    _last = parsed
    return parsed.module


def _spliced(last: _Parsed, text: str) -> _Parsed | None:
    """The tree of `text` as the statements of `last` it shares and a parse of the rest;
    None when that could differ from a parse of the whole (or it would save nothing)."""
    body = last.module.body
    if not _measure(last):
        return None
    assert last.lengths is not None and last.header is not None
    same = _common_prefix(last.text, text)
    end, kept = last.header, 0
    for length in last.lengths:
        if end + length > same:
            break
        end, kept = end + length, kept + 1
    if kept == 0:
        return None  # the header may change: its comments could become the first statement's
    rest = text[end:]
    indent = _first_indent(body[:kept])
    if indent is False:
        return None
    try:
        tail = cst.parse_module(rest)
    except (cst.ParserSyntaxError, RecursionError):
        return None  # the whole text is parsed, and reports the error as it would
    # A node keeps its newline and indentation only where they differ from the module's
    # (its first line's, its first indented block's): the rest must have read the same.
    if tail.default_newline != last.module.default_newline or (
        indent and tail.default_indent != last.module.default_indent
    ):
        return None
    # In a whole module, the blank lines and comments before a statement are its leading
    # lines, unless an indented comment follows them: those end the block above.
    if not tail.body or any(line.whitespace.value for line in tail.header):
        return None
    first = tail.body[0].with_changes(leading_lines=[*tail.header, *tail.body[0].leading_lines])
    module = last.module.with_changes(
        body=[*body[:kept], first, *tail.body[1:]],
        footer=tail.footer,
        has_trailing_newline=tail.has_trailing_newline,
        default_indent=last.module.default_indent if indent else tail.default_indent,
    )
    # Where its statements end, for the next edit: the kept ones' and the rest's.
    rest_parsed = _Parsed(last.name, rest, tail)
    if not _measure(rest_parsed):
        return _Parsed(last.name, text, module)
    assert rest_parsed.lengths is not None and rest_parsed.header is not None
    lengths = [*last.lengths[:kept], rest_parsed.header + rest_parsed.lengths[0], *rest_parsed.lengths[1:]]
    return _Parsed(last.name, text, module, lengths, last.header)


def _measure(parsed: _Parsed) -> bool:
    """Note where each top-level statement's code ends; False when the pieces' code does
    not add up to the text (nothing is then taken from this tree)."""
    if parsed.lengths is None:
        module = parsed.module
        parsed.header = sum(len(module.code_for_node(line)) for line in module.header)
        parsed.lengths = [len(module.code_for_node(statement)) for statement in module.body]
        footer = sum(len(module.code_for_node(line)) for line in module.footer)
        total = parsed.header + sum(parsed.lengths) + footer
        if total != len(parsed.text):
            parsed.lengths = []
            return False
    return bool(parsed.lengths)


def _first_indent(statements: list[cst.BaseStatement]) -> bool | None:
    """Whether the first indented block of the file is among these statements (True: the
    module's default indentation was read there; None: not, it is read from the rest);
    False when that cannot be told from the statements alone."""
    for statement in statements:
        block = getattr(statement, "body", None)
        if isinstance(block, cst.IndentedBlock):
            return True
        if isinstance(block, cst.SimpleStatementSuite):
            return False  # `if x: y` then an indented `else:` block: not looked into
    return None


def _common_prefix(first: str, second: str) -> int:
    """The length of the longest common prefix, by halves (string comparisons run in C)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[low:middle] == second[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low
