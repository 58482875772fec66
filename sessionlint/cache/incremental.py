"""Incremental runs: when a few files changed since the last run over the same files, only
they are checked again, if the change cannot alter anything other files' findings rest on.

A full run that checks (no fix) and used no facts from outside its files leaves a snapshot
next to the cache: per file, its digest, what the fact pass asked of its bytes (its
`reach_signature`), whether and how it was read for facts (and those facts, pickled), what
the triage decided for it, and its findings; and the names the fact pass followed and the
whole-project indexes built. A later run over the same files (same folder, same paths
named, same file list) whose changed files all keep their reach signature and their facts
is the same run for every other file: the fact pass reaches the same files, the project
index is the same, so is every triage answer, and the other files' findings stand. Only
the changed files' own findings are computed again, against the stored facts, each module
unpickled when a lookup needs it. Anything else (a fact changed, a file added) runs in full.

Like the no-change shortcut, a run's inputs are its files' paths and contents and the
package folders that name their modules (`files.package_layout`): an `__init__.py`
appearing above the checked folders, or beside files named explicitly, changes the shape.

How the snapshot is kept (its facts apart, read as needed; a delta for later incremental
runs) is `snapshot.py`'s.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from sessionlint.cache.snapshot import FileRecord, Snapshot, SnapshotUnreadable
from sessionlint.cache.store import Cache
from sessionlint.discover.roots import ModuleIdentity
from sessionlint.discover.scope import files_outside, names_root
from sessionlint.facts.engine import Engine
from sessionlint.facts.factpass import FollowedNames, reach_signature
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.filestate import FileState
from sessionlint.project.index import ProjectFacts
from sessionlint.read.sources import SourceFile
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.report.run import RunReport
from sessionlint.settings.config import Settings

# Past this many changed files a full run (parallel, cached per file) is as quick.
MAX_CHANGED = 32

_NOT_READ, _SHALLOW, _FULL = "not read", "shallow", "full"


def save_snapshot(
    cache: Cache,
    shape: str,
    engine: Engine,
    sources: Sequence[SourceFile],
    states: Sequence[FileState],
    checked: Mapping[str, list[Diagnostic]],
    signatures: Mapping[str, str],
    followed: FollowedNames,
    project: ProjectFacts,
) -> None:
    """Record a full run (`checked`: the findings of each file the rules saw, by display;
    `signatures`: each file's `reach_signature` with the `followed` names; `project`: the
    run's index over the `states`' facts)."""
    previous = Snapshot.load(cache)
    old = previous.records if previous is not None else {}
    try:
        pickled = previous.every_facts() if previous is not None else {}
    except SnapshotUnreadable:
        pickled = {}
    by_display = {state.source.display: state for state in states}
    records = {}
    for source in sources:
        state = by_display.get(source.display)
        facts = state.facts if state is not None else None
        reading = _NOT_READ if state is None else _SHALLOW if facts is not None and facts.shallow else _FULL
        earlier = old.get(source.display)
        identity = engine.identity(source)
        if facts is None:
            blob = None
        elif (
            earlier is not None
            and source.display in pickled
            and (earlier.digest, earlier.reading, earlier.identity) == (source.digest, reading, identity)
        ):
            blob = pickled[source.display]  # the same bytes read the same way as the same module
        else:
            blob = pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)
        records[source.display] = FileRecord(
            digest=source.digest,
            signature=signatures[source.display],
            identity=identity,
            reading=reading,
            facts=blob,
            checked=source.display in checked,
            rule_codes=state.rule_codes if state is not None else None,
            findings=checked.get(source.display, []),
            in_project=facts is None or project.modules.get(facts.key) is facts,
        )
    # Read as the property, not `knows_whole_project`: that would note an answer for a file.
    complete = project.complete
    Snapshot(shape, records, followed, project.known_indexes(), complete=complete).save(cache)


def recheck(
    paths: Sequence[Path],
    sources: Sequence[SourceFile],
    explicit: set[str],
    settings: Settings,
    cache: Cache,
    shape: str,
    report: RunReport,
    read_paths: Callable[[], list[str]],
) -> bool:
    """Findings for every file from the last run's snapshot and the changed files alone,
    into `report`; False (and nothing reported) when this run must run in full. `sources`
    may be unread (`SourceFile.unread`, their digests vouched for by their stamps): only the
    changed files are read, and must be. `read_paths`: the absolute paths of `sources`."""
    snapshot = Snapshot.load(cache)
    if snapshot is None or snapshot.shape != shape:
        return False
    records = snapshot.records
    changed = [source for source in sources if records[source.display].digest != source.digest]
    if len(changed) > MAX_CHANGED or any(source.is_unread for source in changed):
        return False  # many changed; or one changed since the snapshot, not since its stamps
    engine = Engine(settings, roots=paths)
    states = []
    for source in changed:
        try:
            before = snapshot.facts_of(source.display)
        except SnapshotUnreadable:
            return False
        state = _same_reach(engine, source, records[source.display], before, explicit, snapshot.followed)
        if state is None:
            return False
        states.append(state)
    whole = names_root(paths, settings)
    unknown = set() if whole else files_outside(paths, settings, read_paths())
    if not unknown and not whole:
        return False  # knowing the whole project then rests on files outside these inputs
    if snapshot.complete != (not unknown):
        return False  # the other files' findings rest on whether the project was known whole
    stored = _stored_modules(snapshot)
    if stored is None:
        return False
    findings = {display: record.findings for display, record in records.items()}
    project: ProjectFacts | None = None  # built for the first changed file the rules check
    for state in states:
        record = records[state.source.display]
        if not record.checked:
            findings[state.source.display] = []
        elif state.facts is None:
            findings[state.source.display] = [state.error] if state.error is not None else []
        else:
            if project is None:
                project = _stored_project(engine, snapshot, stored, states, complete=not unknown)
            state.rule_codes = record.rule_codes
            project.record_answers()  # as the full run does: nothing memoised for another file
            result = engine.lint(state, project)
            if result.internal_errors:
                return False  # a full run reports them, with everything else
            findings[state.source.display] = result.diagnostics
    for source in sources:
        report.diagnostics.extend(findings[source.display])
    report.files_changed = len(changed)
    report.files_checked = sum(records[state.source.display].checked for state in states)
    if changed:
        _update(snapshot, states, findings).save_changes(cache)
    return True


def _same_reach(
    engine: Engine,
    source: SourceFile,
    record: FileRecord,
    pickled: bytes | None,
    explicit: set[str],
    followed: FollowedNames,
) -> FileState | None:
    """The changed file's state, if the fact pass would reach it as before and find the
    same facts (`pickled`: those of its record); None otherwise."""
    source.identity = record.identity
    if reach_signature(engine, source, explicit, followed) != record.signature:
        return None
    if record.reading == _NOT_READ:
        return FileState(source)
    state = engine.analyze(source, shallow=record.reading == _SHALLOW)
    if state.internal_error is not None:
        return None
    before = pickle.loads(pickled) if pickled is not None else None
    if (before is None) != (state.facts is None):
        return None
    if before is None and record.checked and [state.error] != record.findings:
        return None  # a different SL000: how the fact pass read the file may matter to it
    if (
        before is not None
        and state.facts is not None
        and replace(state.facts, digest=before.digest) != before
    ):
        return None
    return state


def _stored_modules(snapshot: Snapshot) -> tuple[dict[str, str], dict[str, ModuleIdentity]] | None:
    """The file (display path) and the identity of each module the last run's project held.
    Of two files that are one module (`x.py` and `x.pyi`), the one whose facts the run's
    project held (see `FileRecord.in_project`); None when the snapshot does not say which."""
    files: dict[str, str] = {}
    identities: dict[str, ModuleIdentity] = {}
    for display, record in snapshot.records.items():
        if record.has_facts and record.in_project:
            key = record.identity.key
            if key in files:
                return None
            files[key] = display
            identities[key] = record.identity
    return files, identities


def _stored_project(
    engine: Engine,
    snapshot: Snapshot,
    stored: tuple[dict[str, str], dict[str, ModuleIdentity]],
    states: list[FileState],
    *,
    complete: bool,
) -> ProjectFacts:
    """The last run's project (`stored`: its modules), with the changed files' (equal)
    facts in place of theirs."""
    files, identities = stored
    modules = StoredModules(snapshot, files)
    for state in states:
        if state.facts is not None and snapshot.records[state.source.display].in_project:
            modules.replace(state.facts)
    return engine.project(modules, identities=identities, indexes=snapshot.indexes, complete=complete)


def _update(snapshot: Snapshot, states: list[FileState], findings: dict[str, list[Diagnostic]]) -> Snapshot:
    records = dict(snapshot.records)
    for state in states:
        display = state.source.display
        facts = state.facts
        blob = pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL) if facts is not None else None
        records[display] = replace(
            records[display], digest=state.source.digest, facts=blob, at=None, findings=findings[display]
        )
    changed = snapshot.changed | {state.source.display for state in states}
    return replace(snapshot, records=records, changed=changed)


class StoredModules(Mapping[str, ModuleFacts]):
    """Module facts by key (see `roots.module_key`), read from the snapshot and unpickled on
    first use: a file's check looks up a handful of the project's modules. (Facts that cannot
    be read end the check with an internal error, and the run goes on in full.)"""

    def __init__(self, snapshot: Snapshot, files: dict[str, str]) -> None:
        self._snapshot = snapshot
        self._files = files  # module key -> the display path of the file holding its facts
        self._loaded: dict[str, ModuleFacts] = {}

    def replace(self, facts: ModuleFacts) -> None:
        self._loaded[facts.key] = facts

    def __getitem__(self, name: str) -> ModuleFacts:
        facts = self._loaded.get(name)
        if facts is None:
            pickled = self._snapshot.facts_of(self._files[name])
            if pickled is None:
                raise KeyError(name)  # cannot be: the module's file was read for facts
            facts = self._loaded[name] = pickle.loads(pickled)
        return facts

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)
