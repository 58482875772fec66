"""The passes of a run that parses and checks: facts, triage, rules, fixes.

Loaded only once the run knows it has work to do: a run over unchanged files answers
from the cache without importing the engine, the rules or LibCST.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

from sessionlint.cache import Cache, CachedFindings, CacheEntry
from sessionlint.config import Settings
from sessionlint.diagnostics import Diagnostic
from sessionlint.engine import Engine, FileState, InternalError, LintResult, _word_pattern
from sessionlint.fixer import ConcurrentModification, fix_file, write_atomically
from sessionlint.parallel import parallel_map
from sessionlint.report import FixedFile, RunOptions, RunReport
from sessionlint.semantics.collect import relative_import_base
from sessionlint.semantics.facts import ModuleFacts
from sessionlint.semantics.project import ProjectFacts
from sessionlint.semantics.triage import Triage, names_worth_following
from sessionlint.sources import SourceFile, decode


def run_passes(
    paths: Sequence[Path],
    sources: Sequence[SourceFile],
    explicit: set[str],
    settings: Settings,
    options: RunOptions,
    cache: Cache,
    report: RunReport,
) -> bool:
    """Check (or fix) `sources` into `report`. True when the findings depend on this run's
    files alone (no other file's cached facts were used): a later run over the same files
    may reuse them."""
    engine = Engine(settings, roots=paths)
    engine.assign_identities(sources)
    if options.exhaustive:
        states = _analyze_all(engine, list(sources), cache, options.jobs)
    else:
        states = fact_pass(engine, sources, explicit, cache, options.jobs)
    neighbours = _cached_neighbours(cache, sources)
    project = engine.build_project([*states, *neighbours])
    triage = Triage(project)
    codes = engine.selected_codes
    to_check = [state for state in states if options.exhaustive or needs_rules(state, triage, codes)]
    report.files_analyzed = len(states)
    report.files_checked = len(to_check)
    if options.fix or options.diff:
        for state in to_check:
            project = fix_one(engine, state, project, options, report)
    else:
        results, report.files_from_cache = _lint_all(engine, to_check, project, cache, options.jobs)
        for result in results:
            report.diagnostics.extend(result.diagnostics)
            report.internal_errors.extend(result.internal_errors)
    cache.save()
    return not neighbours


def fact_pass(
    engine: Engine,
    sources: Sequence[SourceFile],
    explicit: set[str],
    cache: Cache | None = None,
    jobs: int | None = 1,
) -> list[FileState]:
    """Facts for every file that can matter; the others are read, never parsed.

    A file matters when it mentions the vocabulary (SQLAlchemy, SQLModel, the configured
    names), or when it imports a module that matters and mentions one of the names of that
    module that lead to a trigger (a factory, a session dependency, an alias). Those get
    full facts. A module that only gets imported from by such files (a settings module
    holding the database URL, a package re-exporting names) cannot hold a finding itself:
    only its module-level names are collected (`ModuleFacts.shallow`), and it gets full
    facts if a later round finds that it matters after all. Rounds repeat until no new
    file is reached.
    """
    cache = cache or Cache.disabled()
    pending = list(sources)
    states: list[FileState] = []
    shallow: list[FileState] = []
    followed = _FollowedNames()
    wanted_modules: set[str] = set()
    first_round = True
    while pending or shallow:
        if first_round:
            full = [s for s in pending if s.display in explicit or engine.mentions_vocabulary(s)]
            names_only: list[SourceFile] = []
        else:
            full = [s for s in pending if _uses_followed(engine, s, followed)]
            full_ids = {id(s) for s in full}
            names_only = [
                s for s in pending if id(s) not in full_ids and _module_names(engine, s) & wanted_modules
            ]
            upgraded = [state for state in shallow if _uses_followed(engine, state.source, followed)]
            if upgraded:
                upgraded_ids = {id(state) for state in upgraded}
                shallow = [state for state in shallow if id(state) not in upgraded_ids]
                states = [state for state in states if id(state) not in upgraded_ids]
                full += [state.source for state in upgraded]
        if not full and not names_only:
            break
        first_round = False
        reached = {id(s) for s in (*full, *names_only)}
        pending = [s for s in pending if id(s) not in reached]
        new_states = _analyze_all(engine, full, cache, jobs)
        new_shallow = _analyze_all(engine, names_only, cache, jobs, shallow=True)
        shallow += [state for state in new_shallow if state.facts is not None and state.facts.shallow]
        new_states += new_shallow
        states.extend(new_states)
        facts = [state.facts for state in new_states if state.facts is not None]
        triage = Triage(engine.build_project(states))
        for module in facts:
            names = names_worth_following(module, triage)
            if names:
                for name in (module.module, *module.aliases):
                    followed.add(name, names)
        wanted_modules = {
            prefix for f in facts for target in f.imports.values() for prefix in _prefixes(target)
        }
    return states


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import\b|import[ \t]+([\w.]+))", re.MULTILINE)


class _FollowedNames:
    """Modules that matter and their names worth following, looked up by import target.

    An import of `app.db` relates to `app.db` itself, to its submodules (`import app`
    then `app.db.get_db`) and to its parent packages (`from app.db.session import ...`
    when `app.db` re-exports): each lookup walks the target's prefixes instead of every
    module, since a project can hold thousands of them.
    """

    def __init__(self) -> None:
        self.by_module: dict[str, set[str]] = {}
        self.below: dict[str, set[str]] = {}  # package -> names of the modules inside it

    def __bool__(self) -> bool:
        return bool(self.by_module)

    def add(self, module: str, names: set[str]) -> None:
        self.by_module.setdefault(module, set()).update(names)
        parts = module.split(".")
        for end in range(1, len(parts)):
            self.below.setdefault(".".join(parts[:end]), set()).update(names)

    def names_for(self, target: str) -> set[str]:
        names = set(self.by_module.get(target, ()))
        names |= self.below.get(target, set())
        parts = target.split(".")
        for end in range(1, len(parts)):
            names |= self.by_module.get(".".join(parts[:end]), set())
        return names


def _uses_followed(engine: Engine, source: SourceFile, followed: _FollowedNames) -> bool:
    """Imports a module that matters and mentions one of its names worth following."""
    if not followed:
        return False
    names: set[str] = set()
    for target in _import_targets(engine, source):
        names |= followed.names_for(target)
    if not names:
        return False
    pattern = _names_pattern(frozenset(names))
    return pattern is not None and pattern.search(source.data) is not None


@functools.lru_cache(maxsize=256)
def _names_pattern(names: frozenset[str]) -> re.Pattern[bytes] | None:
    return _word_pattern(names)


def _import_targets(engine: Engine, source: SourceFile) -> list[str]:
    """The absolute module names a file's import statements name (read from the bytes)."""
    if source.import_targets is None:
        name, is_package, _ = engine.identity(source)
        targets = []
        for dots, module, plain in _IMPORT.findall(source.data):
            if plain:
                targets.append(plain.decode("ascii", "replace"))
                continue
            relative = module.decode("ascii", "replace")
            if dots:
                base = relative_import_base(name, is_package, len(dots))
                if base is None:
                    continue
                relative = f"{base}.{relative}" if base and relative else base or relative
            targets.append(relative)
        source.import_targets = targets
    return source.import_targets


def _analyze_all(
    engine: Engine, sources: list[SourceFile], cache: Cache, jobs: int | None, *, shallow: bool = False
) -> list[FileState]:
    """Facts from the cache where the file is unchanged, from the fact pass elsewhere
    (`shallow`: module-level names are enough)."""
    states: list[FileState | None] = []
    misses: list[int] = []
    for index, source in enumerate(sources):
        entry = cache.get(_cache_key(source), source.digest, engine.identity(source))
        if entry is not None and entry.facts is not None and entry.facts.shallow and not shallow:
            entry = None  # full facts wanted: read the file again
        if entry is None:
            misses.append(index)
            states.append(None)
        else:
            states.append(FileState(source, facts=entry.facts, error=entry.error, cached=entry))

    def analyze(index: int) -> tuple[ModuleFacts | None, Diagnostic | None, InternalError | None]:
        state = engine.analyze(sources[index], shallow=shallow)
        return state.facts, state.error, state.internal_error

    for index, (facts, error, crash) in zip(misses, parallel_map(analyze, misses, jobs)):
        source = sources[index]
        if crash is not None:  # never cached: the next run tries again
            states[index] = FileState(source, internal_error=crash)
            continue
        entry = CacheEntry(source.digest, engine.identity(source), facts, error)
        cache.put(_cache_key(source), entry)
        states[index] = FileState(source, facts=facts, error=error, cached=entry)
    return [state for state in states if state is not None]


def _cached_neighbours(cache: Cache, sources: Sequence[SourceFile]) -> list[FileState]:
    """Facts of files outside this run that a previous run cached and that are unchanged.

    Checking a few files (pre-commit passes the changed ones, an editor one buffer) then
    still knows the factories and dependencies defined elsewhere in the project.
    """
    if cache.path is None or not cache.path.exists():
        return []
    in_run = {_cache_key(source) for source in sources}
    neighbours = []
    for key, entry in cache.entries.items():
        if key in in_run or entry.facts is None:
            continue
        try:
            data = Path(key).read_bytes()
        except OSError:
            continue  # deleted since: its facts no longer hold
        source = SourceFile(Path(key), key, data)
        if source.digest == entry.digest:
            neighbours.append(FileState(source, facts=entry.facts))
    return neighbours


def _cache_key(source: SourceFile) -> str:
    return str(source.path.absolute()) if source.path is not None else source.display


def _module_names(engine: Engine, source: SourceFile) -> set[str]:
    name, _, aliases = engine.identity(source)
    return {name, *aliases}


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _lint_all(
    engine: Engine, states: list[FileState], project: ProjectFacts, cache: Cache, jobs: int | None
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
            results.append(LintResult([replace(d, path=state.source.display) for d in findings.diagnostics]))
        else:
            results.append(None)
            misses.append(index)

    def lint(index: int) -> tuple[LintResult, CachedFindings | None]:
        state = states[index]
        project.record_answers()
        result = engine.lint(state, project)
        answers, lookups = project.recorded_answers(), project.recorded_lookups()
        if state.facts is None or result.internal_errors:
            return result, None
        # The modules the rules actually consulted, not the whole import closure: touching
        # a module every file imports re-checks only the files whose findings read it.
        return result, CachedFindings(result.diagnostics, lookups, answers, state.rule_codes)

    for index, (result, findings) in zip(misses, parallel_map(lint, misses, jobs)):
        results[index] = result
        state = states[index]
        if findings is not None and state.cached is not None:
            cache.put(_cache_key(state.source), replace(state.cached, findings=findings))
    return [result for result in results if result is not None], len(states) - len(misses)


def needs_rules(state: FileState, triage: Triage, codes: Collection[str]) -> bool:
    """Files with an error to report, or with something a rule could flag (noted on the state:
    only the rules that could flag something run)."""
    if state.facts is None or not state.facts.complete:
        return True  # an SL000 to report, or a file only LibCST can parse: its facts are partial
    if state.facts.shallow:
        return False  # only imported from: it names nothing a rule is about
    state.rule_codes = triage.candidate_codes(state.facts, codes)
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
