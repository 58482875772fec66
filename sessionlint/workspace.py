"""The workspace: one project's files, their facts and its index, checked and fixed on demand.

Every entry point drives this object: the command line (one check or fix, then exit), the
editor's language server (long-lived: buffers change, the files that depend on them are
re-checked), the flake8 plugin and stdin (one buffer alone).

    workspace = Workspace([Path("src")], configuration)   # discover, read, fact pass, index
    workspace.check()                   # {path: FileCheck}: the findings of every file
    workspace.check([path])             # ... of these files only
    workspace.fix([path], unsafe=False) # {path: FileFix}: fixed texts, nothing written
    workspace.update(path, text)        # an unsaved buffer replaces the file: the checks of
                                        # every file whose findings may have changed
    workspace.update(path, None)        # back to the file on disk (or gone, if deleted)
    workspace.reload(configuration)     # the configuration changed: start again, keep buffers

API (paths are `str | os.PathLike`, keys of the answers are absolute paths as `str`):

- `Workspace(roots, configuration=None, *, use_cache=True, cache_dir=None, jobs=1,
  exhaustive=False, force_exclude=False, alone=False)`: the files under `roots` (files or
  folders), each under the settings of the nearest `[tool.sessionlint]` (`Configuration`; a
  `Settings` applies to all; None: found from the roots). `use_cache`: facts and findings
  from and into the project's `.sessionlint_cache/` (else kept in memory only). Without
  roots it holds only buffers (`update`), the whole project when `alone`.
- `reload(configuration=None)`: discover, read and analyse again (a configuration file
  changed: a new `Configuration`, or None where the workspace found its own); buffers stay.
- `settings`: the workspace's settings (`Configuration.run_settings`: each file's own
  through `Settings.per_file`); `settings_for(path)`: one file's.
- `paths`: the absolute paths of the files the workspace holds; `project`: the project
  index (`semantics.project.ProjectFacts`) over every file's facts; `facts(path)`.
- `check(paths=None) -> dict[str, FileCheck]`: `FileCheck(display, diagnostics,
  internal_errors)`, diagnostics sorted, `# noqa` applied, each fixable one with its `fix`
  (`diagnostics.Fix`: applicability, title, edits on the text checked).
- `fix(paths=None, *, unsafe=False, accept=None) -> dict[str, FileFix]`: `FileFix(display,
  fixed, diagnostics, internal_errors)`, `fixed` a `report.FixedFile` (original and fixed
  text and bytes, fixes applied) or None, `diagnostics` what remains. Files are fixed in
  turn, each against the project as the previous fixes left it; `accept(fixed)` (optional)
  is called for each fixed file, and returning False (a write failed) keeps the original
  for the files after it. The workspace itself keeps the texts it had: apply a fix with
  `update`.
- `update(path, text, *, tree=None) -> dict[str, FileCheck]` (in `edits`): `text` (str)
  replaces the file's content (a path not yet held is added; `tree`: its `ast` tree, when
  parsed already); None goes back to the disk. Returns the checks of the
  buffer and of every file whose findings may have changed: those whose rules looked up
  a module that changed or asked a whole-project question whose answer changed, and
  those that joined or left the files the rules run on.
- `save_cache()`: write facts and findings to the cache folder (a no-op without one).
- `Workspace.of_buffer(name, data, settings, *, alone=False, noqa=True)`: a workspace of one buffer
  (bytes in any encoding, or text), not read from disk (stdin, the flake8 plugin,
  `sessionlint.check_source`).

Internally: the fact pass (`factpass.fact_pass`, with the cache or an in-memory memo, so
only changed files are read again), the project index (`Engine.build_project`), the triage
(`passes.assign_rules`), the rule pass with findings reused where their inputs hold
(`passes.lint_all`) and the fixer (`fixer.fix_file`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sessionlint.cache.store import DEFAULT_DIRECTORY, Cache, CacheEntry
from sessionlint.discover.scope import files_outside
from sessionlint.edits import Edits
from sessionlint.facts.engine import Engine
from sessionlint.facts.factpass import FollowedNames, analyze_all, cache_key, fact_pass
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.filestate import FileState, LintResult
from sessionlint.fixes.fixer import fix_file
from sessionlint.passes import assign_rules, cached_neighbours, lint_all, read_paths
from sessionlint.project.index import ProjectFacts
from sessionlint.read.inputs import RunInputs
from sessionlint.read.sources import SourceFile, decode, display_path
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.report.run import FileCheck, FileFix, FixedFile, RunOptions, RunReport
from sessionlint.settings.codes import KNOWN_CODES
from sessionlint.settings.config import Settings
from sessionlint.settings.configuration import Configuration, default_root_of
from sessionlint.triage.triage import Triage

__all__ = ["FileCheck", "FileFix", "Workspace"]


class _MemoryCache(Cache):
    """Facts and findings kept for the workspace's life only: without a cache folder, an
    update still reads only the buffer again, and re-checks only what depends on it."""

    def __init__(self) -> None:
        super().__init__(None, {})

    def put(self, key: str, entry: CacheEntry) -> None:
        self.entries[key] = entry


class Workspace(Edits):
    """See the module docstring."""

    def __init__(
        self,
        roots: Iterable[str | os.PathLike[str]],
        configuration: Configuration | Settings | None = None,
        *,
        use_cache: bool = True,
        cache_dir: Path | None = None,
        jobs: int | None = 1,
        exhaustive: bool = False,
        force_exclude: bool = False,
        alone: bool | Callable[[], bool] = False,
    ) -> None:
        """`alone`: without roots, the buffers are the whole project (a callable: asked
        when a fix needs to know)."""
        self._setup(roots, configuration, use_cache, cache_dir, jobs, exhaustive, force_exclude, alone)
        self.reload()

    def _setup(
        self,
        roots: Iterable[str | os.PathLike[str]],
        configuration: Configuration | Settings | None,
        use_cache: bool,
        cache_dir: Path | None,
        jobs: int | None,
        exhaustive: bool,
        force_exclude: bool,
        alone: bool | Callable[[], bool],
    ) -> None:
        self.roots = [Path(root) for root in roots]
        self.configuration = self._configuration(configuration)
        self.use_cache = use_cache
        self.cache_dir = cache_dir
        self.jobs = jobs
        self.exhaustive = exhaustive
        self.force_exclude = force_exclude
        self.alone = alone
        self._buffers: dict[str, SourceFile] = {}  # unsaved texts, by key
        self.noqa = True

    @classmethod
    def of_buffer(
        cls,
        name: str,
        data: bytes | str,
        settings: Settings,
        *,
        alone: bool | Callable[[], bool] = False,
        noqa: bool = True,
        report: RunReport | None = None,
    ) -> Workspace:
        """A workspace of one buffer, read from nowhere (bytes in any encoding, or text):
        its module is named after `name`'s stem. `alone`: it is the whole project (some
        fixes are safe only then). `noqa=False` keeps the findings `# noqa` suppresses (flake8
        reads those comments itself). The passes' times go to `report`."""
        workspace = cls.__new__(cls)
        workspace._setup([], settings, False, None, 1, False, False, alone)
        workspace.noqa = noqa
        if isinstance(data, str):
            # Lone surrogates (text read with `surrogateescape`) stay as they are.
            source = SourceFile(None, name, data.encode("utf-8", "surrogatepass"), "utf-8", data)
        else:
            source = SourceFile(None, name, data)
        workspace._buffers[name] = source
        workspace._start(settings, [source], {name}, [], _MemoryCache(), report)
        return workspace

    @classmethod
    def of_run(
        cls,
        paths: Sequence[Path],
        sources: Sequence[SourceFile],
        explicit: set[str],
        settings: Settings,
        cache: Cache,
        options: RunOptions,
        report: RunReport,
    ) -> Workspace:
        """The workspace of one command-line run, over the files it found and read (their
        SL000s are the run's to report) and its cache; the passes' times go to `report`."""
        workspace = cls.__new__(cls)
        workspace._setup(
            paths, settings, cache.path is not None, None, options.jobs, options.exhaustive, False, False
        )
        workspace._start(settings, sources, explicit, [], cache, report)
        return workspace

    # -- loading ---------------------------------------------------------------------------

    def _configuration(self, configuration: Configuration | Settings | None) -> Configuration:
        self._own_configuration = configuration is None
        if configuration is None:
            return Configuration(KNOWN_CODES, default_root=default_root_of(self.roots))
        if isinstance(configuration, Settings):
            return Configuration.of(configuration)
        return configuration

    def reload(self, configuration: Configuration | Settings | None = None) -> None:
        """Discover and read the files again (the buffers stay), and rebuild the facts and
        the index. A configuration file changed: pass the new `configuration` (one the
        workspace found itself is found again)."""
        if configuration is not None or self._own_configuration:
            self.configuration = self._configuration(configuration)
        if self.roots:
            inputs = RunInputs(self.roots, self.configuration, force_exclude=self.force_exclude)
            inputs.read_all()
            settings, sources, named, errors = (
                inputs.settings,
                inputs.sources,
                inputs.explicit,
                inputs.selected_errors,
            )
        else:  # buffers only
            settings, sources, named, errors = self.configuration.settings_for(Path.cwd()), [], set(), []
        if self.use_cache:
            cache: Cache = Cache.load(self.cache_dir or settings.root / DEFAULT_DIRECTORY, settings)
        else:
            cache = _MemoryCache()
        self._start(settings, sources, named, errors, cache)

    def _start(
        self,
        settings: Settings,
        sources: Sequence[SourceFile],
        named: set[str],
        errors: list[Diagnostic],
        cache: Cache,
        report: RunReport | None = None,
    ) -> None:
        self.settings = settings
        self.engine = Engine(settings, roots=self.roots)
        self.cache = cache
        self._named = named  # the files named (not walked to)
        self._errors = errors
        self._sources = {cache_key(source): source for source in sources}
        self._sources.update(self._buffers)
        self._analyze(report)

    def _analyze(self, report: RunReport | None = None) -> None:
        """The fact pass over every source (unchanged files from the cache or the memo),
        the project index, and the triage's answer for each file."""
        report = report or RunReport()
        sources = list(self._sources.values())
        # Named files, and buffers, are checked whatever the fact pass would reach.
        explicit = self._named | {source.display for source in self._buffers.values()}
        self.followed: FollowedNames | None = None
        if self.exhaustive:
            states = analyze_all(self.engine, sources, self.cache, self.jobs)
        else:
            states, self.followed = fact_pass(self.engine, sources, explicit, self.cache, self.jobs)
        report.lap("facts")
        self.neighbours = (
            cached_neighbours(self.cache, self.engine, sources, self.roots) if self.roots else []
        )
        complete = self.alone
        self.unknown: set[str] = set()
        if self.roots:
            # Modules of the project the workspace did not read and whose facts it lacks.
            self.unknown = files_outside(self.roots, self.settings, read_paths(sources))
            self.unknown -= set(read_paths(self.neighbours))
            complete = not self.unknown
        self.project: ProjectFacts = self.engine.build_project([*states, *self.neighbours], complete=complete)
        report.lap("project index")
        triage = Triage(self.project)
        codes = self.engine.selected_codes
        self.states = states
        self._states = {cache_key(state.source): state for state in states}
        # The files the rules run on, in the fact pass's order (fixes go in this order).
        self._checked = {
            key: state
            for key, state in self._states.items()
            if state.source.display not in self.settings.facts_only
            and (self.exhaustive or assign_rules(state, triage, codes, self.engine))
        }
        report.lap("triage")

    # -- questions -------------------------------------------------------------------------

    @property
    def paths(self) -> list[str]:
        return list(self._sources)

    @property
    def sources(self) -> list[SourceFile]:
        """What the workspace reads: each file's content (the buffer in place of its file)."""
        return list(self._sources.values())

    @property
    def checked(self) -> list[FileState]:
        """The files the rules run on (the triage's answer), in the fact pass's order."""
        return list(self._checked.values())

    def settings_for(self, path: str | os.PathLike[str]) -> Settings:
        return self.configuration.settings_for(path)

    def facts(self, path: str | os.PathLike[str]) -> ModuleFacts | None:
        state = self._states.get(self._key(path))
        return state.facts if state is not None else None

    def check(
        self, paths: Iterable[str | os.PathLike[str]] | None = None, *, report: RunReport | None = None
    ) -> dict[str, FileCheck]:
        """The findings of these files (None: every file). `report` gets the times and how
        many findings came from the cache."""
        keys = self._keys(paths)
        wanted = set(keys)
        states = [state for key, state in self._checked.items() if key in wanted]
        report = report or RunReport()
        if self.noqa:
            results, report.files_from_cache = lint_all(
                self.engine, states, self.project, self.cache, self.jobs, report
            )
        else:  # findings kept from their suppressing comments are never cached
            results = [self.engine.lint(state, self.project, noqa=False) for state in states]
        by_key = {cache_key(state.source): result for state, result in zip(states, results)}
        return {key: self._file_check(key, by_key.get(key)) for key in keys}

    def fix(
        self,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        *,
        unsafe: bool = False,
        accept: Callable[[FixedFile], bool] | None = None,
    ) -> dict[str, FileFix]:
        """Each file's fixed text (nothing written; see the module docstring)."""
        project = self.project
        fixes = {}
        keys = list(self._checked) if paths is None else self._keys(paths)
        for key in keys:
            state = self._checked.get(key)
            if state is None:
                fixes[key] = FileFix(self._display(key), diagnostics=self._unreadable(key))
                continue
            fixes[key], project = self._fix_one(state, project, unsafe, accept)
        return fixes

    def _fix_one(
        self,
        state: FileState,
        project: ProjectFacts,
        unsafe: bool,
        accept: Callable[[FixedFile], bool] | None,
    ) -> tuple[FileFix, ProjectFacts]:
        # The fact pass may have decoded the file in a worker process: decode it here too.
        original_text = decode(state.source) if state.error is None else None
        before = project
        outcome, project = fix_file(self.engine, state, project, unsafe=unsafe)
        result = outcome.result
        fixed = None
        if outcome.fixed and original_text is not None and outcome.text not in (None, original_text):
            assert outcome.text is not None
            fixed = FixedFile(
                state.source.display,
                outcome.fixed,
                original_text,
                outcome.text,
                outcome.state.source.data,
                state.source.data,
                dict(outcome.applied),
            )
            if accept is not None and not accept(fixed):
                # Not applied: the file keeps the findings of its original content.
                fixed, project = None, before
                result = LintResult(
                    self.engine.lint(state, project).diagnostics, outcome.result.internal_errors
                )
        file_fix = FileFix(state.source.display, fixed, result.diagnostics, result.internal_errors)
        return file_fix, project

    def save_cache(self) -> None:
        self.cache.save()

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, path: str | os.PathLike[str]) -> str:
        name = os.fspath(path)
        return name if name in self._sources and self._sources[name].path is None else os.path.abspath(name)

    def _keys(self, paths: Iterable[str | os.PathLike[str]] | None) -> list[str]:
        if paths is None:
            return [*self._sources, *(os.path.abspath(error.path) for error in self._errors)]
        return [self._key(path) for path in paths]

    def _empty_check(self, key: str) -> FileCheck:
        return FileCheck(self._display(key))

    def _display(self, key: str) -> str:
        source = self._sources.get(key)
        return source.display if source is not None else display_path(key)

    def _unreadable(self, key: str) -> list[Diagnostic]:
        return [error for error in self._errors if os.path.abspath(error.path) == key]

    def _file_check(self, key: str, result: LintResult | None) -> FileCheck:
        check = FileCheck(self._display(key), self._unreadable(key))
        if result is not None:
            selected = [d for d in result.diagnostics if self.settings.is_selected(d.code, d.path)]
            check.diagnostics.extend(selected)
            check.internal_errors.extend(result.internal_errors)
        check.diagnostics.sort(key=Diagnostic.sort_key)
        return check
