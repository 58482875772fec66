"""What a run reads, and what it can tell from the cache without reading.

The files found; their bytes, or, where their stamps vouch for the bytes the last run
read, only those bytes' digests; the SL000s of what could not be read; and the keys the
cache keeps whole runs' findings under.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from sessionlint.cache.store import Cache, run_key
from sessionlint.discover.files import PYTHON_SUFFIXES, discover, package_layout
from sessionlint.read.sources import (
    FileStamp,
    SourceFile,
    UnreadableSource,
    display_path,
    error_diagnostic,
    read_file,
    stamp_of,
)
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.settings.configuration import Configuration


class RunInputs:
    """The files of one run (`paths`, each under its own settings), read lazily for the
    cache's sake. `settings` are the run's (see `Configuration.run_settings`)."""

    def __init__(
        self, paths: Sequence[Path], configuration: Configuration, *, force_exclude: bool = False
    ) -> None:
        self.paths = paths
        self.files, self.walk_errors, self.explicit, facts_only = find_files(
            paths, configuration, force_exclude=force_exclude
        )
        self.settings = configuration.run_settings(
            [(file.path, file.display) for file in self.files], facts_only
        )
        self.cache = Cache.disabled()
        self.sources: list[SourceFile] = []
        self.errors: list[Diagnostic] = list(self.walk_errors)
        self.key = ""
        self._read_at_ns = 0
        self._packages: list[str] | None = None
        self._stamps: dict[str, FileStamp] | None = None
        self._stamp_shape = ""

    def use_cache(self, cache: Cache) -> None:
        """Answer from (and remember into) this cache."""
        self.cache = cache
        self._stamps = _stamps(self.files, self.explicit) if cache.path and not self.walk_errors else None
        self._stamp_shape = run_key([*self._identity(), *self._stamps]) if self._stamps is not None else ""

    @property
    def files_seen(self) -> int:
        return len(self.files) + len(self.walk_errors)  # each file is read, or an SL000

    @property
    def selected_errors(self) -> list[Diagnostic]:
        return [d for d in self.errors if self.settings.is_selected(d.code, d.path)]

    def findings_of_a_recent_run(self) -> list[Diagnostic] | None:
        """The findings of a recent run over the same inputs, read as little as can be: not
        at all when every file's stamp vouches for the bytes the last run read (see
        `Cache.save_stamps`), else only the files whose stamps differ."""
        book, last_key = self.cache.stamp_book(self._stamp_shape) if self._stamps else ({}, "")
        vouched = {
            display: book[display]
            for display, stamp in (self._stamps or {}).items()
            if display in book and book[display][0] == stamp
        }
        if self._stamps and len(vouched) == len(self._stamps):
            previous = self.cache.last_run(last_key)
            if previous is not None:
                return previous
        self._read(vouched)
        previous = self.cache.last_run(self.key)
        if previous is not None:
            self.remember(previous)  # the newest again, with the stamps of these bytes
        return previous

    def read_all(self) -> None:
        """Every file's bytes, as they are now."""
        if (not self.sources and not self.key) or any(source.is_unread for source in self.sources):
            self._read({})

    def source_paths(self) -> list[str]:
        """The absolute paths of the files read, or vouched for by their stamps unread."""
        displays = {source.display for source in self.sources}
        return [os.path.abspath(file.path) for file in self.files if file.display in displays]

    def remember(self, diagnostics: list[Diagnostic]) -> None:
        """These inputs' findings, for later runs over the same."""
        self.cache.save_last_run(self.key, diagnostics)
        if self._stamps is not None and not self.errors:
            self.cache.save_stamps(self._stamp_shape, self.sources, self.key, self._read_at_ns)

    def shape(self) -> str:
        """The inputs but the files' contents: runs of one shape may be incremental."""
        return run_key([*self._identity(), "", *(source.display for source in self.sources), *self._errors()])

    def _read(self, vouched: dict[str, tuple[FileStamp, str]]) -> None:
        self._read_at_ns = time.time_ns()
        self.sources, errors = read_sources(self.files, self.explicit, vouched)
        self.errors = self.walk_errors + errors
        contents = [f"{source.display}:{source.digest}" for source in self.sources]
        self.key = run_key([*self._identity(), *contents, *self._errors()])

    def _identity(self) -> list[str]:
        """The working folder, the paths as named and the package folders that name the
        modules: with the files, all a run depends on."""
        if self._packages is None:
            self._packages = package_layout([file.path for file in self.files])
        return [str(Path.cwd()), *map(str, self.paths), "", *sorted(self.explicit), "", *self._packages, ""]

    def _errors(self) -> list[str]:
        return [f"{error.path}:{error.message}" for error in self.selected_errors]


class FoundFile(NamedTuple):
    path: str
    display: str


def find_files(
    paths: Sequence[Path], configuration: Configuration, *, force_exclude: bool = False
) -> tuple[list[FoundFile], list[Diagnostic], set[str], set[str]]:
    """The files to check, what could not be walked (SL000), the files named explicitly,
    and those read for facts only (excluded from the findings), by display path."""
    files, walk_errors, hidden = discover(paths, configuration, force_exclude=force_exclude)
    errors = [error_diagnostic(error.path, error.reason) for error in walk_errors]
    cwd = os.getcwd()
    found = [FoundFile(file, display_path(file, cwd)) for file in files]
    facts_only = {file.display for file in found if file.path in hidden} if hidden else set()
    explicit = {display_path(path, cwd) for path in paths if not path.is_dir()} - facts_only
    return found, errors, explicit, facts_only


def _not_python(file: FoundFile, explicit: set[str]) -> bool:
    """A file named explicitly that is no Python file (an SL000)."""
    return file.display in explicit and os.path.splitext(file.path)[1] not in PYTHON_SUFFIXES


def read_sources(
    files: Sequence[FoundFile], explicit: set[str], vouched: dict[str, tuple[FileStamp, str]] | None = None
) -> tuple[list[SourceFile], list[Diagnostic]]:
    """Each file's bytes; for files in `vouched` (display -> stamp and digest), only their
    digest, unread (`SourceFile.unread`)."""
    sources, errors = [], []
    for file in files:
        if _not_python(file, explicit):
            errors.append(
                error_diagnostic(file.display, f"not a Python file (expected {' or '.join(PYTHON_SUFFIXES)})")
            )
            continue
        if vouched and file.display in vouched:
            stamp, digest = vouched[file.display]
            sources.append(SourceFile.unread(file.display, stamp, digest))
            continue
        path = Path(file.path)
        try:
            data, stamp = read_file(path)
        except UnreadableSource as error:
            errors.append(error_diagnostic(file.display, error.reason))
            continue
        sources.append(SourceFile(path, file.display, data, stamp=stamp))
    return sources, errors


def _stamps(files: Sequence[FoundFile], explicit: set[str]) -> dict[str, FileStamp] | None:
    """Each file's stamp, as `read_sources` would read it; None when a file would be an SL000."""
    stamps = {}
    for file in files:
        if _not_python(file, explicit):
            return None
        try:
            stamps[file.display] = stamp_of(os.stat(file.path))
        except OSError:
            return None
    return stamps
