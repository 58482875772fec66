"""Steps of the passes the workspace runs: the triage's answer for a file, the facts of
files outside the run that the cache holds, and the rule pass with findings reused from
the cache where nothing they depended on changed.

Loaded only once the run knows it has work to do: a run over unchanged files answers
from the cache without importing the engine, the rules or LibCST.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

from sessionlint.cache.store import Cache, CachedFindings
from sessionlint.discover.files import ProjectWalk
from sessionlint.facts.engine import Engine
from sessionlint.facts.factpass import cache_key
from sessionlint.facts.filestate import FileState, LintResult
from sessionlint.parallel import parallel_map, parallel_map_forks
from sessionlint.project.index import FunctionRef, ProjectFacts
from sessionlint.read.sources import SourceFile
from sessionlint.report.run import RunReport
from sessionlint.settings.codes import UNUSED_NOQA
from sessionlint.triage.triage import Triage

# Bytes of source worth a worker of the rule pass: LibCST parses a few hundred KB a second,
# so a handful of large modules (a database layer) is worth a fork.
RULES_BYTES_PER_WORKER = 96_000


def read_paths(items: Sequence[SourceFile] | Sequence[FileState]) -> list[str]:
    """The absolute paths of files read from disk."""
    sources = [item.source if isinstance(item, FileState) else item for item in items]
    return [str(source.path.absolute()) for source in sources if source.path is not None]


def cached_neighbours(
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


def lint_all(
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

    def lint(index: int) -> tuple[LintResult, CachedFindings | None, dict[str, frozenset[FunctionRef]]]:
        state = states[index]
        known = set(project.known_indexes())
        project.record_answers()
        result = engine.lint(state, project)
        answers, lookups = project.recorded_answers(), project.recorded_lookups()
        # Indexes this check built (in a worker: lost with it unless handed back).
        built = {name: index for name, index in project.known_indexes().items() if name not in known}
        if state.facts is None or result.internal_errors:
            return result, None, built
        # The modules the rules actually consulted, not the whole import closure: touching
        # a module every file imports re-checks only the files whose findings read it.
        findings = CachedFindings(result.diagnostics, lookups, answers, state.rule_codes, os.getcwd())
        return result, findings, built

    sizes = [len(states[index].source.data) for index in misses]
    if parallel_map_forks(jobs, sizes, RULES_BYTES_PER_WORKER):
        # Indexes a check builds when it first needs them: built once here, not in each worker.
        project.build_context_indexes()
    checked = parallel_map(lint, misses, jobs, sizes=sizes, min_size_per_worker=RULES_BYTES_PER_WORKER)
    for index, (result, findings, built) in zip(misses, checked):
        project.adopt_indexes(built)
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
