"""The passes of a run that parses and checks: facts, triage, rules, fixes.

Loaded only once the run knows it has work to do: a run over unchanged files answers
from the cache without importing the engine, the rules or LibCST.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

from sessionlint.cache import Cache, CachedFindings
from sessionlint.codes import UNUSED_NOQA
from sessionlint.config import Settings
from sessionlint.engine import Engine, FileState, LintResult
from sessionlint.factpass import analyze_all, cache_key, fact_pass, reach_signatures
from sessionlint.files import ProjectWalk
from sessionlint.fixer import ConcurrentModification, fix_file, write_atomically
from sessionlint.incremental import discard_snapshot, save_snapshot
from sessionlint.parallel import parallel_map, return_freed_memory
from sessionlint.report import FixedFile, RunOptions, RunReport
from sessionlint.scope import files_outside, names_root
from sessionlint.semantics.project import ProjectFacts
from sessionlint.semantics.triage import Triage
from sessionlint.sources import SourceFile, decode


def run_passes(
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
    engine = Engine(settings, roots=paths)
    followed = None
    if options.exhaustive:
        states = analyze_all(engine, list(sources), cache, options.jobs)
    else:
        states, followed = fact_pass(engine, sources, explicit, cache, options.jobs)
    report.lap("facts")
    neighbours = _cached_neighbours(cache, engine, sources, paths)
    # Modules of the project this run did not read, and whose facts the cache does not hold.
    unknown = files_outside(paths, settings, _read_paths(sources)) - set(_read_paths(neighbours))
    project = engine.build_project([*states, *neighbours], complete=not unknown)
    report.lap("project index")
    triage = Triage(project)
    codes = engine.selected_codes
    to_check = [
        state
        for state in states
        if state.source.display not in settings.facts_only  # excluded: facts only, no findings
        and (options.exhaustive or assign_rules(state, triage, codes, engine))
    ]
    report.lap("triage")
    report.files_analyzed = len(states)
    report.files_checked = len(to_check)
    if options.fix or options.diff:
        for state in to_check:
            project = fix_one(engine, state, project, options, report)
        report.lap("fixes")
        discard_snapshot(cache)  # the next check measures the fixed files against a new one
        cache.save()
        report.lap("cache")
        return _self_contained(paths, settings, neighbours, unknown)
    # What the fact pass read of every file is taken for the snapshot now: then the bytes of
    # the files the rules will not read are let go, before the rule pass forks its workers.
    snapshot_wanted = shape is not None and followed is not None and not neighbours
    signatures = reach_signatures(engine, sources, explicit, followed) if snapshot_wanted else {}
    report.lap("cache")
    _release_unread(sources, to_check)
    results, report.files_from_cache = _lint_all(engine, to_check, project, cache, options.jobs, report)
    report.lap("rules")
    for result in results:
        report.diagnostics.extend(result.diagnostics)
        report.internal_errors.extend(result.internal_errors)
    if shape is not None and followed is not None and snapshot_wanted and not report.internal_errors:
        checked = {state.source.display: result.diagnostics for state, result in zip(to_check, results)}
        save_snapshot(
            cache, shape, engine, sources, states, checked, signatures, followed, project.known_indexes()
        )
    else:
        # This run leaves no snapshot, and may have cached facts of files outside the last
        # one's: a run of that shape would now use them (see `_cached_neighbours`), which an
        # incremental run from its snapshot cannot. Only a full run over those files again
        # decides what they need.
        discard_snapshot(cache)
    cache.save()
    report.lap("cache")
    return _self_contained(paths, settings, neighbours, unknown)


def _self_contained(
    paths: Sequence[Path], settings: Settings, neighbours: list[FileState], unknown: set[str]
) -> bool:
    """No other file's cached facts were used, and knowing the whole project (which makes
    some fixes safe) cannot end with a file added outside the paths named."""
    return not neighbours and (bool(unknown) or names_root(paths, settings))


def _read_paths(items: Sequence[SourceFile] | Sequence[FileState]) -> list[str]:
    """The absolute paths of files read from disk."""
    sources = [item.source if isinstance(item, FileState) else item for item in items]
    return [str(source.path.absolute()) for source in sources if source.path is not None]


def _release_unread(sources: Sequence[SourceFile], to_check: Sequence[FileState]) -> None:
    """Drop the bytes no pass will read again, and give the memory back to the system: the
    rule pass's workers are forked from this process, and every page it holds counts again
    in each of them (40 MB of a 300 MB budget on a large tree)."""
    keep = {id(state.source) for state in to_check}
    for source in sources:
        if id(source) not in keep:
            source.release()
    return_freed_memory()


def _cached_neighbours(
    cache: Cache, engine: Engine, sources: Sequence[SourceFile], paths: Sequence[Path]
) -> list[FileState]:
    """Facts of files outside this run that a previous run cached and that still hold.

    Checking a few files (pre-commit passes the changed ones, an editor one buffer) then
    still knows the factories and dependencies defined elsewhere in the project. Only
    files of this project as it is now count: a walk of its root reaches them (not
    excluded, not ignored by a `.gitignore` since), they are not below a folder this run
    walked without finding them, their bytes are those cached, and they are still the
    same module (an `__init__.py` added or removed renames it).
    """
    if cache.path is None or not cache.path.exists():
        return []
    in_run = {cache_key(source) for source in sources}
    walked = tuple(os.path.join(os.path.abspath(path), "") for path in paths if path.is_dir())
    project = ProjectWalk(engine.settings)
    neighbours = []
    for key, entry in cache.entries.items():
        if key in in_run or entry.facts is None or key.startswith(walked) or not project.reaches(key):
            continue
        try:
            data = Path(key).read_bytes()
        except OSError:
            continue  # deleted since: its facts no longer hold
        source = SourceFile(Path(key), key, data)
        # The module name and kind, which `__init__.py` files decide (its aliases follow
        # the paths a run names, and differ between runs over other folders).
        if source.digest == entry.digest and engine.identity(source)[:2] == entry.identity[:2]:
            entry.facts.path = source.display  # as this run names it (evidence cites it)
            neighbours.append(FileState(source, facts=entry.facts))
    return neighbours


def _lint_all(
    engine: Engine,
    states: list[FileState],
    project: ProjectFacts,
    cache: Cache,
    jobs: int | None,
    report: RunReport,
) -> tuple[list[LintResult], int]:
    """Findings from the cache where nothing they depended on changed; the rules elsewhere."""
    results: list[LintResult | None] = []
    misses: list[int] = []
    for index, state in enumerate(states):
        findings = state.cached.findings if state.cached is not None else None
        if state.error is not None:
            results.append(LintResult([state.error]))  # an SL000: nothing to parse or check
        elif (
            findings is not None
            and findings.covers(state.rule_codes)
            and project.lookups_still_hold(findings.lookups)
            and project.answers_still_hold(findings.answers)
        ):
            results.append(LintResult(findings.relocated(state.source.display)))
        else:
            results.append(None)
            misses.append(index)

    report.lap("rules")
    if misses:
        # Loaded once here rather than in each worker: forked workers share what the parent
        # holds (LibCST and the rules, the project's indexes) instead of each building its own.
        engine.load_rules()
        report.lap("rules")
        project.build_indexes()
        report.lap("project index")
        # Each file's check starts from an empty memo anyway: emptied here, not in each
        # worker, where freeing the triage's answers would copy the pages holding them.
        project.forget_answers()

    def lint(index: int) -> tuple[LintResult, CachedFindings | None]:
        state = states[index]
        project.record_answers()
        result = engine.lint(state, project)
        answers, lookups = project.recorded_answers(), project.recorded_lookups()
        if state.facts is None or result.internal_errors:
            return result, None
        # The modules the rules actually consulted, not the whole import closure: touching
        # a module every file imports re-checks only the files whose findings read it.
        return result, CachedFindings(result.diagnostics, lookups, answers, state.rule_codes, os.getcwd())

    for index, (result, findings) in zip(misses, parallel_map(lint, misses, jobs)):
        results[index] = result
        state = states[index]
        if findings is not None and state.cached is not None:
            cache.put(cache_key(state.source), replace(state.cached, findings=findings))
    return [result for result in results if result is not None], len(states) - len(misses)


def assign_rules(state: FileState, triage: Triage, codes: Collection[str], engine: Engine) -> bool:
    """Note on the state which rules could flag something in the file (only those run);
    True when there are any, or an error to report."""
    if state.facts is None or not state.facts.complete:
        return True  # an SL000 to report, or a file only LibCST can parse: its facts are partial
    if state.facts.shallow:
        return False  # only imported from: it names nothing a rule is about
    # SL100's candidates are read from the bytes, not the facts (see `Engine.reviews_noqa`).
    noqa = {UNUSED_NOQA} if UNUSED_NOQA in codes and engine.reviews_noqa(state.source) else set()
    state.rule_codes = triage.candidate_codes(state.facts, set(codes) - {UNUSED_NOQA}) | noqa
    return bool(state.rule_codes)


def fix_one(
    engine: Engine, state: FileState, project: ProjectFacts, options: RunOptions, report: RunReport
) -> ProjectFacts:
    # The fact pass may have decoded the file in a worker process: decode it here too.
    original_text = decode(state.source) if state.error is None else None
    original_bytes = state.source.data
    project_before = project
    outcome, project = fix_file(engine, state, project, unsafe=options.unsafe_fixes)
    result = outcome.result
    if (
        outcome.fixed
        and original_text is not None
        and outcome.text is not None
        and outcome.text != original_text
    ):
        fixed = FixedFile(
            state.source.display,
            outcome.fixed,
            original_text,
            outcome.text,
            outcome.state.source.data,
            original_bytes,
            dict(outcome.applied),
        )
        report.fixed_files.append(fixed)
        if options.fix and not options.diff and state.source.path is not None:
            try:
                write_atomically(state.source.path, original_bytes, outcome.state.source.data)
            except (ConcurrentModification, OSError) as error:
                report.write_errors.append(f"{state.source.display}: {error}")
                # Nothing was written: the file keeps the findings of its original content.
                report.fixed_files.remove(fixed)
                project = project_before
                result = LintResult(engine.lint(state, project).diagnostics, outcome.result.internal_errors)
    report.diagnostics.extend(result.diagnostics)
    report.internal_errors.extend(result.internal_errors)
    return project
