"""The workspace's edit path: an unsaved buffer replaces a file, and the checks of every file
whose findings may have changed come back (`Workspace.update`, a mixin of `Workspace`).

An edit no other file can see, or one they could see only through the whole-project indexes
when those come out equal (the buffer's part in them the same: `project.footprint`), is
answered from the buffer alone (`quickedit`): its facts are
swapped into the index, it is triaged and checked again, nothing else. Any other edit runs
the fact pass over the workspace again (unchanged files' facts from the cache or the memo),
rebuilds the index and the triage, and checks the files whose recorded lookups or
whole-project answers no longer hold, and those that joined or left the files the rules
run on.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sessionlint.cache.store import Cache, CacheEntry
from sessionlint.facts.filestate import FileState
from sessionlint.passes import assign_rules
from sessionlint.quickedit import quick_edit
from sessionlint.read.sources import SourceFile, UnreadableSource, display_path, read_file
from sessionlint.triage.triage import Triage

if TYPE_CHECKING:
    from sessionlint.facts.engine import Engine
    from sessionlint.facts.factpass import FollowedNames
    from sessionlint.project.index import ProjectFacts
    from sessionlint.report.run import FileCheck
    from sessionlint.settings.config import Settings

__all__ = ["Edits"]


class Edits:
    """`update` and its shortcuts; the state it reads and replaces is the workspace's."""

    if TYPE_CHECKING:
        engine: Engine
        settings: Settings
        cache: Cache
        project: ProjectFacts
        followed: FollowedNames | None
        exhaustive: bool
        neighbours: list[FileState]
        states: list[FileState]
        _named: set[str]
        _buffers: dict[str, SourceFile]
        _sources: dict[str, SourceFile]
        _states: dict[str, FileState]
        _checked: dict[str, FileState]

        def _key(self, path: str | os.PathLike[str]) -> str: ...
        def _analyze(self) -> None: ...
        def _empty_check(self, key: str) -> FileCheck: ...
        def check(self, paths: list[str]) -> dict[str, FileCheck]: ...

    def update(
        self, path: str | os.PathLike[str], text: str | None, *, tree: ast.Module | None = None
    ) -> dict[str, FileCheck]:
        """An unsaved buffer replaces the file (`text=None`: the file on disk again); the
        checks of every file whose findings may have changed. `tree`: `text` parsed by
        `ast.parse` already (the server parses a buffer to tell half-typed code): not again."""
        key = self._key(path)
        after = self._new_source(key, path, text)
        if after is not None:
            after.tree = tree
        quick = self._quick_update(key, after, text is not None)
        if quick is not None:
            return quick
        previous = self._states.get(key)
        before = set(self._checked)
        self._set_source(key, after, text is not None)
        self._analyze()
        changed = {key} if key in self._sources else set()
        changed |= before ^ set(self._checked)  # joined or left the files the rules run on
        changed |= {k for k, state in self._checked.items() if k in before and self._stale(state)}
        if previous is not None and key not in self._sources:
            changed.add(key)  # deleted: its findings go
        answer = self.check(sorted(changed & set(self._sources)))
        for gone in changed - set(answer):
            answer[gone] = self._empty_check(gone)
        return answer

    def _quick_update(self, key: str, after: SourceFile | None, buffer: bool) -> dict[str, FileCheck] | None:
        """The update from the buffer alone when no other file can see the edit (see
        `quickedit`); None: run the full update."""
        before = self._sources.get(key)
        if before is None or after is None or self.followed is None or self.exhaustive:
            return None
        buffers = {source.display for source in self._buffers.values()}
        explicit_after = (buffers - {before.display}) | ({after.display} if buffer else set())
        previous = self._states.get(key)
        others = [*self._sources.values(), *(state.source for state in self.neighbours)]
        edit = quick_edit(
            self.engine,
            before,
            after,
            previous,
            (self._named | buffers, self._named | explicit_after),
            self.followed,
            self.project,
            others,
            self.states,
        )
        if edit is None:
            return None
        self._commit_source(key, after, buffer)
        self.project = edit.project
        if edit.followed is not None:
            self.followed = edit.followed
        if previous is not None:
            self._replace_state(key, previous, edit.state)
        return self.check([key])

    def _replace_state(self, key: str, previous: FileState, state: FileState) -> None:
        """The buffer's new state in place of its old one, triaged again."""
        entry = CacheEntry(state.source.digest, self.engine.identity(state.source), state.facts, state.error)
        self.cache.put(key, entry)
        state.cached = entry
        self.states = [state if s is previous else s for s in self.states]
        self._states[key] = state
        checked = state.source.display not in self.settings.facts_only and assign_rules(
            state, Triage(self.project), self.engine.selected_codes, self.engine
        )
        # The files the rules run on, in the fact pass's order as a full update keeps it.
        self._checked = {
            k: s
            for k, s in self._states.items()
            if (k == key and checked) or (k != key and k in self._checked)
        }

    def _set_source(self, key: str, source: SourceFile | None, buffer: bool) -> None:
        if source is None:
            self._buffers.pop(key, None)
            self._sources.pop(key, None)  # gone (or unreadable): no longer a file of the project
        else:
            self._commit_source(key, source, buffer)

    def _new_source(self, key: str, path: str | os.PathLike[str], text: str | None) -> SourceFile | None:
        """The file's content after the update: the buffer, or the disk's (None: unreadable)."""
        old = self._sources.get(key)
        file_path = Path(key) if old is None or old.path is not None else None
        display = old.display if old is not None else display_path(os.fspath(path))
        if text is not None:
            return SourceFile(file_path, display, text.encode("utf-8"), "utf-8", text)
        try:
            data, stamp = read_file(Path(key))
        except UnreadableSource:
            return None
        return SourceFile(Path(key), display, data, stamp=stamp)

    def _commit_source(self, key: str, source: SourceFile, buffer: bool) -> None:
        if buffer:
            self._buffers[key] = source
        else:
            self._buffers.pop(key, None)
        self._sources[key] = source

    def _stale(self, state: FileState) -> bool:
        """Its last findings no longer hold: something its rules looked up changed."""
        findings = state.cached.findings if state.cached is not None else None
        return not (
            findings is not None
            and findings.covers(state.rule_codes)
            and self.project.lookups_still_hold(findings.lookups)
            and self.project.answers_still_hold(findings.answers)
        )
