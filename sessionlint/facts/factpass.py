"""The fact pass: which files are read for facts, in rounds, and their facts.

Facts come from the cache where a file is unchanged, from `ast` (in parallel) elsewhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import cast

from sessionlint.cache.store import Cache, CacheEntry, run_key
from sessionlint.facts.collect_values import relative_import_base
from sessionlint.facts.engine import Engine, _word_pattern
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.filestate import FileState, InternalError
from sessionlint.parallel import parallel_map
from sessionlint.read.sources import SourceFile
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.triage.triage import Triage, names_worth_following

# Bytes of source worth a worker of the fact pass: forking one and collecting its results
# costs tens of milliseconds, about what `ast` takes to read 100 KB into facts.
FACTS_BYTES_PER_WORKER = 128_000


def fact_pass(
    engine: Engine,
    sources: Sequence[SourceFile],
    explicit: set[str],
    cache: Cache | None = None,
    jobs: int | None = 1,
) -> tuple[list[FileState], FollowedNames]:
    """Facts for every file that can matter; the others are read, never parsed.

    A file matters when it mentions the vocabulary (SQLAlchemy, SQLModel, the configured
    names), or when it imports a module that matters and mentions one of the names of that
    module that lead to a trigger (a factory, a session dependency, an alias). Those get
    full facts. A module that only gets imported from by such files (a settings module
    holding the database URL, a package re-exporting names) cannot hold a finding itself:
    only its module-level names are collected (`ModuleFacts.shallow`), and it gets full
    facts if a later round finds that it matters after all. Rounds repeat until no new
    file is reached.
    """
    cache = cache or Cache.disabled()
    pending = list(sources)
    states: list[FileState] = []
    shallow: list[FileState] = []
    followed = FollowedNames()
    spelled = SpelledWords()
    wanted_modules: set[str] = set()
    first_round = True
    while pending or shallow:
        if first_round:
            full = [
                s
                for s in pending
                if s.display in explicit or engine.mentions_vocabulary(s) or engine.reviews_noqa(s)
            ]
            names_only: list[SourceFile] = []
        else:
            full = [s for s in pending if uses_followed(engine, s, followed, spelled)]
            full_ids = {id(s) for s in full}
            names_only = [
                s for s in pending if id(s) not in full_ids and _module_names(engine, s) & wanted_modules
            ]
            upgraded = [state for state in shallow if uses_followed(engine, state.source, followed, spelled)]
            if upgraded:
                upgraded_ids = {id(state) for state in upgraded}
                shallow = [state for state in shallow if id(state) not in upgraded_ids]
                states = [state for state in states if id(state) not in upgraded_ids]
                full += [state.source for state in upgraded]
        if not full and not names_only:
            break
        first_round = False
        reached = {id(s) for s in (*full, *names_only)}
        pending = [s for s in pending if id(s) not in reached]
        spelled.forget(full)
        # One pool for both kinds of reading: each fork of the run costs more than small rounds save.
        analyzed = analyze_all(engine, [*full, *names_only], cache, jobs, shallow_from=len(full))
        new_states, new_shallow = analyzed[: len(full)], analyzed[len(full) :]
        shallow += [state for state in new_shallow if state.facts is not None and state.facts.shallow]
        new_states += new_shallow
        states.extend(new_states)
        facts = [state.facts for state in new_states if state.facts is not None]
        triage = Triage(engine.build_project(states))
        for module in facts:
            names = names_worth_following(module, triage)
            if names:
                for name in (module.module, *module.alias_names):
                    followed.add(name, names)
        wanted_modules = {
            prefix for f in facts for target in f.import_targets() for prefix in _prefixes(target)
        }
    return states, followed


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import\b|import[ \t]+([\w.]+))", re.MULTILINE)


class FollowedNames:
    """Modules that matter and their names worth following, looked up by import target.

    An import of `app.db` relates to `app.db` itself, to its submodules (`import app`
    then `app.db.get_db`) and to its parent packages (`from app.db.session import ...`
    when `app.db` re-exports): each lookup walks the target's prefixes instead of every
    module, since a project can hold thousands of them.
    """

    def __init__(self) -> None:
        self.by_module: dict[str, set[str]] = {}
        self.below: dict[str, set[str]] = {}  # package -> names of the modules inside it

    def __bool__(self) -> bool:
        return bool(self.by_module)

    def add(self, module: str, names: set[str]) -> None:
        self.by_module.setdefault(module, set()).update(names)
        parts = module.split(".")
        for end in range(1, len(parts)):
            self.below.setdefault(".".join(parts[:end]), set()).update(names)

    def names_for(self, target: str) -> set[str]:
        names = set(self.by_module.get(target, ()))
        names |= self.below.get(target, set())
        parts = target.split(".")
        for end in range(1, len(parts)):
            names |= self.by_module.get(".".join(parts[:end]), set())
        return names


def uses_followed(
    engine: Engine, source: SourceFile, followed: FollowedNames, spelled: SpelledWords | None = None
) -> bool:
    """Imports a module that matters and mentions one of its names worth following."""
    if not followed:
        return False
    names: set[str] = set()
    for target in import_targets(engine, source):
        names |= followed.names_for(target)
    if not names:
        return False
    return (spelled or SpelledWords()).spells_any(source, frozenset(names))


_WORD = re.compile(rb"\w+")


class SpelledWords:
    """The words each file spells, read once for every round of the fact pass.

    A module's names worth following are hundreds on real applications; a regular
    expression of them all, searched in every pending file in every round, took longer than
    parsing the files. A word match (`\bname\b` in bytes) of an ASCII identifier is a whole
    run of word characters, so it is a look-up in the set of the file's runs; other names
    (dotted, non-ASCII) are still searched for with the pattern.
    """

    def __init__(self) -> None:
        self._words: dict[int, frozenset[bytes]] = {}

    def spells_any(self, source: SourceFile, names: frozenset[str]) -> bool:
        plain, other = _split_names(names)
        if plain:
            words = self._words.get(id(source))
            if words is None:
                words = self._words[id(source)] = frozenset(_WORD.findall(source.data))
            if not words.isdisjoint(plain):
                return True
        pattern = names_pattern(other) if other else None
        return pattern is not None and pattern.search(source.data) is not None

    def forget(self, sources: Sequence[SourceFile]) -> None:
        """Files read in full are never asked about again."""
        for source in sources:
            self._words.pop(id(source), None)


@functools.lru_cache(maxsize=4096)
def _split_names(names: frozenset[str]) -> tuple[frozenset[bytes], frozenset[str]]:
    plain = frozenset(name for name in names if name.isidentifier() and name.isascii())
    return frozenset(name.encode() for name in plain), names - plain


def reach_signatures(
    engine: Engine, sources: Sequence[SourceFile], explicit: set[str], followed: FollowedNames
) -> dict[str, str]:
    return {source.display: reach_signature(engine, source, explicit, followed) for source in sources}


def reach_signature(engine: Engine, source: SourceFile, explicit: set[str], followed: FollowedNames) -> str:
    """All the fact pass asks of a file's bytes to decide whether, and in which round, it
    reaches the file: named explicitly or mentioning the vocabulary, the modules it
    imports, and which of the names followed from those modules (at the end of the pass)
    it spells. A round follows a subset of those names, so two versions of a file with the
    same signature are reached alike in every round: with equal facts, the pass ends the same.
    """
    seeded = source.display in explicit or engine.mentions_vocabulary(source)
    # Apart from `seeded`: whether SL100 checks the file is also the triage's answer.
    noqa = engine.reviews_noqa(source)
    targets = import_targets(engine, source)
    names: set[str] = set()
    for target in targets:
        names |= followed.names_for(target)
    return run_key([str(seeded), str(noqa), *targets, "", *sorted(_spelled(names, source.data))])


def _spelled(names: set[str], data: bytes) -> set[str]:
    """The names `data` spells as whole words: whether a round's pattern (some of these
    names) matches is whether one of its names does."""
    plain = frozenset(name for name in names if name.isidentifier() and name.isascii())
    # A word match of an ASCII identifier is a whole run of word characters, so the runs
    # the file holds answer for all of them at once (a pattern of hundreds of names cost
    # more to compile than the scan). A dotted name, or one with bytes the pattern's `\b`
    # does not count as word characters, could hide inside another match: looked for alone.
    found = {word.decode() for word in set(_WORD.findall(data)) & {name.encode() for name in plain}}
    return found | {
        name for name in names - plain if names_pattern(frozenset([name])).search(data) is not None
    }


@functools.lru_cache(maxsize=4096)
def names_pattern(names: frozenset[str]) -> re.Pattern[bytes] | None:
    return _word_pattern(names)


def import_targets(engine: Engine, source: SourceFile) -> list[str]:
    """The absolute module names a file's import statements name (read from the bytes)."""
    if source.import_targets is None:
        identity = engine.identity(source)
        name, is_package = identity.name, identity.is_package
        targets = []
        for dots, module, plain in _IMPORT.findall(source.data):
            if plain:
                targets.append(plain.decode("ascii", "replace"))
                continue
            relative = module.decode("ascii", "replace")
            if dots:
                base = relative_import_base(name, is_package, len(dots))
                if base is None:
                    continue
                relative = f"{base}.{relative}" if base and relative else base or relative
            targets.append(relative)
        source.import_targets = targets
    return source.import_targets


def analyze_all(
    engine: Engine,
    sources: list[SourceFile],
    cache: Cache,
    jobs: int | None,
    *,
    shallow: bool = False,
    shallow_from: int | None = None,
) -> list[FileState]:
    """Facts from the cache where the file is unchanged, from the fact pass elsewhere, one
    state per source, in order (`shallow`: module-level names are enough; `shallow_from`:
    for the sources from that index on)."""
    states: list[FileState | None] = []
    misses: list[int] = []
    first_shallow = 0 if shallow else len(sources) if shallow_from is None else shallow_from
    for index, source in enumerate(sources):
        entry = cache.get(cache_key(source), source.digest, engine.identity(source))
        if entry is not None and entry.facts is not None and entry.facts.shallow != (index >= first_shallow):
            # Read the file again for the facts wanted: full facts where a run from scratch
            # reads names only would tell other files (and the triage) more than it knows.
            entry = None
        if entry is None:
            misses.append(index)
            states.append(None)
        else:
            if entry.facts is not None and entry.facts.path != source.display:
                # Cached by a run from another working folder: the path as this run prints it
                # (evidence cites other modules by it).
                entry.facts.path = source.display
            states.append(FileState(source, facts=entry.facts, error=entry.error, cached=entry))

    def analyze(index: int) -> tuple[ModuleFacts | None, Diagnostic | None, InternalError | None]:
        state = engine.analyze(sources[index], shallow=index >= first_shallow)
        return state.facts, state.error, state.internal_error

    sizes = [len(sources[index].data) for index in misses]
    analyzed = parallel_map(analyze, misses, jobs, sizes=sizes, min_size_per_worker=FACTS_BYTES_PER_WORKER)
    for index, (facts, error, crash) in zip(misses, analyzed):
        source = sources[index]
        if crash is not None:  # never cached: the next run tries again
            states[index] = FileState(source, internal_error=crash)
            continue
        entry = CacheEntry(source.digest, engine.identity(source), facts, error)
        cache.put(cache_key(source), entry)
        states[index] = FileState(source, facts=facts, error=error, cached=entry)
    assert all(state is not None for state in states)
    return cast("list[FileState]", states)


def cache_key(source: SourceFile) -> str:
    return str(source.path.absolute()) if source.path is not None else source.display


def _module_names(engine: Engine, source: SourceFile) -> set[str]:
    identity = engine.identity(source)
    return {identity.name, *identity.aliases}


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
