"""`sessionlint server`, started over stdio and driven as an editor drives it (pytest-lsp).

One server serves the module's tests (a start costs a second); each test opens the
documents it needs and closes them at its end, so that none depends on another's order.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_lsp")

import pytest_lsp  # noqa: E402
from lsprotocol import types  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

PYPROJECT = '[project]\nname = "shop"\n\n[tool.sessionlint]\n'
DB = """\
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://db/shop")
SessionLocal = sessionmaker(bind=engine)
async_engine = create_async_engine("postgresql+asyncpg://db/shop", pool_pre_ping=True)
AsyncSessionLocal = async_sessionmaker(async_engine)
"""
# SL001 here rests on the two other modules: `SessionLocal` is a factory (db.py) and
# `get_db` a FastAPI dependency (main.py). Checked alone, deps.py has no finding.
DEPS = """\
from app.db import SessionLocal


def get_db():
    db = SessionLocal()
    return db
"""
DEPS_YIELDING = """\
from app.db import SessionLocal


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""
MAIN = """\
from fastapi import Depends, FastAPI

from app.deps import get_db

app = FastAPI()


@app.get("/items")
def items(db=Depends(get_db)):
    return db.query(1).all()
"""
FILES = {"pyproject.toml": PYPROJECT, "app/__init__.py": "", "app/db.py": DB, "app/deps.py": DEPS, "app/main.py": MAIN}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


class Published:
    """Every `textDocument/publishDiagnostics` the client received, in order."""

    def __init__(self) -> None:
        self.params: list[types.PublishDiagnosticsParams] = []
        self.arrived = asyncio.Event()

    def receive(self, params: types.PublishDiagnosticsParams) -> None:
        self.params.append(params)
        self.arrived.set()

    def mark(self) -> int:
        return len(self.params)

    async def wait(
        self, uri: str, version: int | None = None, *, since: int, timeout: float = 30
    ) -> list[types.Diagnostic]:
        """The diagnostics of the first publish for `uri` (at `version`) received after the
        `since`-th publish."""

        async def found() -> list[types.Diagnostic]:
            while True:
                for params in self.params[since:]:
                    if params.uri == uri and (version is None or params.version == version):
                        return list(params.diagnostics)
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(found(), timeout)


def recording_client() -> LanguageClient:
    """pytest-lsp's test client, keeping every publish (with its version) in `published`."""
    client = LanguageClient(converter_factory=default_converter)
    published = client.published = Published()  # type: ignore[attr-defined]

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        published.receive(params)

    def register_capability(client: LanguageClient, params: types.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    client.registrations = []  # type: ignore[attr-defined]
    features = {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
        types.CLIENT_REGISTER_CAPABILITY: register_capability,
    }
    register_lsp_features(client, features)
    return client


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "sessionlint", "server"], client_factory=recording_client
    ),
)
async def client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(
                    did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                        dynamic_registration=True
                    ),
                    workspace_folders=True,
                )
            ),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="shop")],
            initialization_options={"debounceMs": 10},
        )
    )
    yield
    await lsp_client.shutdown_session()


class Editor:
    """Open buffers: their text and version, edited as a client edits them."""

    def __init__(self, client: LanguageClient, project: Path) -> None:
        self.client = client
        self.project = project
        self.published: Published = client.published  # type: ignore[attr-defined]
        self.texts: dict[str, str] = {}
        self.mark = 0  # the publishes received before the last open or change
        self.versions: dict[str, int] = {}

    def uri(self, name: str) -> str:
        return (self.project / name).as_uri()

    async def open(self, name: str) -> list[types.Diagnostic]:
        uri = self.uri(name)
        self.texts[uri] = (self.project / name).read_text()
        self.versions[uri] = 1
        self.mark = self.published.mark()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=self.texts[uri])
            )
        )
        return await self.published.wait(uri, 1, since=self.mark)

    async def change(self, name: str, text: str) -> list[types.Diagnostic]:
        uri = self.uri(name)
        self.texts[uri] = text
        self.versions[uri] += 1
        self.mark = self.published.mark()
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return await self.published.wait(uri, self.versions[uri], since=self.mark)

    def close_all(self) -> None:
        for uri in self.texts:
            self.client.text_document_did_close(
                types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
        self.texts.clear()

    def apply(self, uri: str, edit: types.WorkspaceEdit) -> str:
        """The buffer's text after a workspace edit (as the client would apply it)."""
        assert edit.document_changes is not None
        (change,) = edit.document_changes
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.uri == uri and change.text_document.version == self.versions[uri]
        lines = self.texts[uri].splitlines(keepends=True) + [""]
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        text = self.texts[uri]
        for text_edit in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            start = offsets[text_edit.range.start.line] + text_edit.range.start.character
            end = offsets[text_edit.range.end.line] + text_edit.range.end.character
            text = text[:start] + text_edit.new_text + text[end:]
        return text


@pytest.fixture
def editor(client: LanguageClient, project: Path):
    opened = Editor(client, project)
    yield opened
    opened.close_all()


def codes(diagnostics: list[types.Diagnostic]) -> list[tuple[str, int]]:
    return [(str(d.code), d.range.start.line + 1) for d in diagnostics]


async def actions_at(
    editor: Editor, name: str, diagnostic: types.Diagnostic, only: list[str] | None = None
) -> list[types.CodeAction]:
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=editor.uri(name)),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic], only=only),
        )
    )
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


async def test_open_shows_cross_module_findings(editor: Editor) -> None:
    (diagnostic,) = await editor.open("app/deps.py")
    assert diagnostic.code == "SL001"
    assert diagnostic.source == "sessionlint"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range == types.Range(
        start=types.Position(line=5, character=4), end=types.Position(line=5, character=13)
    )
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href.endswith("/docs/rules/SL001.md")
    assert "returns session `db`" in diagnostic.message


async def test_edits_update_the_findings_of_every_open_module(editor: Editor) -> None:
    assert codes(await editor.open("app/deps.py")) == [("SL001", 6)]
    await editor.open("app/main.py")
    # The dependency yields: nothing to report.
    assert await editor.change("app/deps.py", DEPS_YIELDING) == []
    assert codes(await editor.change("app/deps.py", DEPS)) == [("SL001", 6)]
    # Unsaved, in another module: `SessionLocal` is no longer a session factory, so `db` is
    # no session and SL001 goes in deps.py; back, it returns.
    await editor.open("app/db.py")
    await editor.change("app/db.py", DB.replace("sessionmaker(bind=engine)", "dict(bind=engine)"))
    assert await editor.published.wait(editor.uri("app/deps.py"), since=editor.mark) == []
    await editor.change("app/db.py", DB)
    assert codes(await editor.published.wait(editor.uri("app/deps.py"), since=editor.mark)) == [("SL001", 6)]
