"""Which other modules could name a global of one module: asked before an edit of a buffer
keeps every other file's findings (`quickedit`).

Another module's findings rest on a global `x` of `app.db` only through what the project
index resolves from it (`resolution.py`), and the resolver reaches a module's globals only
through imports: written names are followed into what a module imports (`m.store.x`, with
`from app import db as store` in `m`, is `app.db.x`), into its star imports, and into a
package's names. So a module names `x` of `app.db` only if it spells `x` and

- imports the module or a name from it (`from app.db import x`, `from app import db`);
- or imports a package above it (`import app`) and spells each attribute on the way down
  (`db`, or a name of the package that holds the module or a package below);
- or imports, or holds itself, a name that holds one of those: an import of the module or
  of a package above it, a binding to it (`store = db`), a star import of them.

A re-export under another name spells `x` in the module re-exporting it, which imports
`app.db`. A function's result or an attribute of a call is never looked into: a name under
one resolves to nothing, whatever module it returns. Every test here over-approximates
(a word spelled anywhere in a file, a star import holding all a package may hold), so
a file it clears cannot reach the names, whatever its expressions are.

A file the fact pass did not read has no facts: nothing resolves through it, and no
findings of its own rest on the project.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator

from sessionlint.facts.facts import ModuleFacts, Ref
from sessionlint.read.sources import SourceFile

__all__ = ["may_name", "spelled_by"]


def may_name(
    modules: Iterable[ModuleFacts],
    target: Collection[ModuleFacts],
    names: Collection[str],
    others: Iterable[SourceFile],
) -> bool:
    """Whether a file of `others` whose facts are among `modules` could name one of the
    module-level `names` of the module `target` holds (its facts before and after an edit:
    either may be what other modules hold)."""
    words = _parts(names)
    modules = list(modules)
    by_path = {facts.path: facts for facts in modules}
    readers = [
        (by_path[source.display], spelling)
        for source in others
        if source.display in by_path
        and any(word in source.data for word in words)
        and any((spelling := Spelling(source.data)).spells(word) for word in words)
    ]
    if not readers:
        return False
    own = {name for facts in target for name in (facts.module, *facts.alias_names)}
    if any(_imports_from(facts, own) for facts, _ in readers):
        return True  # the common case, answered before the holders are worked out
    holders = Holders([*modules, *target], own)
    return any(holders.reaches(facts, spelling) for facts, spelling in readers)


def spelled_by(names: Collection[str], sources: Iterable[SourceFile]) -> bool:
    """Whether a file spells one of `names` (a part of one, for a dotted name) as a word."""
    words = _parts(names)
    return any(
        any(word in source.data for word in words)
        and any(Spelling(source.data).spells(word) for word in words)
        for source in sources
    )


class Spelling:
    """Whether a file spells a word: not inside a longer run of word characters (a byte
    outside ASCII counts as none, so a word may be found inside a longer name: more
    answers, never fewer)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._known: dict[bytes, bool] = {}

    def spells(self, word: bytes) -> bool:
        known = self._known.get(word)
        if known is None:
            known = self._known[word] = self._find(word)
        return known

    def _find(self, word: bytes) -> bool:
        data, size = self.data, len(word)
        start = data.find(word)
        while start != -1:
            if not _is_word(data[start - 1 : start]) and not _is_word(data[start + size : start + size + 1]):
                return True
            start = data.find(word, start + 1)
        return False


class Holders:
    """The names (`module.name`) that may hold the target module, or a package above it, as
    the resolver follows them (`_named_globals`, star imports); `reaches` asks whether a
    module could name the target's globals."""

    def __init__(self, modules: list[ModuleFacts], names: set[str]) -> None:
        self.names = names
        # The target's name and its packages': each maps to the next parts of names below it.
        self.below: dict[str, set[str]] = {}
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts)):
                self.below.setdefault(".".join(parts[:end]), set()).add(parts[end])
        self.holds: dict[str, set[str]] = {}
        self._fill(modules)
        self._children: dict[str, list[str]] | None = None

    def _fill(self, modules: list[ModuleFacts]) -> None:
        """Every holder, by a work list: a name's holdings grow only when the target or a
        package above it is its own, or when a name it goes through (or the source of a
        star import) grows."""
        module_names = [(facts, (facts.module, *facts.alias_names)) for facts in modules]
        tops = {name.partition(".")[0] for _, names in module_names for name in names}
        # The globals of the project standing for names of the project, by those names.
        self._standing: list[tuple[str, str]] = []
        stars: dict[str, list[str]] = {}  # a module -> the modules star-importing it
        queue: list[str] = []
        for facts, names in module_names:
            for prefix in names:
                for source in facts.star_imports:
                    stars.setdefault(source, []).append(prefix)
                for name, dotted in _named_globals(facts):
                    if dotted.partition(".")[0] in tops:
                        self._standing.append((dotted, f"{prefix}.{name}"))
                        if dotted in self.names or dotted in self.below:
                            queue += self._add(f"{prefix}.{name}", {dotted})
        self._standing.sort()
        for source, importers in stars.items():
            for prefix in importers:
                queue += self._star(prefix, source)
        while queue:
            key = queue.pop()
            module, _, attribute = key.rpartition(".")
            for dotted, name in self._under(module if attribute == "*" else key):
                queue += self._add(name, self.held(dotted))
            for prefix in stars.get(module, ()):
                queue += self._add(f"{prefix}.{attribute}", self.holds[key])

    def _under(self, name: str) -> list[tuple[str, str]]:
        """The globals standing for `name` or a name under it."""
        found = []
        index = bisect.bisect_left(self._standing, (name,))
        while index < len(self._standing):
            dotted, key = self._standing[index]
            if not dotted.startswith(name):
                break
            if len(dotted) == len(name) or dotted[len(name)] == ".":
                found.append((dotted, key))
            index += 1
        return found

    def _star(self, prefix: str, source: str) -> list[str]:
        """`from source import *` in the module `prefix`: the submodules of a package above
        the target (a package's names may be its submodules), the target's own names."""
        grown = []
        for part in self.below.get(source, ()):
            grown += self._add(f"{prefix}.{part}", {f"{source}.{part}"})
        if source in self.names:
            grown += self._add(f"{prefix}.*", {source})
        return grown

    def _add(self, name: str, held: set[str]) -> list[str]:
        """`name` holds `held` too: [name] if that is new, else []."""
        if not held:
            return []
        have = self.holds.setdefault(name, set())
        if held <= have:
            return []
        have |= held
        return [name]

    def held(self, dotted: str) -> set[str]:
        """What the dotted name may stand for or hold of the target and its packages."""
        found = {dotted} if dotted in self.names or dotted in self.below else set()
        for name in _prefixes(dotted):
            found |= self.holds.get(name, set()) | self.holds.get(f"{name}.*", set())
        return found

    def reaches(self, facts: ModuleFacts, spelling: Spelling) -> bool:
        """Whether the module of `facts` could name a global of the target through its
        imports or what its own globals hold (see the module docstring)."""
        held: set[str] = set()
        for prefix in (facts.module, *facts.alias_names):
            held |= self.held(prefix)
            start = f"{prefix}."
            held = held.union(*(names for name, names in self.holds.items() if name.startswith(start)))
        if _imports_from(facts, self.names):
            return True
        for dotted in (*facts.import_targets(), *facts.star_imports):
            held |= self.held(dotted)
        return any(self._leads_down(name, spelling) for name in held)

    def _leads_down(self, start: str, spelling: Spelling) -> bool:
        """Whether attributes the file spells lead from `start` (the target or a package
        above it) down to the target: its submodules' names, or names in a package that
        hold the target or a package above it (any name, for a star import's)."""
        if self._children is None:
            self._children = {}
            for name in self.holds:
                self._children.setdefault(name.rpartition(".")[0], []).append(name)
        seen: set[str] = set()
        stack = [start]
        while stack:
            name = stack.pop()
            if name in self.names:
                return True
            if name in seen:
                continue
            seen.add(name)
            stack += [f"{name}.{part}" for part in self.below.get(name, ()) if spelling.spells(part.encode())]
            for key in self._children.get(name, ()):
                attribute = key.rpartition(".")[2]
                if attribute == "*" or spelling.spells(attribute.encode()):
                    stack += self.holds[key]
        return False


def _imports_from(facts: ModuleFacts, names: set[str]) -> bool:
    """The module imports one of the modules `names`, or a name from one."""
    return any(
        dotted == name or dotted.startswith(name + ".")
        for dotted in (*facts.import_targets(), *facts.star_imports)
        for name in names
    )


def _named_globals(facts: ModuleFacts) -> Iterator[tuple[str, str]]:
    """The module's globals through which the resolver reaches further, each with the
    dotted name it stands for: its imports (`Resolver._resolve_in` follows `m.x.y` into what
    `x` imports), and bindings to a name (`store = db`: aliases, followed without an
    attribute, taken here with any). A function's result or a binding's call are never
    looked into: a name under them resolves to nothing."""
    for name, target in facts.imports.items():
        yield name, target
    for name, value in facts.bindings.items():
        if isinstance(value, Ref):
            yield name, value.qualname


def _parts(names: Collection[str]) -> set[bytes]:
    return {part.encode() for name in names for part in name.split(".")}


def _is_word(byte: bytes) -> bool:
    return byte.isalnum() or byte == b"_"


def _prefixes(dotted: str) -> Iterator[str]:
    end = dotted.find(".")
    while end != -1:
        yield dotted[:end]
        end = dotted.find(".", end + 1)
    yield dotted
