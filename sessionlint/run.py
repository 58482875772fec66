"""A whole run: discover and read the files, then answer from the cache or run the passes."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from sessionlint.cache import DEFAULT_DIRECTORY as DEFAULT_CACHE_DIRECTORY
from sessionlint.cache import Cache, run_key
from sessionlint.config import Settings
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import PYTHON_SUFFIXES, discover
from sessionlint.report import FixedFile, RunOptions, RunReport
from sessionlint.sources import (
    FileStamp,
    SourceFile,
    UnreadableSource,
    display_path,
    error_diagnostic,
    read_file,
    stamp_of,
)

__all__ = [
    "FixedFile",
    "RunOptions",
    "RunReport",
    "check_paths",
    "check_source",
    "check_stdin",
    "load_sources",
]


def load_sources(
    paths: Sequence[Path], settings: Settings
) -> tuple[list[SourceFile], list[Diagnostic], set[str]]:
    """Every file to check, read as bytes; unreadable paths become SL000 diagnostics."""
    files, walk_errors, explicit = find_files(paths, settings)
    sources, errors = read_sources(files, explicit)
    return sources, walk_errors + errors, explicit


class FoundFile(NamedTuple):
    path: str
    display: str


def find_files(
    paths: Sequence[Path], settings: Settings
) -> tuple[list[FoundFile], list[Diagnostic], set[str]]:
    """The files to check, what could not be walked (SL000), and the files named explicitly."""
    files, walk_errors = discover(paths, settings)
    errors = [error_diagnostic(error.path, error.reason) for error in walk_errors]
    explicit = {display_path(path) for path in paths if not path.is_dir()}
    cwd = os.getcwd()
    return [FoundFile(file, display_path(file, cwd)) for file in files], errors, explicit


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


def check_paths(paths: Sequence[Path], settings: Settings, options: RunOptions | None = None) -> RunReport:
    options = options or RunOptions()
    report = RunReport()
    cache = (
        Cache.load(options.cache_dir or settings.root / DEFAULT_CACHE_DIRECTORY, settings)
        if options.use_cache
        else Cache.disabled()
    )
    checking = not (options.fix or options.diff)
    files, walk_errors, explicit = find_files(paths, settings)
    stamps = _stamps(files, explicit) if cache.path is not None and not walk_errors else None
    stamp_shape = run_key([str(Path.cwd()), *sorted(explicit), "", *stamps]) if stamps is not None else ""
    book, last_key = cache.stamp_book(stamp_shape) if stamps is not None else ({}, "")
    # Digests the files' stamps vouch for: same size, times, inode and device as the bytes
    # the last run read (see `Cache.save_stamps`).
    vouched = {
        display: book[display]
        for display, stamp in (stamps or {}).items()
        if display in book and book[display][0] == stamp
    }
    if checking and stamps and len(vouched) == len(stamps):
        # Nothing changed since the last run: no file is read.
        previous = cache.last_run(last_key)
        if previous is not None:
            report.files_seen = len(files)
            report.diagnostics = previous
            report.reused_last_run = True
            return report
    read_at_ns = time.time_ns()

    def load(vouching: dict[str, tuple[FileStamp, str]]) -> tuple[list[SourceFile], list[Diagnostic]]:
        sources, errors = read_sources(files, explicit, vouching)
        return sources, walk_errors + errors

    # Files the stamps vouch for are read only if the run goes beyond the shortcut below.
    sources, errors = load(vouched if checking else {})
    selected_errors = [d for d in errors if settings.is_selected(d.code, d.path)]
    key = _run_key(sources, selected_errors, explicit)

    def remember(diagnostics: list[Diagnostic]) -> None:
        cache.save_last_run(key, diagnostics)
        if stamps is not None and not errors:
            cache.save_stamps(stamp_shape, sources, key, read_at_ns)

    # Nothing changed since a recent run (an edit undone), as the files' bytes tell.
    previous = cache.last_run(key) if checking else None
    if previous is not None:
        remember(previous)  # the newest again, and the stamps of these bytes
        report.files_seen = len(sources) + len(errors)
        report.diagnostics = previous
        report.reused_last_run = True
        return report
    if any(source.is_unread for source in sources):
        sources, errors = load({})  # the run goes on: every file's bytes, as they are now
        selected_errors = [d for d in errors if settings.is_selected(d.code, d.path)]
        key = _run_key(sources, selected_errors, explicit)
    report.files_seen = len(sources) + len(errors)
    report.diagnostics.extend(selected_errors)
    # Past this point the run parses and checks: the machinery is imported only now.
    shape = _shape_key(paths, sources, report.diagnostics, explicit) if checking and cache.path else None
    if shape is not None and not options.exhaustive:
        from sessionlint.incremental import recheck

        if recheck(paths, sources, explicit, settings, cache, shape, report):
            report.diagnostics.sort(key=Diagnostic.sort_key)
            remember(report.diagnostics)
            return report
    from sessionlint.passes import run_passes

    self_contained = run_passes(
        paths, sources, explicit, settings, options, cache, report, None if options.exhaustive else shape
    )
    report.diagnostics.sort(key=Diagnostic.sort_key)
    # Findings that used other files' cached facts depend on more than this run's inputs.
    if checking and not report.internal_errors and self_contained:
        remember(report.diagnostics)
    return report


def _run_key(sources: Sequence[SourceFile], errors: list[Diagnostic], explicit: set[str]) -> str:
    """Every input of a run: the working folder, each file and its content, what failed to load."""
    parts = [str(Path.cwd()), *sorted(explicit)]
    parts += [f"{source.display}:{source.digest}" for source in sources]
    parts += [f"{error.path}:{error.message}" for error in errors]
    return run_key(parts)


def _shape_key(
    paths: Sequence[Path], sources: Sequence[SourceFile], errors: list[Diagnostic], explicit: set[str]
) -> str:
    """A run's inputs but the files' contents: runs of one shape may be incremental."""
    parts = [str(Path.cwd()), *map(str, paths), "", *sorted(explicit), ""]
    parts += [source.display for source in sources]
    parts += [f"{error.path}:{error.message}" for error in errors]
    return run_key(parts)


def check_stdin(
    data: bytes, filename: str, settings: Settings, options: RunOptions
) -> tuple[RunReport, bytes | None]:
    """Check source read from stdin as if it were `filename`; with a fix, also the fixed
    source, byte for byte as `--fix` would write it (the input itself when nothing changes)."""
    from sessionlint.engine import Engine
    from sessionlint.passes import fix_one

    report = RunReport(files_seen=1)
    engine = Engine(settings)
    source = SourceFile(None, filename, data)
    state = engine.analyze(source)
    project = engine.build_project([state])
    if options.fix or options.diff:
        fix_one(engine, state, project, options, report)
        return report, report.fixed_files[0].fixed_data if report.fixed_files else data
    result = engine.lint(state, project)
    report.diagnostics = result.diagnostics
    report.internal_errors = result.internal_errors
    return report, None


def check_source(source: str, path: str = "<stdin>", settings: Settings | None = None) -> list[Diagnostic]:
    """Check one module's source text on its own (no other files are known)."""
    from sessionlint.engine import Engine

    settings = settings or Settings()
    engine = Engine(settings)
    state = engine.analyze(SourceFile(None, path, source.encode("utf-8"), "utf-8", source))
    project = engine.build_project([state])
    return engine.lint(state, project).diagnostics
