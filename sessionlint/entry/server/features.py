"""The LSP messages the server answers, registered on a `SessionlintServer`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from sessionlint.entry.server import actions
from sessionlint.entry.server.app import CONFIG_FILES, SessionlintServer, _is_python, _path
from sessionlint.entry.server.convert import hover_markdown
from sessionlint.entry.server.projects import Projects
from sessionlint.settings.config import ConfigError

WATCHED = [f"**/{name}" for name in CONFIG_FILES] + ["**/*.py"]


def build_server() -> SessionlintServer:
    server = SessionlintServer()
    _documents(server)
    _workspace(server)
    _code_actions(server)
    return server


def _folders(params_folders: list[types.WorkspaceFolder] | None, root_uri: str | None) -> list[Path]:
    uris = [folder.uri for folder in params_folders or []] or ([root_uri] if root_uri else [])
    return [Path(path) for path in map(to_fs_path, uris) if path]


def _documents(server: SessionlintServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SessionlintServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get("debounceMs"), (int, float)):
            ls.debounce = max(0.0, float(options["debounceMs"]) / 1000)
        ls.projects = Projects(_folders(params.workspace_folders, params.root_uri))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SessionlintServer, params: types.DidOpenTextDocumentParams) -> None:
        if _is_python(params.text_document.uri):
            ls.scheduler.request(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SessionlintServer, params: types.DidChangeTextDocumentParams) -> None:
        if _is_python(params.text_document.uri):
            ls.scheduler.request(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: SessionlintServer, params: types.DidSaveTextDocumentParams) -> None:
        if _is_python(params.text_document.uri):
            ls.scheduler.request(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: SessionlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if not _is_python(uri):
            return
        ls.scheduler.drop(uri)
        ls.clear(uri)
        projects = ls.projects
        if projects is not None:
            try:
                # The file is its saved content again (the buffer may have been discarded).
                await ls.off_loop(projects.close, _path(uri))
            except Exception:
                ls.log_exception(f"closing {uri}")
        ls.recheck_all()

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: SessionlintServer, params: types.HoverParams) -> types.Hover | None:
        snapshot = ls.snapshots.get(params.text_document.uri)
        if snapshot is None:
            return None
        at = types.Range(start=params.position, end=params.position)
        found = actions.overlapping(snapshot.pairs, at)
        if not found:
            return None
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=hover_markdown(finding for finding, _ in found)
            ),
            range=found[0][1].range,
        )


def _workspace(server: SessionlintServer) -> None:
    @server.feature(types.INITIALIZED)
    def initialized(ls: SessionlintServer, params: types.InitializedParams) -> None:
        watched = (
            ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        )
        if watched and watched.dynamic_registration:
            ls.client_register_capability(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id="sessionlint-watched-files",
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                watchers=[types.FileSystemWatcher(glob_pattern=glob) for glob in WATCHED]
                            ),
                        )
                    ]
                ),
                None,
            )
        # Loaded now, not at the first file opened: that one's findings come sooner.
        ls.worker.submit(ls.load_folders)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: SessionlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        """A configuration file changed: settings reloaded. A module changed on disk (a
        checkout, another editor): its facts are read again, unless it is open here."""
        projects = ls.projects
        if projects is None:
            return
        open_paths = {_path(uri) for uri in ls.open_documents()}
        configs, modules = [], []
        for change in params.changes:
            path = to_fs_path(change.uri)
            if path is None:
                continue
            if Path(path).name in CONFIG_FILES:
                configs.append(Path(path))
            elif _is_python(change.uri) and Path(path) not in open_paths:
                modules.append(Path(path))
        if not configs and not modules:
            return
        try:
            if configs:
                await ls.off_loop(projects.reload)
                ls.log(
                    f"sessionlint: configuration reloaded ({', '.join(map(str, configs))})",
                    types.MessageType.Info,
                )
            if modules:
                await ls.off_loop(projects.refresh, modules)
        except ConfigError as error:
            ls.config_error(error)
            return
        except Exception:
            ls.log_exception("reloading")
        ls.recheck_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders(ls: SessionlintServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        projects = ls.projects
        if projects is None:
            return
        added = _folders(params.event.added, None)
        removed = _folders(params.event.removed, None)
        try:
            await ls.off_loop(projects.change_folders, added, removed)
        except Exception:
            ls.log_exception("changing the workspace folders")
        ls.worker.submit(ls.load_folders)
        ls.recheck_all()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SessionlintServer, params: None) -> None:
        ls.scheduler.stop()
        if ls.projects is not None:
            try:
                await ls.off_loop(ls.projects.save)
            except Exception:
                ls.log_exception("saving the cache")
        ls.worker.shutdown(wait=False, cancel_futures=True)


def _code_actions(server: SessionlintServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=actions.KINDS, resolve_provider=False),
    )
    async def code_action(
        ls: SessionlintServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        snapshot = ls.snapshots.get(uri)
        document = ls.workspace.text_documents.get(uri)
        if snapshot is None or document is None or document.version != snapshot.version:
            return None  # findings of an older text: their edits would land in the wrong place
        only = params.context.only
        result: list[types.CodeAction] = []
        if _wants(only, types.CodeActionKind.QuickFix):
            for finding, lsp in actions.overlapping(snapshot.pairs, params.range):
                for make in (actions.quick_fix, actions.ignore_action):
                    action = make(finding, lsp, uri, snapshot.version, snapshot.index)
                    if action is not None:
                        result.append(action)
        if _wants(only, actions.FIX_ALL) and any(
            finding.fix is not None and finding.fix.applies(unsafe=False) for finding, _ in snapshot.pairs
        ):
            fixed = await _fixed(ls, uri, snapshot.index.text)
            if fixed is not None and fixed != snapshot.index.text:
                result.append(actions.fix_all_action(uri, snapshot.version, snapshot.index, fixed))
        return result


async def _fixed(ls: SessionlintServer, uri: str, text: str) -> str | None:
    projects = ls.projects
    if projects is None:
        return None
    try:
        return await ls.off_loop(projects.fixed_text, _path(uri), text)
    except Exception:
        ls.log_exception(f"fixing {uri}")
        return None


def _wants(only: list[str] | None, kind: str) -> bool:
    """Whether the client asks for actions of `kind`: `only` lists kinds or their parents
    (`source` covers `source.fixAll.sessionlint`); no `only`: every kind."""
    if only is None:
        return True
    return any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)
