"""What a qualified name refers to: modules found by source root, imports and re-exports
followed, each name resolved once per run.

Names in a module's facts are written as that module would import them: an absolute
import `app.db.get_db` means the `app.db` of the importing module's own source roots
first (see `roots`). A name found under none of them may be a module under another root
(a shared library folder): it is that module when exactly one has the name, and
*ambiguous* when several do (`app.db` of two services, seen from a third root). An
ambiguous name resolves to nothing, but `Ambiguous` keeps what it could be: the project
then knows that those functions may have callers it cannot see (`ProjectFacts.callers_known`).
A library name (`sqlalchemy.orm`) is the library's unless a module of the importing
file's own roots has it: a project package elsewhere does not shadow it.

Resolution is memoized per (root, name), with cycle detection: a name whose resolution
reaches itself again names nothing (Python could not import it either), so re-export
chains, star-free import cycles and packages rebinding their submodules' names cost one
step per name, not one per path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Union

from sessionlint.discover.roots import ModuleIdentity
from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import FunctionFacts, ModuleFacts

# Past this many dotted parts a name is a runaway of package rebindings, never real code.
_MAX_PARTS = 32
# Past this many names being resolved inside one another, the chain is a fan of star
# imports between a package and its submodules (each asking the others for a name none
# defines), never a real re-export chain: the name is unknown (None), which no rule reads
# as evidence. Without it such a fan recurses past Python's stack.
_MAX_NESTING = 120


@dataclass(frozen=True)
class External:
    qualname: str


@dataclass(frozen=True)
class Binding:
    module: ModuleFacts
    name: str
    rest: tuple[str, ...]


@dataclass(frozen=True)
class Function:
    module: ModuleFacts
    facts: FunctionFacts
    rest: tuple[str, ...] = ()


Target = Union[External, Binding, Function, None]
FunctionRef = tuple[str, str]  # (module key, function qualname): see `ModuleFacts.key`


@dataclass(frozen=True)
class Ambiguous:
    """A name several project modules could be: it resolves to none of `targets`."""

    targets: tuple[Target, ...]


@dataclass(frozen=True)
class _SeveralModules:
    keys: tuple[str, ...]


Found = Union[str, _SeveralModules, None]
Lookup = tuple[str, str]  # (root searched from, module name)
_Key = tuple[str, str]  # (root resolved from, qualified name)


class ModuleIndex:
    """Module keys by (root, name) and by name alone, and the roots each root searches."""

    def __init__(self, identities: Iterable[tuple[str, ModuleIdentity]]) -> None:
        self.by_root_name: dict[tuple[str, str], str] = {}
        self.by_name: dict[str, set[str]] = {}
        self.tops: dict[str, set[str]] = {}
        search: dict[str, dict[str, None]] = {}
        for key, identity in identities:
            for root, name in ((identity.root, identity.name), *identity.others):
                self.by_root_name.setdefault((root, name), key)
                self.by_name.setdefault(name, set()).add(key)
                self.tops.setdefault(root, set()).add(name.partition(".")[0])
            search.setdefault(identity.root, {}).update(dict.fromkeys(identity.roots))
        # A script in `scripts/` beside a package `app/` imports it from the folder holding
        # both (run as `python -m scripts.seed` there): the root of another module's package
        # above a module's own roots is searched too, after them.
        for root, roots in search.items():
            roots.update(dict.fromkeys(_ancestors_among(root, search)))
        self.search_roots = {root: tuple(roots) for root, roots in search.items()}

    def find(self, name: str, root: str) -> Found:
        """The module `name` is, imported from a module whose source root is `root`."""
        roots = self.search_roots.get(root, (root,))
        for searched in roots:
            key = self.by_root_name.get((searched, name))
            if key is not None:
                return key
        top = name.partition(".")[0]
        if top in _LIBRARY_TOPS or any(top in self.tops.get(searched, ()) for searched in roots):
            # A library, or a package of the importer's own roots: not another root's module.
            return None
        keys = self.by_name.get(name)
        if not keys:
            return None
        return next(iter(keys)) if len(keys) == 1 else _SeveralModules(tuple(sorted(keys)))


def _ancestors_among(folder: str, roots: Mapping[str, object]) -> list[str]:
    """The folders above `folder` (deepest first) that are among `roots`."""
    found = []
    current = os.path.dirname(folder)
    while current and current != folder:
        if current in roots:
            found.append(current)
        folder, current = current, os.path.dirname(current)
    return found


def _library_tops() -> frozenset[str]:
    names: set[str] = set(vocab.VOCABULARY_ROOTS)
    for value in vars(vocab).values():
        if isinstance(value, frozenset):
            names.update(item.partition(".")[0] for item in value if isinstance(item, str) and "." in item)
    return frozenset(names)


_LIBRARY_TOPS = _library_tops()


class Resolver:
    """Resolves qualified names over the modules of one project (see the module's docstring).

    Every memoized result keeps the module lookups it made itself and the names it resolved
    on the way (links to their entries, not copies of their lookups: a copy per entry is
    quadratic in a large project's re-export chains). While a file's check is recorded
    (`lookups`), reusing a result notes its lookups and, once per file, those of every entry
    it links to, so the file records every module its findings read even where another
    file's check resolved the name first.
    """

    def __init__(
        self, modules: Mapping[str, ModuleFacts], index: ModuleIndex, externals: frozenset[str]
    ) -> None:
        self.modules = modules
        self.index = index
        self.externals = externals
        self.steps = 0  # resolutions computed (not answered from the memo): linear in names
        self._lookups: dict[Lookup, str | None] | None = None
        self._memo: dict[_Key, tuple[Target | Ambiguous, tuple[Lookup, ...], tuple[_Key, ...]]] = {}
        self._active: set[_Key] = set()
        # The resolution being computed: its own lookups and the names it resolved.
        self._frame: tuple[list[Lookup], list[_Key]] | None = None
        self._noted: set[_Key] = set()  # entries whose lookups this recording holds already

    @property
    def lookups(self) -> dict[Lookup, str | None] | None:
        return self._lookups

    @lookups.setter
    def lookups(self, value: dict[Lookup, str | None] | None) -> None:
        self._lookups = value
        self._noted = set()

    def resolve(self, qualname: str, root: str) -> Target | Ambiguous:
        if qualname in self.externals:
            return External(qualname)
        key = (root, qualname)
        entry = self._memo.get(key)
        if entry is None:
            if key in self._active or len(self._active) >= _MAX_NESTING:
                return None  # a cycle (the name is defined nowhere along it), or a runaway fan
            self.steps += 1
            self._active.add(key)
            outer, self._frame = self._frame, ([], [])
            try:
                target = self._resolve(qualname, root)
            finally:
                lookups, children = self._frame
                self._frame = outer
                self._active.discard(key)
            entry = self._memo[key] = (target, tuple(dict.fromkeys(lookups)), tuple(dict.fromkeys(children)))
        if self._frame is not None:
            self._frame[1].append(key)
        if self._lookups is not None:
            self._note_entry(key)
        return entry[0]

    def _note_entry(self, key: _Key) -> None:
        """Record the lookups of a memoized result and of every result it links to."""
        lookups = self._lookups
        assert lookups is not None
        stack = [key]
        while stack:
            current = stack.pop()
            if current in self._noted:
                continue
            self._noted.add(current)
            entry = self._memo.get(current)
            if entry is None:
                continue  # still being computed (a cycle): its lookups are noted as made
            for lookup in entry[1]:
                if lookup not in lookups:
                    lookups[lookup] = self.token(lookup)
            stack.extend(entry[2])

    def find(self, name: str, root: str) -> ModuleFacts | None:
        """The module `name` names from `root` (None when none, or when ambiguous)."""
        self._note_one((root, name))
        found = self.index.find(name, root)
        return self.modules[found] if isinstance(found, str) else None

    def token(self, lookup: Lookup) -> str | None:
        """What a lookup found, as the cache compares it: a digest, several, or None."""
        found = self.index.find(lookup[1], lookup[0])
        if isinstance(found, str):
            return self.modules[found].digest
        if isinstance(found, _SeveralModules):
            return "ambiguous:" + ",".join(self.modules[key].digest for key in found.keys)
        return None

    def _note_one(self, lookup: Lookup) -> None:
        if self._frame is not None:
            self._frame[0].append(lookup)
        if self._lookups is not None and lookup not in self._lookups:
            self._lookups[lookup] = self.token(lookup)

    def _resolve(self, qualname: str, root: str) -> Target | Ambiguous:
        parts = qualname.split(".")
        if len(parts) > _MAX_PARTS:
            return None
        for split in range(len(parts), 0, -1):
            name = ".".join(parts[:split])
            self._note_one((root, name))
            found = self.index.find(name, root)
            if found is None:
                continue
            rest = tuple(parts[split:])
            if isinstance(found, _SeveralModules):
                return _ambiguous(self._resolve_in(self.modules[key], rest) for key in found.keys)
            target = self._resolve_in(self.modules[found], rest)
            if target is None:
                package = self._package_rebinding(name, root)
                if package is not None:
                    # `from .session import session` in `pkg/__init__.py`: the attribute
                    # `pkg.session` is that object, not the submodule it came from.
                    return self._resolve_in(package, tuple(parts[split - 1 :]))
            return target
        return External(qualname)

    def _package_rebinding(self, module_name: str, root: str) -> ModuleFacts | None:
        """The package whose `__init__` binds the name of its submodule `module_name`."""
        package_name, _, name = module_name.rpartition(".")
        package = self.find(package_name, root) if package_name else None
        if package is None or not package.is_package:
            return None
        if name in package.imports:
            return package if package.imports[name] != module_name else None
        return package if name in package.bindings or name in package.functions else None

    def _resolve_in(self, module: ModuleFacts, rest: tuple[str, ...]) -> Target | Ambiguous:
        if not rest:
            return None
        name = rest[0]
        if len(rest) >= 2 and f"{name}.{rest[1]}" in module.bindings:
            return Binding(module, f"{name}.{rest[1]}", rest[2:])
        if name in module.imports:
            return self.resolve(".".join((module.imports[name], *rest[1:])), module.root)
        if name in module.bindings:
            return Binding(module, name, rest[1:])
        for length in range(len(rest), 0, -1):
            function = module.functions.get(".".join(rest[:length]))
            if function is not None:
                return Function(module, function, rest[length:])
        if name.startswith("_") or name in module.definitions:
            return None  # not brought in by `import *`, or defined here and not recorded
        # The last `import *` that has the name wins, as at run time. Only the name itself is
        # looked up in the source (one memo entry per source and name): its attributes are
        # then looked up on what it is, so no longer names are ever built (a package
        # star-importing its submodules, which import from the package, would otherwise
        # build ever longer names, one memo entry each).
        for source in reversed(module.star_imports):
            target = self.resolve(f"{source}.{name}", module.root)
            if target is not None and (not isinstance(target, External) or target.qualname in self.externals):
                return self._attribute_of(
                    target, rest[1:]
                )  # a library's name counts only where the rules know it
        return None

    def _attribute_of(self, target: Target | Ambiguous, rest: tuple[str, ...]) -> Target | Ambiguous:
        """`rest` looked up on what `target` is."""
        if not rest or target is None:
            return target
        if isinstance(target, External):
            return External(".".join((target.qualname, *rest)))
        if isinstance(target, Ambiguous):
            return _ambiguous(self._attribute_of(option, rest) for option in target.targets)
        if isinstance(target, Binding):
            return self._resolve_in(target.module, (*target.name.split("."), *target.rest, *rest))
        return self._resolve_in(target.module, (*target.facts.qualname.split("."), *target.rest, *rest))


def _ambiguous(targets: Iterable[Target | Ambiguous]) -> Ambiguous:
    flat: list[Target] = []
    for target in targets:
        if isinstance(target, Ambiguous):
            flat += target.targets
        elif target is not None:
            flat.append(target)
    return Ambiguous(tuple(flat))
