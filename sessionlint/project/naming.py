"""Which other modules could name a global of one module: asked before an edit of a buffer
keeps every other file's findings (`quickedit`).

Another module's findings rest on a global `x` of `app.db` only through what the project
index resolves from it (`resolution.py`), and the resolver reaches a module's globals only
through imports: written names are followed into what a module imports (`m.store.x`, with
`from app import db as store` in `m`, is `app.db.x`), into its star imports, into a
package's names. So a module names `x` of `app.db` only if it spells `x`, and from one of
its imports, star imports or own globals, down attributes it spells (a submodule, a
module's global, the next part of the module's name), it comes to `app.db` or a name in it
(`Holders`: what each global of the project may stand for of `app.db`, a package above it
or a name in it, through imports, bindings to a name, star imports, the rest of a dotted
name after a global included).

A re-export under another name spells `x` in the module re-exporting it, which imports
`app.db`. A function's result or an attribute of a call is never looked into: a name under
one resolves to nothing, whatever module it returns. Every test here over-approximates (a
word spelled anywhere in a file, a star import standing for every name it may give), so a
file it clears cannot reach the names, whatever its expressions are.

The same holders tell which of the module's own globals its facts name through another
module (`store.x` in `app.db` itself): those read the same after an edit and may mean
something else. A file the fact pass did not read has no facts: nothing resolves through
it, and no findings of its own rest on the project. A file whose module another file is
too (a stub beside it) is asked with its own facts.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator

from sessionlint.facts.factpass import _prefixes
from sessionlint.facts.facts import ModuleFacts, Ref
from sessionlint.read.sources import SourceFile

__all__ = ["Naming", "spelled_by"]

# As the resolver (`resolution._MAX_PARTS`): past this many parts a name is a runaway.
_MAX_PARTS = 32
# Past this many names one name may stand for, globals stand for attributes of one another
# in a loop: the answers are then the safe ones (could name, reads its own globals).
_MAX_EXPANSIONS = 512


# The last holders worked out, with what they were worked out from (`Naming.holders`).
_LAST: tuple[tuple[object, ...], tuple[ModuleFacts, ...], Holders] | None = None


def _standing_of(
    target: Collection[ModuleFacts], modules: Iterable[ModuleFacts]
) -> frozenset[tuple[str, ...]]:
    """What the target's own globals and star imports stand for among the project's names
    (its part in the holders: a library's names are none of it)."""
    tops = {name.partition(".")[0] for facts in modules for name in (facts.module, *facts.alias_names)}
    return frozenset(
        (facts.module, *facts.alias_names, name, dotted)
        for facts in target
        for name, dotted in (*_named_globals(facts), *(("*", source) for source in facts.star_imports))
        if dotted.partition(".")[0] in tops
    )


class Naming:
    """Who could name the globals of one module (the buffer's: its facts before and after an
    edit, either of which other modules may hold), over the facts of every file read."""

    def __init__(self, modules: Iterable[ModuleFacts], target: Collection[ModuleFacts]) -> None:
        unique = {id(facts): facts for facts in (*modules, *target)}
        self.modules = list(unique.values())
        self.target = tuple(target)
        self.names = {name for facts in target for name in (facts.module, *facts.alias_names)}
        self._holders: Holders | None = None

    @property
    def holders(self) -> Holders:
        """Worked out once per project: an editor's edits of one buffer that leave what its
        globals stand for as it was (a constant, a body, an import of a library) find the
        last edit's holders again."""
        if self._holders is None:
            global _LAST
            others = tuple(facts for facts in self.modules if all(facts is not own for own in self.target))
            key = (frozenset(self.names), tuple(map(id, others)), _standing_of(self.target, self.modules))
            if _LAST is not None and _LAST[0] == key:
                self._holders = _LAST[2]
            else:
                self._holders = Holders(self.modules, self.names)
                _LAST = (key, others, self._holders)  # the facts kept: their ids stay theirs
        return self._holders

    def may_name(self, names: Collection[str], others: Iterable[SourceFile]) -> bool:
        """Whether a file of `others` could name one of the module-level `names`."""
        words = _parts(names)
        by_path: dict[str, list[ModuleFacts]] = {}
        for facts in self.modules:
            by_path.setdefault(facts.path, []).append(facts)
        readers = [
            (facts, spelling)
            for source in others
            if source.display in by_path
            and any(word in source.data for word in words)
            and any((spelling := Spelling(source.data)).spells(word) for word in words)
            for facts in by_path[source.display]
        ]
        if not readers:
            return False
        if any(_imports_from(facts, self.names) for facts, _ in readers):
            return True  # the common case, answered before the holders are worked out
        return any(self.holders.reaches(facts, spelling) for facts, spelling in readers)

    def own_globals_read(self, facts: ModuleFacts) -> set[str]:
        """The module's own globals its references name through another module (`store.x`,
        with `from app.hub import store` holding this module): as `m.x` does, facts that
        read the same then mean something else when `x` changes."""
        found = set()
        for reference in facts.referenced:
            for name in self.holders.expand(reference):
                for own in self.names:
                    if name.startswith(own + "."):
                        found.update(_prefixes(name[len(own) + 1 :]))
        return found


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
    """What each global of the project may stand for of the target module: the target, a
    package above it or a name in it (`expand`). Globals are looked up as the resolver
    follows them (`_named_globals`), `Z.*` stands for every name a star import gives `Z`;
    `reaches` asks whether a module could name the target's globals."""

    def __init__(self, modules: list[ModuleFacts], names: set[str]) -> None:
        self.names = names
        # The target's name and its packages': each maps to the next parts of names below it.
        self.below: dict[str, set[str]] = {}
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts)):
                self.below.setdefault(".".join(parts[:end]), set()).add(parts[end])
        self.module_names = {name for facts in modules for name in (facts.module, *facts.alias_names)}
        self.holds: dict[str, set[str]] = {}
        self._bearing: set[str] = set()  # names under which a global holds something
        self.gave_up = False  # an expansion ran past `_MAX_EXPANSIONS`
        self._fill(modules)
        self._children: dict[str, set[str]] | None = None

    def expand(self, dotted: str) -> set[str]:
        """What `dotted` may stand for of the target, a package above it or a name in it,
        and the names under which globals holding those stand (`p.c` for `p.c.h`, holding
        the target): itself, then what a global (or a star import) it starts with holds,
        followed by the rest, again and again. A name in the target is cut after two parts
        (`m.Class.attr`): what a global holds stays finite when it stands for an attribute
        of itself."""
        found: set[str] = set()
        seen: set[str] = set()
        stack = [dotted]
        while stack:
            name = stack.pop()
            if name in seen or name.count(".") > _MAX_PARTS:
                continue
            if len(seen) == _MAX_EXPANSIONS:
                # Globals standing for attributes of one another: taken to be the target.
                self.gave_up = True
                return found | self.names
            seen.add(name)
            if self._keep(name, found):
                continue
            if name in self._bearing:
                found.add(name)
            end = name.find(".")
            while True:
                head, rest = (name, "") if end == -1 else (name[:end], name[end:])
                stack += [held + rest for held in self.holds.get(head, ())]
                if rest:
                    stack += [held + rest for held in self.holds.get(head + ".*", ())]
                if end == -1:
                    break
                end = name.find(".", end + 1)
        return found

    def _keep(self, name: str, found: set[str]) -> bool:
        """`name` into `found` if it is the target, a package above it or a name in it."""
        if name in self.names or name in self.below:
            found.add(name)
            return True
        for own in self.names:
            if name.startswith(own + "."):
                found.add(".".join(name.split(".")[: own.count(".") + 3]))
                return True
        return False

    def _fill(self, modules: list[ModuleFacts]) -> None:
        """Every global's holdings, by a work list: they grow only when what the global
        stands for leads to the target, or a global it goes through (or a star import's
        source) grows; all again while new names come to hold globals that lead to it."""
        tops = {name.partition(".")[0] for name in self.module_names}
        # The globals of the project standing for names of the project, by those names.
        self._standing: list[tuple[str, str]] = []
        self._stars: list[tuple[str, str]] = []  # (source, the module star-importing it)
        for facts in modules:
            for prefix in (facts.module, *facts.alias_names):
                self._stars += [(source, prefix) for source in facts.star_imports]
                for name, dotted in _named_globals(facts):
                    if dotted.partition(".")[0] in tops:
                        self._standing.append((dotted, f"{prefix}.{name}"))
        self._standing.sort()
        grown = True
        while grown:
            bearing = len(self._bearing)
            queue = [key for dotted, key in self._standing for key in self._add(key, self.expand(dotted))]
            queue += [
                key for source, prefix in self._stars for key in self._add(f"{prefix}.*", self.expand(source))
            ]
            self._drain(queue)
            grown = len(self._bearing) > bearing

    def _drain(self, queue: list[str]) -> None:
        while queue:
            key = queue.pop()
            module, _, attribute = key.rpartition(".")
            under = module if attribute == "*" else key
            for dotted, name in _under(self._standing, under):
                queue += self._add(name, self.expand(dotted))
            for source, prefix in self._stars:
                if source == module:  # a star import copies every name of its source
                    queue += self._add(f"{prefix}.{attribute}", self.holds[key])
                if source == under or source.startswith(under + "."):
                    queue += self._add(f"{prefix}.*", self.expand(source))

    def _add(self, name: str, held: set[str]) -> list[str]:
        """`name` holds `held` too: [name] if that is new, else []."""
        if not held:
            return []
        have = self.holds.get(name)
        if have is None:
            have = self.holds[name] = set()
            self._bearing.update(_prefixes(name.rpartition(".")[0]))
        if held <= have:
            return []
        have |= held
        return [name]

    def reaches(self, facts: ModuleFacts, spelling: Spelling) -> bool:
        """Whether the module of `facts`, which spells what `spelling` finds, could name a
        global of the target: from an import, a star import or its own globals, down the
        attributes it spells (see the module docstring)."""
        if _imports_from(facts, self.names):
            return True
        starts = {*facts.import_targets(), *facts.star_imports, facts.module, *facts.alias_names}
        return any(self._leads_down(start, spelling) for start in starts)

    def _leads_down(self, start: str, spelling: Spelling) -> bool:
        """Whether `start`, then attributes the file spells (a submodule, a global of a
        module, the next part of the target's name), lead to the target or a name in it."""
        if self._children is None:
            self._children = {}
            for name in (*self.holds, *self.module_names):
                if not name.endswith(".*"):
                    self._children.setdefault(name.rpartition(".")[0], set()).add(name)
        seen: set[str] = set()
        stack = [start]
        while stack:
            name = stack.pop()
            if name in self.names or any(name.startswith(own + ".") for own in self.names):
                return True
            if name in seen:
                continue
            seen.add(name)
            stack += self.expand(name)
            stack += self.holds.get(f"{name}.*", ())  # any attribute: no spelling to ask for
            stack += [f"{name}.{part}" for part in self.below.get(name, ()) if spelling.spells(part.encode())]
            stack += [
                child
                for child in self._children.get(name, ())
                if spelling.spells(child.rpartition(".")[2].encode())
            ]
        return False


def _under(standing: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The globals in `standing` (sorted) standing for `name` or a name under it."""
    found = []
    index = bisect.bisect_left(standing, (name,))
    while index < len(standing):
        dotted, key = standing[index]
        if not dotted.startswith(name):
            break
        if len(dotted) == len(name) or dotted[len(name)] == ".":
            found.append((dotted, key))
        index += 1
    return found


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
