"""The language server: LSP messages in, the workspace's findings out.

Everything that touches the workspace runs on one worker thread, one task at a time (the
workspace is not shared between threads); the event loop keeps reading messages meanwhile,
and answers hovers and code actions from the last check of each document.
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from sessionlint import __version__
from sessionlint.entry.server.convert import to_lsp
from sessionlint.entry.server.positions import UTF16, LineIndex
from sessionlint.entry.server.projects import Checked, Projects
from sessionlint.entry.server.scheduler import Scheduler
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.settings.config import ConfigError

T = TypeVar("T")

# The quiet time after a keystroke before the buffer is checked. Short: a check after an
# edit takes tens of milliseconds, and a change arriving during one waits for it anyway.
DEFAULT_DEBOUNCE_MS = 30
CONFIG_FILES = ("pyproject.toml",)


@dataclass
class Snapshot:
    """A document as last checked: its text and version, and the findings on it."""

    uri: str
    version: int | None
    index: LineIndex
    pairs: list[tuple[Diagnostic, types.Diagnostic]]

    def lsp(self) -> list[types.Diagnostic]:
        return [lsp for _, lsp in self.pairs]


class SessionlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "sessionlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
        )
        self.projects: Projects | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.snapshots: dict[str, Snapshot] = {}
        self.debounce = DEFAULT_DEBOUNCE_MS / 1000
        self.scheduler = Scheduler(self.check_documents)
        # One worker: the workspace is used by one thread only.
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sessionlint")

    # -- running work off the loop ---------------------------------------------------------

    async def off_loop(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.worker, function, *args)

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        """A message in the client's log (from the worker too: sent from the loop's thread,
        so that two messages never interleave on stdout)."""
        params = types.LogMessageParams(type=kind, message=message)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self.window_log_message, params)
            return
        self.window_log_message(params)

    def log_exception(self, what: str) -> None:
        """An internal error: the client's log gets it, the server keeps serving."""
        self.log(
            f"sessionlint: internal error while {what}:\n{traceback.format_exc()}", types.MessageType.Error
        )

    def config_error(self, error: ConfigError) -> None:
        """A configuration the workspace cannot read: said in the log and to the user; the
        findings shown stay until it reads again."""
        message = f"sessionlint: configuration error: {error}"
        self.log(message, types.MessageType.Error)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(
                self.window_show_message,
                types.ShowMessageParams(type=types.MessageType.Error, message=message),
            )

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or UTF16)

    def load_folders(self) -> None:
        """On the worker: each workspace folder's files read, their facts and the project
        index built (from the cache when it is warm)."""
        projects = self.projects
        if projects is None:
            return
        for folder in projects.folders:
            started = time.perf_counter()
            try:
                files = len(projects.workspace(folder).paths)
            except ConfigError as error:
                self.config_error(error)
                continue
            except Exception:
                self.log_exception(f"loading {folder}")
                continue
            self.log(f"sessionlint: {folder}: {files} files loaded in {time.perf_counter() - started:.1f} s")

    # -- checking --------------------------------------------------------------------------

    def open_documents(self) -> dict[str, tuple[int | None, str]]:
        return {
            uri: (document.version, document.source)
            for uri, document in self.workspace.text_documents.items()
            if _is_python(uri)
        }

    async def check_documents(self, uris: list[str]) -> None:
        """Check the documents named (their current text), then every other open document
        (an edit in one module changes what the others' findings rest on), and publish what
        changed."""
        try:
            documents = self.open_documents()
            changed = {uri: documents[uri] for uri in uris if uri in documents}
            if not changed and not uris:
                return
            results = await self.off_loop(self._check, changed, documents)
        except Exception:
            self.log_exception(f"checking {', '.join(uris)}")
            return
        current = self.open_documents()
        for uri, (version, text, checked) in results.items():
            if uri not in current or current[uri][0] != version:
                continue  # edited since: its newer text is checked next
            self.publish(uri, version, text, checked)

    def _check(
        self, changed: dict[str, tuple[int | None, str]], documents: dict[str, tuple[int | None, str]]
    ) -> dict[str, tuple[int | None, str, Checked]]:
        """On the worker: the buffers edited replace the files' contents; the answer holds
        their checks and those of the other open documents whose findings may have changed
        (and of those never checked yet)."""
        assert self.projects is not None
        answers: dict[str, Checked] = {}
        for uri, (_, text) in changed.items():
            try:
                answers.update(self.projects.update(_path(uri), text))
            except ConfigError as error:
                self.config_error(error)
                return {}
            except Exception:
                self.log_exception(f"checking {uri}")
        results = {}
        for uri, (version, text) in documents.items():
            key = os.path.abspath(_path(uri))
            try:
                if key in answers:
                    results[uri] = (version, text, answers[key])
                elif uri not in self.snapshots:
                    results[uri] = (version, text, self.projects.check(_path(uri)))
            except Exception:
                self.log_exception(f"checking {uri}")
        return results

    def publish(self, uri: str, version: int | None, text: str, checked: Checked) -> None:
        """Show the findings of a check: always for a new version of the document (the
        client waits for them), else only when they changed."""
        for error in checked.internal_errors:
            self.log(f"sessionlint: {error}", types.MessageType.Error)
        index = LineIndex(text, self.encoding)
        pairs = [(finding, to_lsp(finding, index, self.locate)) for finding in checked.findings]
        previous = self.snapshots.get(uri)
        self.snapshots[uri] = Snapshot(uri, version, index, pairs)
        if previous is not None and previous.version == version and previous.lsp() == [d for _, d in pairs]:
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=self.snapshots[uri].lsp())
        )

    def locate(self, path: str) -> tuple[str, LineIndex] | None:
        """A related location's file: the open buffer if there is one, else the file."""
        uri = from_fs_path(str(Path(path).absolute()))
        if uri is None:
            return None
        document = self.workspace.text_documents.get(uri)
        if document is not None:
            return uri, LineIndex(document.source, self.encoding)
        try:
            return uri, LineIndex(Path(path).read_text(encoding="utf-8"), self.encoding)
        except (OSError, UnicodeDecodeError):
            return None

    def recheck_all(self) -> None:
        for uri in self.open_documents():
            self.scheduler.request(uri)

    def clear(self, uri: str) -> None:
        self.snapshots.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _is_python(uri: str) -> bool:
    return uri.endswith((".py", ".pyi")) and uri.startswith("file:")


def _path(uri: str) -> Path:
    path = to_fs_path(uri)
    if path is None:
        raise ValueError(f"not a file: {uri}")
    return Path(path)
