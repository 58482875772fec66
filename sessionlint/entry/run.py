"""A whole run: find and read the files, then answer from the cache or run the passes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sessionlint.cache.store import DEFAULT_DIRECTORY as DEFAULT_CACHE_DIRECTORY
from sessionlint.cache.store import Cache
from sessionlint.discover.scope import files_outside
from sessionlint.read.inputs import RunInputs
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.report.run import FixedFile, RunOptions, RunReport
from sessionlint.settings.config import Settings
from sessionlint.settings.configuration import Configuration

__all__ = [
    "FixedFile",
    "RunOptions",
    "RunReport",
    "check_paths",
    "check_source",
    "check_stdin",
]


def check_paths(
    paths: Sequence[Path], settings: Settings | Configuration, options: RunOptions | None = None
) -> RunReport:
    """Check (or fix) the files under `paths`, each under its own settings: those of a
    `Configuration`, or one `Settings` for all."""
    options = options or RunOptions()
    report = RunReport()
    configuration = settings if isinstance(settings, Configuration) else Configuration.of(settings)
    inputs = RunInputs(paths, configuration, force_exclude=options.force_exclude)
    settings = inputs.settings
    report.settings = settings
    report.lap("discover")
    # One cache per project: at the root of the configuration that applies (see
    # `Configuration.project_root`), wherever the command runs from.
    cache = (
        Cache.load(options.cache_dir or settings.root / DEFAULT_CACHE_DIRECTORY, settings)
        if options.use_cache
        else Cache.disabled()
    )
    checking = not (options.fix or options.diff)
    if checking:
        inputs.use_cache(cache)
    report.lap("cache")
    previous = inputs.findings_of_a_recent_run() if checking else None
    report.lap("read")
    report.files_seen = inputs.files_seen
    if previous is not None:
        report.diagnostics = previous
        report.reused_last_run = True
        return report
    # Past this point the run parses and checks: the machinery is imported only now.
    shape = inputs.shape() if checking and cache.path else None
    if shape is not None and not options.exhaustive:
        from sessionlint.cache.incremental import recheck

        # Only the files whose stamps changed were read: an incremental run needs no more.
        if recheck(
            paths, inputs.sources, inputs.explicit, settings, cache, shape, report, inputs.source_paths
        ):
            report.diagnostics.extend(inputs.selected_errors)
            report.lap("incremental")
            _keep_selected(report, settings)
            inputs.remember(report.diagnostics)
            report.lap("cache")
            return report
        report.lap("incremental")
    inputs.read_all()
    report.lap("read")
    sources, explicit = inputs.sources, inputs.explicit
    report.diagnostics.extend(inputs.selected_errors)
    from sessionlint.entry.batch import run_batch

    self_contained = run_batch(
        paths, sources, explicit, settings, options, cache, report, None if options.exhaustive else shape
    )
    _keep_selected(report, settings)
    # Findings that used other files' cached facts depend on more than this run's inputs.
    if checking and not report.internal_errors and self_contained:
        inputs.remember(report.diagnostics)
    report.lap("cache")
    return report


def _keep_selected(report: RunReport, settings: Settings) -> None:
    """The findings each file's settings select (an SL000 of a file excluded from the
    findings, one of a file whose configuration ignores it), in order."""
    report.diagnostics = [d for d in report.diagnostics if settings.is_selected(d.code, d.path)]
    report.diagnostics.sort(key=Diagnostic.sort_key)


def check_stdin(
    data: bytes, filename: str, settings: Settings, options: RunOptions
) -> tuple[RunReport, bytes | None]:
    """Check source read from stdin as if it were `filename`; with a fix, also the fixed
    source, byte for byte as `--fix` would write it (the input itself when nothing changes)."""
    from sessionlint.workspace import Workspace

    report = RunReport(files_seen=1)
    named = Path(filename)

    def alone() -> bool:
        """The buffer alone is the whole project only when no other module sits beside it."""
        return filename != "-" and not files_outside([named], settings, [str(named.absolute())])

    workspace = Workspace.of_buffer(filename, data, settings, alone=alone, report=report)
    if options.fix or options.diff:
        fixed = workspace.fix([filename], unsafe=options.unsafe_fixes)[filename]
        report.lap("fixes")
        report.diagnostics, report.internal_errors = fixed.diagnostics, fixed.internal_errors
        if fixed.fixed is None:
            return report, data
        report.fixed_files.append(fixed.fixed)
        return report, fixed.fixed.fixed_data
    check = workspace.check([filename])[filename]
    report.lap("rules")
    report.diagnostics, report.internal_errors = check.diagnostics, check.internal_errors
    return report, None


def check_source(
    source: str, path: str = "<stdin>", settings: Settings | None = None, *, complete: bool = False
) -> list[Diagnostic]:
    """Check one module's source text on its own (no other files are known). `complete`:
    the module is the whole project (rules that need "nothing else in the project does X"
    conclude only then)."""
    from sessionlint.workspace import Workspace

    workspace = Workspace.of_buffer(path, source, settings or Settings(), alone=complete)
    return workspace.check([path])[path].diagnostics
