"""An edit of one buffer answered from that buffer alone, when no other file can see it.

`Workspace.update` re-runs the fact pass over every file, rebuilds the project index and
re-triages every file: seconds on an application of a thousand files, where an editor wants
the buffer's findings in a tenth of that. Most edits change nothing another file can see:
a statement inside an endpoint, a new module-level constant. `quick_edit` decides that from
the buffer's old and new bytes and facts, and then the workspace only swaps the buffer's
facts into the index and checks the buffer again. Everything it cannot prove falls back to
the full update (None), so the answers stay those of a workspace built from scratch:

- the fact pass reaches the file alike (`factpass.reach_signature`: same seeding, same
  imports, same followed names spelled), and reads it the same way (full or names only);
- its facts differ only in module-level names (bindings, definitions) and functions whose
  interface (parameters, decorators, calls, kind) is unchanged, the module's other facts
  (imports, calls, dependency and lifespan calls, ...) are equal, and its part in every
  whole-project index is the same (`project.footprint`), so every such index is too;
- no changed name is referenced elsewhere in the module under the module's own name (no
  other fact of it derives from one: a name reached through an import is written from the
  import's target, so those facts change with it) nor could be named by another file
  (`project.naming`: every way of naming a global spells it, from an import that leads to
  the module);
- the names the fact pass follows from the module (`names_worth_following`) are the same.

Then every other file's facts, triage, reading by the fact pass and findings are unchanged,
and only the buffer's triage and findings are computed again. A file the fact pass did not
read, or that holds an SL000 both times, has no facts in the index: the swap alone.

An edit another file could see only through the whole-project indexes (a new import, a new
module-level function or call: `visible_edit`) is answered the same way when those indexes
come out equal. Its changed names (an import's local name, a function's) still cannot be
named by another file, so another file reaches them only through an index over every module:
every other module's part in each index is unchanged, and the indexes are kept when the
buffer's part in them is the same before and after (`project.footprint`), else built again
and compared. The other whole-project readers (evidence's dependency sites, `app.state`
slots) read facts that must stay equal. The buffer must be named both times (an open
buffer), so the fact pass reads it in its first round whatever it imports; a module it
starts or stops importing must be one that round reads anyway (or none of the project), so
no other file is read differently. The names the pass follows from the buffer's module are
decided as that round decides them (over its modules): they may change only in changed
names (a new function making a session) that no other file spells (the pass reads a file
that spells a followed name, whatever it imports), so no other file is reached otherwise,
and the workspace's followed names take them.

An edit of a body keeps the indexes too only when the buffer's part in them is the same: a
lifecycle call (`engine.dispose()`) or an `app.state` slot in a changed function may end
another object.

A name other files spell (`import json`) takes the full update only when one of them could
name it in the buffer's module: the rules resolve expressions the facts do not record, and
the record of what a file's findings read is per module, not per name, so a file that could
is checked again with everything else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields

from sessionlint.facts.engine import Engine
from sessionlint.facts.factpass import FollowedNames, _module_names, _prefixes, reach_signature
from sessionlint.facts.facts import FunctionFacts, ModuleFacts
from sessionlint.facts.filestate import FileState
from sessionlint.project.contexts import is_migration_module
from sessionlint.project.footprint import same_indexes
from sessionlint.project.index import ProjectFacts
from sessionlint.project.naming import Naming, spelled_by
from sessionlint.read.sources import SourceFile
from sessionlint.triage.triage import Triage, names_worth_following

__all__ = ["QuickEdit", "quick_edit"]

# Module facts an edit may change without any other file seeing it (checked name by name).
_BY_NAME = frozenset({"digest", "bindings", "binding_spans", "definitions", "functions", "referenced"})
# Module facts only the module's own check reads (where its definitions stand, for the rule
# pass's pruning: `rulepass/prune.py`): no other file sees them, nothing is compared.
_OWN = frozenset({"outline"})
# What a function shows the project: how it is called, what it calls, what it is. The rest
# (its body's locals, returns, dataflow, positions) is asked of it by name only.
_INTERFACE = ("qualname", "name", "is_async", "is_generator", "is_method", "decorators", "params")
_INTERFACE += ("calls", "imports", "declared_globals")
# Module facts other modules see only through the whole-project indexes (compared) or by
# name (checked name by name), besides `_BY_NAME`: what a visible edit may change.
_VISIBLE = _BY_NAME | {"imports", "calls", "toplevel_calls", "main_calls"}
# Whole-project indexes that are unions over the modules of what each module's own facts
# (these fields) name, through resolution alone: with those facts equal in the buffer, and
# none of its changed names referenced or spelled elsewhere, they are kept as they are.
_RESOLVED_UNIONS = {"called": "calls", "uncertain": "calls", "dependency": "dependency_calls"}


@dataclass
class QuickEdit:
    """The buffer's new state (not yet triaged) and the index with its facts in place; the
    names the fact pass follows when they change (a visible edit's new function)."""

    state: FileState
    project: ProjectFacts
    followed: FollowedNames | None = None


def quick_edit(
    engine: Engine,
    before: SourceFile,
    after: SourceFile,
    previous: FileState | None,
    explicit: tuple[set[str], set[str]],
    followed: FollowedNames,
    project: ProjectFacts,
    others: Iterable[SourceFile],
    states: Sequence[FileState],
) -> QuickEdit | None:
    """The edit from `before` to `after` answered alone, or None (run the full update).
    `previous`: the file's state (None: the fact pass did not read it); `explicit`: the files
    named before and after the edit; `others`: every other file's source; `states`: the fact
    pass's, in its order (a visible edit's followed names are decided over its first round)."""
    after.identity = engine.identity(before)
    same_reach = reach_signature(engine, before, explicit[0], followed) == reach_signature(
        engine, after, explicit[1], followed
    )
    # An open buffer is read in the fact pass's first round whatever it imports.
    named = before.display in explicit[0] and after.display in explicit[1]
    if not (same_reach or named):
        return None
    if previous is None:
        return QuickEdit(FileState(after), project) if same_reach else None
    old = previous.facts
    state = engine.analyze(after, shallow=old is not None and old.shallow)
    if state.internal_error is not None or (old is None) != (state.facts is None):
        return None
    if old is None or state.facts is None:
        # An SL000 both times: nothing in the index.
        return QuickEdit(state, project) if same_reach else None
    changed = changed_names(old, state.facts) if same_reach else None
    if changed is None:
        if not named:
            return None
        reading = Reading(explicit[1], followed, states)
        return visible_edit(engine, (before, after), old, state, reading, project, others)
    if changed and _seen(
        Naming(_read(project, states), (old, state.facts)), changed, _apart(others, before, after)
    ):
        return None
    swapped = _swapped(project, old, state.facts)
    if swapped is None:
        return None
    # Those names come from bindings and functions: with none of them changed, neither are they.
    if changed and names_worth_following(old, Triage(project)) != names_worth_following(
        state.facts, Triage(swapped)
    ):
        return None
    return QuickEdit(state, swapped)


def visible_edit(
    engine: Engine,
    versions: tuple[SourceFile, SourceFile],
    old: ModuleFacts,
    state: FileState,
    reading: Reading,
    project: ProjectFacts,
    others: Iterable[SourceFile],
) -> QuickEdit | None:
    """An edit of an open buffer that other files could see only through the whole-project
    indexes (see the module docstring), answered alone when those come out equal; None
    otherwise. `versions`: the buffer before and after, `state` after (with its facts)."""
    explicit = reading.explicit
    new = state.facts
    assert new is not None
    changed = _visible_names(old, new)
    if changed is None or changed & (_referenced_globals(old) | _referenced_globals(new)):
        return None
    others = _apart(others, *versions)
    if changed and _seen(Naming(_read(project, reading.states), (old, new)), changed, others):
        return None
    # Asked of a module whatever name leads to it (is a function in it a migration's?).
    if is_migration_module(old) != is_migration_module(new):
        return None
    if not _read_alike(engine, old, new, explicit, others):
        return None
    if project.modules.get(old.key) is not old:
        return None  # two files are the same module
    indexes = project.all_indexes()
    swapped = project.replacing(old, new, indexes)
    if not same_indexes(project, old, swapped, new):
        # The module's part changed: the indexes are built again and compared.
        kept = {
            name: indexes[name]
            for name, read in _RESOLVED_UNIONS.items()
            if getattr(old, read) == getattr(new, read)
        }
        swapped = project.replacing(old, new, kept)
        if swapped.all_indexes() != indexes:
            return None
    followed = _followed_after(engine, reading, old, state, changed, others)
    if followed is None:
        return None
    return QuickEdit(state, swapped, followed)


@dataclass
class Reading:
    """How the fact pass read the workspace: the files named (after the edit), the names it
    followed, and its states in its order."""

    explicit: set[str]
    followed: FollowedNames
    states: Sequence[FileState]


def _followed_after(
    engine: Engine,
    reading: Reading,
    old: ModuleFacts,
    state: FileState,
    changed: set[str],
    others: Iterable[SourceFile],
) -> FollowedNames | None:
    """The names the fact pass would follow after the edit; None when other files could be
    read otherwise. The buffer is named: the pass reads it in its first round and follows
    the names `names_worth_following` gives over that round's modules. They may differ from
    before only in changed names, which no other file spells, so no other file is reached
    otherwise; the buffer's module name must be no other module's (its entry is its own)."""
    new = state.facts
    assert new is not None
    names = {new.module, *new.alias_names}
    first = []
    for other in reading.states:
        facts = other.facts
        if facts is old:
            first.append(state)
        elif facts is not None and names & {facts.module, *facts.alias_names}:
            return None
        elif _first_round(engine, other.source, reading.explicit):
            first.append(other)
    after = names_worth_following(new, Triage(engine.build_project(first)))
    before = reading.followed.by_module.get(new.module, set())
    if (after ^ before) - changed:
        return None
    # The pass reads a file that spells a followed name, whatever it imports.
    if spelled_by(after ^ before, others):
        return None
    if after == before:
        return reading.followed
    followed = FollowedNames()
    for module, kept in reading.followed.by_module.items():
        if module not in names:
            followed.add(module, kept)
    for name in names if after else ():
        followed.add(name, after)
    return followed


def _visible_names(old: ModuleFacts, new: ModuleFacts) -> set[str] | None:
    """The module-level names an edit changed (bindings, definitions, imports, functions in
    any way), when the module's other facts outside `_VISIBLE` are equal; None otherwise."""
    changed = _changed_bindings(old, new, _VISIBLE)
    if changed is None:
        return None
    changed |= {
        local.split(".")[0]
        for local in old.imports.keys() | new.imports.keys()
        if old.imports.get(local) != new.imports.get(local)
    }
    changed |= {
        qualname.split(".")[0].split("#")[0]
        for qualname in old.functions.keys() | new.functions.keys()
        if old.functions.get(qualname) != new.functions.get(qualname)
    }
    return changed


def _first_round(engine: Engine, source: SourceFile, explicit: set[str]) -> bool:
    """The fact pass reads the file in its first round (named, or mentioning the vocabulary)."""
    return source.display in explicit or engine.mentions_vocabulary(source) or engine.reviews_noqa(source)


def _read_alike(
    engine: Engine, old: ModuleFacts, new: ModuleFacts, explicit: set[str], others: Iterable[SourceFile]
) -> bool:
    """Every module the buffer starts or stops importing (or a package above one) is read by
    the fact pass's first round anyway, so no other file is read differently (the pass
    reads the modules its first round's files import in its second, names only)."""
    wanted = {prefix for target in old.import_targets() for prefix in _prefixes(target)}
    wanted ^= {prefix for target in new.import_targets() for prefix in _prefixes(target)}
    return not wanted or all(
        _first_round(engine, source, explicit) for source in others if _module_names(engine, source) & wanted
    )


def changed_names(old: ModuleFacts, new: ModuleFacts) -> set[str] | None:
    """The module-level names whose facts differ, when only such names differ and nothing
    else in the module refers to them; None otherwise."""
    changed = _changed_bindings(old, new, _BY_NAME)
    if changed is None:
        return None
    for qualname in old.functions.keys() | new.functions.keys():
        was, now = old.functions.get(qualname), new.functions.get(qualname)
        if was == now:
            continue
        if was is None or now is None or _interface(was) != _interface(now):
            return None  # a function added, removed or called differently: indexes may change
        changed.add(qualname.split(".")[0].split("#")[0])
    if changed & _referenced_globals(old) or changed & _referenced_globals(new):
        return None  # other facts of the module derive from a changed name
    return changed


def _changed_bindings(old: ModuleFacts, new: ModuleFacts, by_name: Collection[str]) -> set[str] | None:
    """The module-level names bound or defined differently, when the facts outside the
    fields `by_name` are equal; None otherwise."""
    for item in fields(ModuleFacts):
        if item.name in _OWN or item.name in by_name:
            continue
        if getattr(old, item.name) != getattr(new, item.name):
            return None
    changed = {
        name
        for name in old.bindings.keys() | new.bindings.keys()
        if _binding(old, name) != _binding(new, name)
    }
    return changed | (old.definitions ^ new.definitions)


def _referenced_globals(facts: ModuleFacts) -> set[str]:
    """The module's own globals its references name (qualified by the module's name, as
    `m.x`): facts that derive from one may read the same and mean something else. A name
    reached through an import is written from the import's target (`json.dumps`), so the
    facts naming it change with the import and are compared themselves."""
    if not facts.module:
        return {reference.split(".")[0] for reference in facts.referenced}
    prefix = f"{facts.module}."
    found = set()
    for reference in facts.referenced:
        if reference.startswith(prefix):
            parts = reference[len(prefix) :].split(".")
            # `Config.maker` (a class attribute) is a changed name of its own.
            found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return found


def _binding(facts: ModuleFacts, name: str) -> tuple[object, ...]:
    return (name in facts.bindings, facts.bindings.get(name), facts.binding_spans.get(name))


def _interface(function: FunctionFacts) -> tuple[object, ...]:
    return tuple(getattr(function, name) for name in _INTERFACE)


def _seen(naming: Naming, changed: set[str], others: list[SourceFile]) -> bool:
    """Whether another file could name a changed name, or the module's own facts name one
    through another module (reading the same, meaning something else)."""
    read_back = set().union(*(naming.own_globals_read(facts) for facts in naming.target))
    return bool(changed & read_back) or naming.holders.gave_up or naming.may_name(changed, others)


def _read(project: ProjectFacts, states: Sequence[FileState]) -> list[ModuleFacts]:
    """The facts of every file read: the project's, and a file's that another file of the
    same module keeps out of it (a stub, a package beside a module), checked all the same."""
    return [*project.modules.values(), *(state.facts for state in states if state.facts is not None)]


def _apart(others: Iterable[SourceFile], before: SourceFile, after: SourceFile) -> list[SourceFile]:
    return [source for source in others if source is not before and source is not after]


def _swapped(project: ProjectFacts, old: ModuleFacts, new: ModuleFacts) -> ProjectFacts | None:
    """The index with `new` in place of `old`, its whole-project indexes kept when the
    module's part in them is the same (`footprint`: a changed body may change what a
    lifecycle call or an `app.state` slot in it ends); None otherwise, or when `old` is not
    the module the index holds under its key (two files are the same module)."""
    if project.modules.get(old.key) is not old:
        return None
    swapped = project.replacing(old, new, project.all_indexes())
    return swapped if same_indexes(project, old, swapped, new) else None
