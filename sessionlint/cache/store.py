"""The result cache in `.sessionlint_cache/`.

One pickle per (tool code, settings): for every file, its digest and module identity, its
facts (or its SL000), and its findings with what they depended on: the digests of every
module its resolution could reach, and the answers to whole-project questions (is `get_db`
used through `Depends` anywhere?). A file is re-checked when any of those changed; nothing
else is. A cache file that cannot be read is ignored; writes are atomic, so concurrent runs
never leave a torn file (the last writer wins).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import sessionlint
from sessionlint.discover.roots import ModuleIdentity
from sessionlint.read.hashing import blake2b, digest
from sessionlint.read.limits import max_tokens
from sessionlint.read.sources import FileStamp, SourceFile, display_path
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.settings.config import Settings

if TYPE_CHECKING:  # unpickling imports what it needs: the no-change shortcut needs no facts
    from sessionlint.facts.facts import ModuleFacts

DEFAULT_DIRECTORY = ".sessionlint_cache"
# The first part of every file name there: `_code_fingerprint()`, 16 hex digits.
_VERSION_STAMP = re.compile(r"[0-9a-f]{16}")
_FORMAT = 3  # 2: module identities are (root, name); 3: facts and findings carry positions (evidence)


@dataclass
class CachedFindings:
    diagnostics: list[Diagnostic]
    lookups: dict[str, str | None]
    answers: dict[tuple[str, str, str], bool]
    # The rules that ran (None: every selected rule): findings of others were never looked for.
    codes: frozenset[str] | None = None
    # The working folder of the run that found them: their related locations' paths are
    # relative to it (see `relocated`).
    cwd: str = ""

    def covers(self, codes: frozenset[str] | None) -> bool:
        return self.codes is None or (codes is not None and codes <= self.codes)

    def relocated(self, path: str) -> list[Diagnostic]:
        """The findings for the file now shown as `path`, their evidence's paths as this
        run prints them (a run from another working folder shares the project's cache)."""
        cwd = os.getcwd()
        if not self.cwd or self.cwd == cwd:
            return [replace(d, path=path) for d in self.diagnostics]
        return [
            replace(
                d,
                path=path,
                related=tuple(
                    replace(r, path=display_path(os.path.join(self.cwd, r.path), cwd)) for r in d.related
                ),
            )
            for d in self.diagnostics
        ]


# How many recent runs' findings are kept for the no-change shortcut.
RECENT_RUNS = 8
# Files changed this close to being read are not judged by their stamps (see `save_stamps`).
RACY_NS = 2_000_000_000


@dataclass
class CacheEntry:
    digest: str
    identity: ModuleIdentity
    facts: ModuleFacts | None
    error: Diagnostic | None
    findings: CachedFindings | None = None


@dataclass
class Cache:
    path: Path | None
    _entries: dict[str, CacheEntry] | None = None
    changed: bool = False

    @classmethod
    def load(cls, directory: Path, settings: Settings) -> Cache:
        """The cache for these settings; its entries are read on first use only."""
        return cls(directory / f"{_code_fingerprint()}-{settings.fingerprint()}.pickle")

    @property
    def entries(self) -> dict[str, CacheEntry]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, CacheEntry]:
        data = _load(self.path)
        if isinstance(data, dict) and data.get("format") == _FORMAT:
            return data["entries"]
        return {}

    @classmethod
    def disabled(cls) -> Cache:
        return cls(None)

    # -- recent runs: when no input changed since one of them, its findings are the answer --

    def sidecar(self, name: str) -> Path | None:
        """A file beside the cache for these settings (`last-run`, `stamps`, `snapshot`)."""
        return self.path.with_suffix(f".{name}.pickle") if self.path is not None else None

    def read_sidecar(self, name: str) -> object | None:
        """What a side file holds; None when it is missing, unreadable, or not a pickle."""
        return _load(self.sidecar(name))

    def write_sidecar(self, name: str, value: object) -> None:
        path = self.sidecar(name)
        if path is not None:
            write_atomically(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def _recent_runs(self) -> dict[str, list[Diagnostic]]:
        runs = self.read_sidecar("last-run")
        return runs if isinstance(runs, dict) else {}

    def last_run(self, key: str) -> list[Diagnostic] | None:
        """The findings of a recent run over exactly these inputs (an edit undone, a branch
        switched back count as well as nothing changed)."""
        return self._recent_runs().get(key)

    def save_last_run(self, key: str, diagnostics: list[Diagnostic]) -> None:
        if self.path is None:
            return
        runs = self._recent_runs()
        runs.pop(key, None)
        runs[key] = diagnostics  # newest last
        while len(runs) > RECENT_RUNS:
            runs.pop(next(iter(runs)))
        self.write_sidecar("last-run", runs)

    # -- the files' stamps, which vouch for their digests: unchanged files are not read --

    def stamp_book(self, shape: str) -> tuple[dict[str, tuple[FileStamp, str]], str]:
        """The stamp and digest of each file of the last run over files of this `shape`
        (those that were not racy, see `save_stamps`), and that run's key."""
        record = self.read_sidecar("stamps")
        if (
            isinstance(record, tuple)
            and len(record) == 3
            and record[0] == shape
            and isinstance(record[1], dict)
        ):
            return record[1], record[2]
        return {}, ""

    def save_stamps(self, shape: str, sources: Sequence[SourceFile], key: str, read_at_ns: int) -> None:
        """Note each file's stamp and digest (`key`: the run's inputs, `read_at_ns`: when it
        started reading). Not for a file changed less than `RACY_NS` before: a change right
        after the reading could keep its times (they tick coarsely), so only its bytes tell
        (git calls such files racily clean)."""
        book = {
            source.display: (source.stamp, source.digest)
            for source in sources
            if source.stamp is not None and max(source.stamp[1], source.stamp[2]) < read_at_ns - RACY_NS
        }
        self.write_sidecar("stamps", (shape, book, key))

    def get(self, key: str, digest: str, identity: ModuleIdentity) -> CacheEntry | None:
        """The entry of a file with these bytes, read as this module (facts name their module)."""
        entry = self.entries.get(key)
        if entry is None or entry.digest != digest or entry.identity != identity:
            return None
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        if self.path is not None:
            self.entries[key] = entry
            self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        data = pickle.dumps({"format": _FORMAT, "entries": self.entries}, protocol=pickle.HIGHEST_PROTOCOL)
        write_atomically(self.path, data)
        prune_other_versions(self.path)


def prune_other_versions(path: Path) -> None:
    """Remove the files other versions of the tool (or of its code) left beside `path`: no
    run of this version reads them, and each version would otherwise add its own."""
    current = path.name.partition("-")[0]
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        version, dash, _ = name.partition("-")
        if dash and version != current and _VERSION_STAMP.fullmatch(version) and name.endswith(".pickle"):
            with contextlib.suppress(OSError):  # removed by a concurrent run, or read-only
                os.unlink(path.parent / name)


def is_cache_directory(directory: Path) -> bool:
    """Whether a folder holds only what sessionlint writes there (`sessionlint clean`
    removes nothing else)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return all(name == ".gitignore" or name.endswith((".pickle", ".tmp")) for name in names)


def _load(path: Path | None) -> object | None:
    """A pickle file's content; None when missing, corrupt or foreign (never fatal)."""
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except Exception:
        return None


_GITIGNORE = b"# Created by sessionlint\n*\n"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file renamed over it; on any failure (a
    read-only checkout, a full disk) the cache is simply not written, and no temporary
    file is left behind. The folder gets a `.gitignore` that ignores it all, written the
    same way (a full disk once left an empty one that was never completed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = path.parent / ".gitignore"
        if not _holds(gitignore, _GITIGNORE):
            _replace(gitignore, _GITIGNORE)
        _replace(path, data)
    except OSError:
        pass  # run without a cache


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _replace(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:  # a full disk, or Ctrl-C mid-write
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _code_fingerprint() -> str:
    """The tool version, the Python version (facts pickle differently from 3.11 on), and the
    state of the tool's own source files (editable installs change)."""
    package = os.path.dirname(sessionlint.__file__)
    stamp = blake2b(sessionlint.__version__.encode(), digest_size=8)
    stamp.update(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    stamp.update(f"{max_tokens()}".encode())  # which files are too large to check
    for line in _source_stamps(package):
        stamp.update(line.encode())
    return stamp.hexdigest()


def _source_stamps(package: str) -> list[str]:
    """Each of the package's source files with its modification time and size, sorted.
    Walked with `os`, not `pathlib` (a third of the time, on every run)."""
    stamps = []
    cut = len(package) + 1
    for folder, subfolders, names in os.walk(package):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                stat = os.stat(path)
                stamps.append(f"{path[cut:]}:{stat.st_mtime_ns}:{stat.st_size}")
    return sorted(stamps)


def run_key(parts: list[str]) -> str:
    """A digest of everything a whole run's findings depend on."""
    return digest("\0".join(parts).encode("utf-8", "surrogateescape"))  # paths may not be UTF-8
