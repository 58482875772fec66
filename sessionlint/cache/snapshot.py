"""The snapshot an incremental run starts from, as the cache folder keeps it (see `incremental`).

Three files beside the cache, each written atomically:

- `snapshot`: the full run's records without their facts, the names it followed, its
  whole-project indexes and a token (a random name each full run's snapshot gets);
- `snapshot-facts`: that token, then the records' pickled facts one after the other. Each
  record notes where its own are: a run reads those it needs (the changed files', the
  modules a check looks up), not the megabytes of a large tree's facts;
- `snapshot-delta`: the records incremental runs changed since, with their facts, tagged
  with the token: an incremental run writes these alone, not the whole snapshot again.

A facts file or a delta whose token is not the snapshot's was written beside another
snapshot (a full run since, a concurrent run): a delta is then ignored, and facts that
cannot be read make the run go on in full (`SnapshotUnreadable`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from sessionlint.cache.store import Cache, write_atomically
from sessionlint.discover.roots import ModuleIdentity
from sessionlint.facts.factpass import FollowedNames
from sessionlint.project.index import FunctionRef
from sessionlint.report.diagnostics import Diagnostic

# 2: module identities are (root, name); 3: which file's facts the project held; 4: a token,
# the facts apart, and the delta of later incremental runs beside them
_FORMAT = 4
# Past this many records changed since the snapshot, an incremental run writes it whole again
# (with a new token) rather than a delta that every later run would read and write.
MAX_DELTA = 64
_SNAPSHOT, _FACTS, _DELTA = "snapshot", "snapshot-facts", "snapshot-delta"
_TOKEN_BYTES = 32  # the token's hex digits, first in the facts file


class SnapshotUnreadable(Exception):
    """The facts the snapshot's records point to are gone or another snapshot's."""


@dataclass
class FileRecord:
    digest: str
    signature: str
    identity: ModuleIdentity
    reading: str  # "not read", "shallow" or "full" (see `incremental`)
    facts: bytes | None  # the pickled ModuleFacts, when held here (see `at`)
    checked: bool  # the triage sent it to the rules (or it has an SL000 to report)
    rule_codes: frozenset[str] | None
    findings: list[Diagnostic]
    # Its facts are those the run's project held for its module. Not so for the second file
    # of one module (`x.pyi` beside `x.py`): the project keeps the facts of the file the
    # fact pass reached first, and a run with the same reach reaches them in the same order.
    in_project: bool = True
    # Where its pickled facts are in the facts file (offset, length), when not in `facts`.
    at: tuple[int, int] | None = None

    @property
    def has_facts(self) -> bool:
        """It was read for facts (None: not read, or the file had an SL000)."""
        return self.facts is not None or self.at is not None


@dataclass
class Snapshot:
    shape: str
    records: dict[str, FileRecord]  # by display path, the delta's records in place
    followed: FollowedNames
    indexes: dict[str, frozenset[FunctionRef]]
    # Whether the run knew the whole project (every file of it was among its inputs): the
    # findings of rules that conclude "nothing else does X" rest on it.
    complete: bool = False
    # The snapshot file's token, and the records the delta replaced (by display path).
    token: str = ""
    changed: frozenset[str] = frozenset()
    # The facts file, for the records whose facts are there (set when loaded).
    facts_path: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, cache: Cache) -> Snapshot | None:
        """The snapshot with its delta's records; None when there is none, or it is corrupt
        or foreign (the run goes on in full)."""
        data = cache.read_sidecar(_SNAPSHOT)
        path = cache.sidecar(_FACTS)
        if not (
            isinstance(data, dict)
            and data.get("format") == _FORMAT
            and isinstance(data.get("snapshot"), cls)
            and isinstance(data.get("token"), str)
            and path is not None
        ):
            return None
        snapshot: Snapshot = data["snapshot"]
        snapshot.token, snapshot.changed, snapshot.facts_path = data["token"], frozenset(), str(path)
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

    def facts_of(self, display: str) -> bytes | None:
        """The file's pickled facts (None: it was not read for facts)."""
        record = self.records[display]
        if record.facts is not None or record.at is None:
            return record.facts
        offset, length = record.at
        with self._open_facts() as handle:
            blob = os.pread(handle.fileno(), length, offset)
        if len(blob) != length:
            raise SnapshotUnreadable("the facts file is shorter than its records say")
        return blob

    def every_facts(self) -> dict[str, bytes]:
        """The pickled facts of every file read for facts, by display path (one read)."""
        held = {display: record.facts for display, record in self.records.items() if record.facts is not None}
        stored = {display: record.at for display, record in self.records.items() if record.facts is None}
        if any(at is not None for at in stored.values()):
            with self._open_facts() as handle:
                data = handle.read()
            for display, at in stored.items():
                if at is not None:
                    offset, length = at
                    if offset + length > len(data):
                        raise SnapshotUnreadable("the facts file is shorter than its records say")
                    held[display] = data[offset : offset + length]
        return held

    def _open_facts(self) -> BinaryIO:
        """The facts file, open, once its token is checked to be this snapshot's."""
        try:
            handle = open(self.facts_path or "", "rb")  # noqa: SIM115 (the caller closes it)
        except OSError as error:
            raise SnapshotUnreadable(str(error)) from None
        if handle.read(_TOKEN_BYTES).decode("ascii", "replace") != self.token:
            handle.close()
            raise SnapshotUnreadable("the facts file belongs to another snapshot")
        return handle

    def save(self, cache: Cache) -> None:
        """Write it whole, with a new token: the facts first, then the records pointing
        into them (a run reading the records of one and the facts of the other sees the
        tokens differ). The delta beside it, if any, is then stale: removed."""
        facts_path, snapshot_path = cache.sidecar(_FACTS), cache.sidecar(_SNAPSHOT)
        if facts_path is None or snapshot_path is None:
            return
        token = os.urandom(_TOKEN_BYTES // 2).hex()
        blobs = self.every_facts()
        chunks, offset, records = [token.encode("ascii")], _TOKEN_BYTES, {}
        for display, record in self.records.items():
            blob = blobs.get(display)
            at = None
            if blob is not None:
                chunks.append(blob)
                at, offset = (offset, len(blob)), offset + len(blob)
            records[display] = replace(record, facts=None, at=at)
        write_atomically(facts_path, b"".join(chunks))
        whole = replace(self, records=records, token="", changed=frozenset(), facts_path=None)
        cache.write_sidecar(_SNAPSHOT, {"format": _FORMAT, "token": token, "snapshot": whole})
        _discard(cache, _DELTA)

    def save_changes(self, cache: Cache) -> None:
        """Write the records changed since the snapshot file was written (the delta), or
        the snapshot whole when they are many."""
        if not self.token or len(self.changed) > MAX_DELTA:
            self.save(cache)
            return
        records = {display: self.records[display] for display in self.changed}
        cache.write_sidecar(_DELTA, {"format": _FORMAT, "token": self.token, "records": records})


def discard_snapshot(cache: Cache) -> None:
    for name in (_SNAPSHOT, _DELTA, _FACTS):
        _discard(cache, name)


def _discard(cache: Cache, name: str) -> None:
    path = cache.sidecar(name)
    if path is not None:
        with contextlib.suppress(OSError):  # none, or a read-only cache folder
            path.unlink()
