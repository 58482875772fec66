"""Leaving out of LibCST's parse the functions no rule of a file can look at.

The rules about making engines and registries (SL003, SL005, SL011, SL012) only ever
report a call that makes one: a constructor named in the vocabulary, or a project function
whose call gives one (resolved by the project: `Ref` callees only, as the rules resolve
them). Their verdicts depend on that call's own function and on the project's facts,
never on another function's tree. In the database layers of real applications these
calls stand in one or two methods of classes tens of thousands of lines long, and LibCST's
parse of those files was most of a cold run.

So, for a file only those rules are left for, every function (at module level or in a
class body) that makes no such call is turned into `pass` and blank space before LibCST
sees the text: every character stays where it was (a line keeps its length, an offset its
meaning), so positions need no mapping. A function is kept when its facts (or those of the
functions nested in it) call a global the triage knows makes an engine or a registry, or
when its text spells a maker's name (calls the facts do not hold: lambdas, decorators and
defaults evaluated around it, an alias).

SL003's and SL005's findings stand on the call alone (SL005's fix adds a keyword to it,
the evidence of both comes from the facts): found in the pruned tree, they are the
answer. Where SL011 or SL012 find anything (their fixes edit a lifespan or a shutdown
hook, which may be left out), the whole file is parsed and checked again.
`tests/test_prune.py` checks on every fixture naming an engine that the pruned and the
whole file give equal findings, fixes and evidence; the same held on the 117 files of the
apps corpus that are pruned.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import Definition, ModuleFacts
from sessionlint.facts.values import Kind
from sessionlint.project.index import ProjectFacts
from sessionlint.rulepass.tokenview import split_lines
from sessionlint.triage.triage import Triage

# The rules whose findings stand on a call making an engine or a registry (see the module).
PRUNABLE_CODES = frozenset({"SL003", "SL005", "SL011", "SL012"})
# The rules whose findings found in a pruned tree are final (see the module).
FINAL_WHEN_PRUNED = frozenset({"SL003", "SL005"})
_MAKER_KINDS = frozenset({Kind.ENGINE, Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY})
_MAKER_NAMES = vocab.ENGINE_CONSTRUCTORS | vocab.SCOPED_SESSIONS | vocab.ASYNC_SCOPED_SESSIONS
_WORD = re.compile(r"\w+")
# Below this size LibCST's parse costs less than looking.
_MIN_SIZE = 20_000


def pruned_text(text: str, codes: frozenset[str], facts: ModuleFacts, project: ProjectFacts) -> str | None:
    """`text` with the functions no rule of `codes` can look at turned into `pass` and
    blanks (see the module); None when the file is not worth it or nothing is left out."""
    if not codes or not codes <= PRUNABLE_CODES or len(text) < _MIN_SIZE or not facts.complete:
        return None
    if "\f" in text:
        return None  # a form feed in indentation counts apart (see `tokenview`): not worth it
    makers = _Makers(facts, project)
    lines = split_lines(text)
    definitions = list(_definitions(facts.outline))
    if not all(_stands_at(definition, lines) for definition in definitions):
        return None  # facts of another text than this one: nothing is left out on their word
    left_out = 0
    for definition in definitions:
        if not makers.in_function(definition, lines):
            _blank(definition, lines)
            left_out += 1
    return "".join(lines) if left_out else None


def _definitions(body: tuple[Definition, ...]) -> Iterator[Definition]:
    """The functions of a module or class body, and of the classes in it (any depth), each
    defined once in its body: the rule pass tells a redefinition apart by its rank among
    the definitions of that name (`f#2`), which leaving one out would change."""
    counts: dict[str, int] = {}
    for definition in body:
        counts[definition.name] = counts.get(definition.name, 0) + 1
    for definition in body:
        if definition.is_class:
            yield from _definitions(definition.body)
        elif counts[definition.name] == 1:
            yield definition


def _stands_at(definition: Definition, lines: list[str]) -> bool:
    """The text holds the definition where the facts saw it: its `def` on its line, and
    its body ending on its last line (the next line that holds code is indented no
    deeper than the `def`). Anything else left unseen still fails the pruned parse, and a
    file whose pruned parse fails is checked whole."""
    if not 0 < definition.first_line <= definition.line <= definition.end_line <= len(lines):
        return False
    if not lines[definition.line - 1][definition.column :].startswith(("def", "async")):
        return False
    for line in lines[definition.end_line :]:
        code = line.lstrip(" \t")
        if code.strip() and not code.startswith("#"):
            return len(line) - len(code) <= definition.column
    return True


class _Makers:
    """Which functions make an engine or a registry, asked of one module's facts."""

    def __init__(self, facts: ModuleFacts, project: ProjectFacts) -> None:
        self.facts = facts
        self.triage = Triage(project)
        root = facts.root
        names = {name.rpartition(".")[2] for name in _MAKER_NAMES | project.extra_engines}
        # Imported or bound under another name (`from sqlalchemy import create_engine as ce`).
        names.update(local for local, target in facts.imports.items() if self._makes(target))
        names.update(
            name.rpartition(".")[2]
            for name in facts.bindings
            if self.triage.kinds(f"{facts.module}.{name}", root) & _MAKER_KINDS
        )
        self.words = frozenset(names)
        # The functions' facts by the line of their `def`, to find those within a span.
        self.by_line = sorted(facts.functions.values(), key=lambda function: function.line)
        self.lines = [function.line for function in self.by_line]

    def _makes(self, qualname: str) -> bool:
        return bool(self.triage.kinds(qualname, self.facts.root) & _MAKER_KINDS)

    def in_function(self, definition: Definition, lines: list[str]) -> bool:
        first, last = definition.first_line, definition.end_line
        if not self.words.isdisjoint(_WORD.findall("".join(lines[first - 1 : last]))):
            return True
        functions = self.by_line[
            bisect.bisect_left(self.lines, definition.line) : bisect.bisect_right(self.lines, last)
        ]
        if not any(f.line == definition.line for f in functions):
            return True  # facts that do not tell this function apart: keep it
        return any(self._makes(name) for function in functions for name in function.calls)


def _blank(definition: Definition, lines: list[str]) -> None:
    """The function's lines as blanks, its `def` line as `pass` at the same indentation (a
    class body keeps a statement): every line keeps its length."""
    for row in range(definition.first_line, definition.end_line + 1):
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        blank = " " * len(body)
        if row == definition.line:  # the indentation as written (tabs stay tabs)
            blank = (body[: definition.column] + "pass").ljust(len(body))
        lines[row - 1] = blank + line[len(body) :]
