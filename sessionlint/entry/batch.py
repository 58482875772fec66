"""One command-line run over a workspace: check, or fix and write; then the cache for the next run.

Loaded only once the run knows it has work to do (see `run`): a run over unchanged files
answers from the cache without importing the workspace, the engine, the rules or LibCST.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sessionlint.cache.incremental import save_snapshot
from sessionlint.cache.snapshot import discard_snapshot
from sessionlint.cache.store import Cache
from sessionlint.discover.scope import names_root
from sessionlint.facts.factpass import cache_key, reach_signatures
from sessionlint.facts.filestate import FileState
from sessionlint.fixes.fixer import ConcurrentModification, write_atomically
from sessionlint.parallel import return_freed_memory
from sessionlint.read.sources import SourceFile
from sessionlint.report.run import FixedFile, RunOptions, RunReport
from sessionlint.settings.config import Settings
from sessionlint.workspace import Workspace


def run_batch(
    paths: Sequence[Path],
    sources: Sequence[SourceFile],
    explicit: set[str],
    settings: Settings,
    options: RunOptions,
    cache: Cache,
    report: RunReport,
    shape: str | None = None,
) -> bool:
    """Check (or fix) `sources` into `report`. True when the findings depend on this run's
    files alone (no other file's cached facts were used): a later run over the same files
    may reuse them. With a `shape` (see `incremental`), such a check leaves a snapshot
    for later incremental runs."""
    workspace = Workspace.of_run(paths, sources, explicit, settings, cache, options, report)
    report.files_analyzed = len(workspace.states)
    report.files_checked = len(workspace.checked)
    if options.fix or options.diff:
        _fix(workspace, options, report)
        discard_snapshot(cache)  # the next check measures the fixed files against a new one
    else:
        _check(workspace, sources, explicit, cache, report, shape)
    cache.save()
    report.lap("cache")
    return not workspace.neighbours and (bool(workspace.unknown) or names_root(paths, settings))


def _fix(workspace: Workspace, options: RunOptions, report: RunReport) -> None:
    """Fix every file in turn, writing each (unless `--diff`) before the next is fixed."""
    path_of = {source.display: source.path for source in workspace.sources}

    def write(fixed: FixedFile) -> bool:
        path = path_of.get(fixed.display)
        if not options.fix or options.diff or path is None:
            return True
        try:
            write_atomically(path, fixed.original_data, fixed.fixed_data)
        except (ConcurrentModification, OSError) as error:
            # Nothing was written: the file keeps the findings of its original content.
            report.write_errors.append(f"{fixed.display}: {error}")
            return False
        return True

    for file_fix in workspace.fix(unsafe=options.unsafe_fixes, accept=write).values():
        if file_fix.fixed is not None:
            report.fixed_files.append(file_fix.fixed)
        report.diagnostics.extend(file_fix.diagnostics)
        report.internal_errors.extend(file_fix.internal_errors)
    report.lap("fixes")


def _check(
    workspace: Workspace,
    sources: Sequence[SourceFile],
    explicit: set[str],
    cache: Cache,
    report: RunReport,
    shape: str | None,
) -> None:
    engine, followed, checked = workspace.engine, workspace.followed, workspace.checked
    # What the fact pass read of every file is taken for the snapshot now: then the bytes of
    # the files the rules will not read are let go, before the rule pass forks its workers.
    snapshot_wanted = shape is not None and followed is not None and not workspace.neighbours
    signatures = (
        reach_signatures(engine, sources, explicit, followed)
        if snapshot_wanted and followed is not None
        else {}
    )
    report.lap("cache")
    _release_unread(sources, checked)
    every = workspace.check(report=report)
    report.lap("rules")
    checks = [every[cache_key(state.source)] for state in checked]
    for check in checks:
        report.diagnostics.extend(check.diagnostics)
        report.internal_errors.extend(check.internal_errors)
    if shape is not None and followed is not None and snapshot_wanted and not report.internal_errors:
        found = {check.display: check.diagnostics for check in checks}
        save_snapshot(
            cache,
            shape,
            engine,
            sources,
            workspace.states,
            found,
            signatures,
            followed,
            workspace.project,
        )
    else:
        # This run leaves no snapshot, and may have cached facts of files outside the last
        # one's: a run of that shape would now use them (see `passes.cached_neighbours`),
        # which an incremental run from its snapshot cannot. Only a full run over those
        # files again decides what they need.
        discard_snapshot(cache)


def _release_unread(sources: Sequence[SourceFile], to_check: Sequence[FileState]) -> None:
    """Drop the bytes no pass will read again, and give the memory back to the system: the
    rule pass's workers are forked from this process, and every page it holds counts again
    in each of them (40 MB of a 300 MB budget on a large tree)."""
    keep = {id(state.source) for state in to_check}
    for source in sources:
        if id(source) not in keep:
            source.release()
    return_freed_memory()
