"""A whole run: discover and read the files, then answer from the cache or run the passes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sessionlint.cache import DEFAULT_DIRECTORY as DEFAULT_CACHE_DIRECTORY
from sessionlint.cache import Cache, run_key
from sessionlint.config import Settings
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import PYTHON_SUFFIXES, discover
from sessionlint.report import FixedFile, RunOptions, RunReport
from sessionlint.sources import SourceFile, UnreadableSource, display_path, error_diagnostic, read_bytes

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
    files, walk_errors = discover(paths, settings)
    errors = [error_diagnostic(error.path, error.reason) for error in walk_errors]
    explicit = {display_path(path) for path in paths if not path.is_dir()}
    sources = []
    cwd = os.getcwd()
    for path in files:
        display = display_path(path, cwd)
        if display in explicit and path.suffix not in PYTHON_SUFFIXES:
            errors.append(
                error_diagnostic(display, f"not a Python file (expected {' or '.join(PYTHON_SUFFIXES)})")
            )
            continue
        try:
            sources.append(SourceFile(path, display, read_bytes(path)))
        except UnreadableSource as error:
            errors.append(error_diagnostic(display, error.reason))
    return sources, errors, explicit


def check_paths(paths: Sequence[Path], settings: Settings, options: RunOptions | None = None) -> RunReport:
    options = options or RunOptions()
    report = RunReport()
    sources, errors, explicit = load_sources(paths, settings)
    report.files_seen = len(sources) + len(errors)
    report.diagnostics.extend(d for d in errors if settings.is_selected(d.code, d.path))
    cache = (
        Cache.load(options.cache_dir or settings.root / DEFAULT_CACHE_DIRECTORY, settings)
        if options.use_cache
        else Cache.disabled()
    )
    checking = not (options.fix or options.diff)
    key = _run_key(sources, report.diagnostics, explicit)
    previous = cache.last_run(key) if checking else None
    if previous is not None:
        report.diagnostics = previous
        report.reused_last_run = True
        return report
    # Past this point the run parses and checks: the machinery is imported only now.
    shape = _shape_key(paths, sources, report.diagnostics, explicit) if checking and cache.path else None
    if shape is not None and not options.exhaustive:
        from sessionlint.incremental import recheck

        if recheck(paths, sources, explicit, settings, cache, shape, report):
            report.diagnostics.sort(key=Diagnostic.sort_key)
            cache.save_last_run(key, report.diagnostics)
            return report
    from sessionlint.passes import run_passes

    self_contained = run_passes(
        paths, sources, explicit, settings, options, cache, report, None if options.exhaustive else shape
    )
    report.diagnostics.sort(key=Diagnostic.sort_key)
    # Findings that used other files' cached facts depend on more than this run's inputs.
    if checking and not report.internal_errors and self_contained:
        cache.save_last_run(key, report.diagnostics)
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
