"""The server's side of the workspace API: one `Workspace` per workspace folder (and one
per file opened outside them), the open buffers given to it, its answers filtered for an
editor.

Runs on the server's worker thread only.
"""

from __future__ import annotations

import ast
import gc
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sessionlint.report.diagnostics import Diagnostic
from sessionlint.settings.codes import PARSE_ERROR
from sessionlint.settings.config import ConfigError
from sessionlint.workspace import FileCheck, Workspace


@dataclass
class Checked:
    """A document's findings for the editor, and the internal errors to log."""

    findings: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)


def _checked(check: FileCheck) -> Checked:
    """SL000 is left out: in an editor, a file that does not parse is half-typed code, and
    the syntax error is the Python tooling's to show."""
    return Checked(
        [d for d in check.diagnostics if d.code != PARSE_ERROR],
        [
            f"internal error in {error.rule} on {error.path}:{error.row}: {error.message}\n{error.traceback}"
            for error in check.internal_errors
        ],
    )


def parsed(text: str) -> ast.Module | None:
    """The buffer's tree when it is Python (None: it is being typed, and the workspace keeps
    its last text). The workspace takes the tree rather than parsing the text again."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _settle() -> None:
    """After a workspace is loaded: its facts and index (hundreds of thousands of objects,
    alive as long as it is) leave the garbage collector's generations, so that a full
    collection during an edit's check no longer walks them all (the slowest edits were
    those that met one)."""
    gc.collect()
    gc.freeze()


class Projects:
    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = [folder.absolute() for folder in folders]
        self._workspaces: dict[Path, Workspace] = {}
        self._buffers: dict[str, str] = {}  # absolute path -> the text given to its workspace
        self.broken: set[str] = set()  # buffers that do not parse: no findings shown

    # -- which workspace -------------------------------------------------------------------

    def owner(self, path: Path) -> Path:
        """The folder whose workspace holds `path`: the innermost workspace folder it is
        under, else the file itself (with the project facts the cache has)."""
        path = path.absolute()
        under = [folder for folder in self.folders if path.is_relative_to(folder)]
        return max(under, key=lambda folder: len(folder.parts)) if under else path

    def workspace(self, path: Path) -> Workspace:
        root = self.owner(path)
        workspace = self._workspaces.get(root)
        if workspace is None:
            workspace = Workspace([root])
            # The next start loads from the cache (the facts and findings of every file).
            workspace.save_cache()
            self._workspaces[root] = workspace
            for name, text in self._buffers.items():
                if self.owner(Path(name)) == root:
                    workspace.update(name, text)
            _settle()
        return workspace

    # -- buffers ---------------------------------------------------------------------------

    def update(self, path: Path, text: str) -> dict[str, Checked]:
        """The buffer's text replaces the file's; the checks of every file it changed."""
        key = os.path.abspath(path)
        tree = parsed(text)
        if tree is None:
            self.broken.add(key)
            return {key: Checked()}
        self.broken.discard(key)
        workspace = self.workspace(path)
        if self._buffers.get(key) == text and key in workspace.paths:
            return {key: self.check(path)}
        self._buffers[key] = text
        return {name: _checked(check) for name, check in workspace.update(key, text, tree=tree).items()}

    def check(self, path: Path) -> Checked:
        key = os.path.abspath(path)
        if key in self.broken:
            return Checked()
        return _checked(self.workspace(path).check([key])[key])

    def close(self, path: Path) -> dict[str, Checked]:
        """The buffer is closed: the file on disk again."""
        key = os.path.abspath(path)
        self.broken.discard(key)
        if self._buffers.pop(key, None) is None:
            return {}
        return {name: _checked(check) for name, check in self.workspace(path).update(key, None).items()}

    def refresh(self, paths: Iterable[Path]) -> None:
        """Files changed on disk (not open here): their facts are read again."""
        for path in paths:
            key = os.path.abspath(path)
            root = self.owner(path)
            if key not in self._buffers and root in self._workspaces:
                self._workspaces[root].update(key, None)

    def fixed_text(self, path: Path, text: str) -> str | None:
        """The buffer with its safe fixes applied, to a fixpoint (None: nothing to fix)."""
        key = os.path.abspath(path)
        if self._buffers.get(key) != text:
            self.update(path, text)
        if key in self.broken:
            return None
        fixed = self.workspace(path).fix([key], unsafe=False)[key].fixed
        return fixed.fixed if fixed is not None else None

    def save(self) -> None:
        """Write every workspace's cache (at shutdown: the next start is warm)."""
        for workspace in self._workspaces.values():
            workspace.save_cache()

    # -- configuration and folders ---------------------------------------------------------

    def reload(self) -> None:
        """A configuration file changed: every workspace finds its settings again (the
        buffers stay)."""
        gc.unfreeze()  # what the workspaces held so far may go now
        for root, workspace in list(self._workspaces.items()):
            try:
                workspace.reload()
            except ConfigError:
                # Made again (and the error told again) at the next check: the
                # configuration may be half-edited.
                del self._workspaces[root]
                raise
            finally:
                _settle()

    def change_folders(self, added: Iterable[Path], removed: Iterable[Path]) -> None:
        """Folders added or removed: the workspaces of removed folders go, and those of
        files now under an added folder (made again there, with that folder's facts)."""
        gone = {folder.absolute() for folder in removed}
        self.folders = [folder for folder in self.folders if folder not in gone]
        self.folders += [folder.absolute() for folder in added if folder.absolute() not in self.folders]
        for root in list(self._workspaces):
            if root in gone or (root not in self.folders and self.owner(root) != root):
                del self._workspaces[root]
