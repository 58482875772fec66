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

An incremental run does not write the whole snapshot again (megabytes of pickled facts on a
large tree, for the few records it changed): it writes the records changed since the full
run beside it (`snapshot-delta`), tagged with the snapshot's token, a random name each full
run's snapshot gets. A delta is read only over the snapshot of the same token: one left by
a run over an older snapshot (a full run since, a concurrent run) is ignored.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sessionlint.cache.store import Cache
from sessionlint.discover.roots import ModuleIdentity
from sessionlint.discover.scope import files_outside, names_root
from sessionlint.facts.engine import Engine
from sessionlint.facts.factpass import FollowedNames, reach_signature
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.filestate import FileState
from sessionlint.project.index import FunctionRef, ProjectFacts
from sessionlint.read.sources import SourceFile
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.report.run import RunReport
from sessionlint.settings.config import Settings

# 2: module identities are (root, name); 3: which file's facts the project held; 4: a token
# and the delta of later incremental runs beside it
_FORMAT = 4
# Past this many changed files a full run (parallel, cached per file) is as quick.
MAX_CHANGED = 32
# Past this many records changed since the snapshot, an incremental run writes it whole again
# (with a new token) rather than a delta that every later run would read and write.
MAX_DELTA = 64

_NOT_READ, _SHALLOW, _FULL = "not read", "shallow", "full"


@dataclass
class FileRecord:
    digest: str
    signature: str
    identity: ModuleIdentity
    reading: str  # _NOT_READ, _SHALLOW or _FULL
    facts: bytes | None  # the pickled ModuleFacts (None: not read, or the file had an SL000)
    checked: bool  # the triage sent it to the rules (or it has an SL000 to report)
    rule_codes: frozenset[str] | None
    findings: list[Diagnostic]
    # Its facts are those the run's project held for its module. Not so for the second file
    # of one module (`x.pyi` beside `x.py`): the project keeps the facts of the file the
    # fact pass reached first, and a run with the same reach reaches them in the same order.
    in_project: bool = True


@dataclass
class Snapshot:
    shape: str
    records: dict[str, FileRecord]  # by display path, the delta's records in place
    followed: FollowedNames
    indexes: dict[str, frozenset[FunctionRef]]
    # Which snapshot file the records came from (see the module docstring), and those of its
    # records the delta replaced (by display path).
    token: str = ""
    changed: frozenset[str] = frozenset()
    # Whether the run knew the whole project (every file of it was among its inputs): the
    # findings of rules that conclude "nothing else does X" rest on it.
    complete: bool = False

    @classmethod
    def load(cls, cache: Cache) -> Snapshot | None:
        data = cache.read_sidecar("snapshot")
        if not (
            isinstance(data, dict)
            and data.get("format") == _FORMAT
            and isinstance(data.get("snapshot"), cls)
            and isinstance(data.get("token"), str)
        ):
            return None  # none, or corrupt or foreign: run in full
        snapshot: Snapshot = data["snapshot"]
        snapshot.token, snapshot.changed = data["token"], frozenset()
        delta = cache.read_sidecar(_DELTA)
        if (
            isinstance(delta, dict)
            and delta.get("format") == _FORMAT
            and delta.get("token") == snapshot.token
            and isinstance(delta.get("records"), dict)
        ):
            records: dict[str, FileRecord] = delta["records"]
            if not records.keys() <= snapshot.records.keys():
                return None  # cannot be: a token names one snapshot, whose files the delta's are
            snapshot.records.update(records)
            snapshot.changed = frozenset(records)
        return snapshot

    def save(self, cache: Cache) -> None:
        """Write it whole, with a new token (the delta beside it, if any, is then stale)."""
        token = os.urandom(16).hex()
        whole = replace(self, token="", changed=frozenset())
        cache.write_sidecar("snapshot", {"format": _FORMAT, "token": token, "snapshot": whole})
        _discard(cache, _DELTA)

    def save_changes(self, cache: Cache) -> None:
        """Write the records changed since the snapshot file was written (the delta), or
        the snapshot whole when they are many."""
        if not self.token or len(self.changed) > MAX_DELTA:
            self.save(cache)
            return
        records = {display: self.records[display] for display in self.changed}
        cache.write_sidecar(_DELTA, {"format": _FORMAT, "token": self.token, "records": records})


_DELTA = "snapshot-delta"


def discard_snapshot(cache: Cache) -> None:
    _discard(cache, "snapshot")
    _discard(cache, _DELTA)


def _discard(cache: Cache, name: str) -> None:
    path = cache.sidecar(name)
    if path is not None:
        with contextlib.suppress(OSError):  # none, or a read-only cache folder
            path.unlink()


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
            and earlier.facts is not None
            and (earlier.digest, earlier.reading, earlier.identity) == (source.digest, reading, identity)
        ):
            blob = earlier.facts  # the same bytes read the same way as the same module: pickled already
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
        state = _same_reach(engine, source, records[source.display], explicit, snapshot.followed)
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
    engine: Engine, source: SourceFile, record: FileRecord, explicit: set[str], followed: FollowedNames
) -> FileState | None:
    """The changed file's state, if the fact pass would reach it as before and find the
    same facts; None otherwise."""
    source.identity = record.identity
    if reach_signature(engine, source, explicit, followed) != record.signature:
        return None
    if record.reading == _NOT_READ:
        return FileState(source)
    state = engine.analyze(source, shallow=record.reading == _SHALLOW)
    if state.internal_error is not None:
        return None
    before = pickle.loads(record.facts) if record.facts is not None else None
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


def _stored_modules(snapshot: Snapshot) -> tuple[dict[str, bytes], dict[str, ModuleIdentity]] | None:
    """The pickled facts and the identity of each module the last run's project held. Of two
    files that are one module (`x.py` and `x.pyi`), the facts the run's project held (see
    `FileRecord.in_project`); None when the snapshot does not say which."""
    blobs: dict[str, bytes] = {}
    identities: dict[str, ModuleIdentity] = {}
    for record in snapshot.records.values():
        if record.facts is not None and record.in_project:
            key = record.identity.key
            if key in blobs:
                return None
            blobs[key] = record.facts
            identities[key] = record.identity
    return blobs, identities


def _stored_project(
    engine: Engine,
    snapshot: Snapshot,
    stored: tuple[dict[str, bytes], dict[str, ModuleIdentity]],
    states: list[FileState],
    *,
    complete: bool,
) -> ProjectFacts:
    """The last run's project (`stored`: its modules), with the changed files' (equal)
    facts in place of theirs."""
    blobs, identities = stored
    modules = StoredModules(blobs)
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
            records[display], digest=state.source.digest, facts=blob, findings=findings[display]
        )
    changed = snapshot.changed | {state.source.display for state in states}
    return replace(snapshot, records=records, changed=changed)


class StoredModules(Mapping[str, ModuleFacts]):
    """Module facts by key (see `roots.module_key`), kept pickled and unpickled on first use: a file's check looks
    up a handful of the project's modules."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self._blobs = blobs
        self._loaded: dict[str, ModuleFacts] = {}

    def replace(self, facts: ModuleFacts) -> None:
        self._loaded[facts.key] = facts

    def __getitem__(self, name: str) -> ModuleFacts:
        facts = self._loaded.get(name)
        if facts is None:
            facts = self._loaded[name] = pickle.loads(self._blobs[name])
        return facts

    def __iter__(self) -> Iterator[str]:
        return iter(self._blobs)

    def __len__(self) -> int:
        return len(self._blobs)
