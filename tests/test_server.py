"""`sessionlint server`, started over stdio and driven as an editor drives it (pytest-lsp).

One server serves the module's tests (a start costs a second); each test opens the
documents it needs and closes them at its end, so that none depends on another's order.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from sessionlint.report.formats.rules import find_rule

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
FILES = {
    "pyproject.toml": PYPROJECT,
    "app/__init__.py": "",
    "app/db.py": DB,
    "app/deps.py": DEPS,
    "app/main.py": MAIN,
}


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
    # `shutdown`, then `exit`: the process ends, with 0 (1 would mean exit without shutdown).
    assert await ended(lsp_client) == 0


async def ended(client: LanguageClient) -> int | None:
    """Shut the server down as an editor does; its exit code (None: it hung and was killed,
    rather than leaving the test run waiting for it forever)."""
    server = client._server
    assert server is not None
    try:
        await asyncio.wait_for(client.shutdown_session(), 20)
    finally:
        hung = server.returncode is None
        if hung:
            server.kill()
            await server.wait()
    return None if hung else server.returncode


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
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=self.texts[uri]
                )
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
        lines = [*self.texts[uri].splitlines(keepends=True), ""]
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        text = self.texts[uri]
        for text_edit in sorted(
            change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
        ):
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


def by_code(diagnostics: list[types.Diagnostic], code: str) -> types.Diagnostic:
    return next(d for d in diagnostics if d.code == code)


async def test_quick_fixes_safe_and_unsafe(editor: Editor) -> None:
    diagnostics = await editor.open("app/db.py")
    assert codes(diagnostics) == [("SL005", 5), ("SL006", 8)]
    uri = editor.uri("app/db.py")
    fix, ignore, fix_all = await actions_at(editor, "app/db.py", by_code(diagnostics, "SL005"))
    assert fix_all.kind == "source.fixAll.sessionlint"
    assert (fix.title, fix.kind, fix.is_preferred) == ("SL005: Add `pool_pre_ping=True`", "quickfix", True)
    assert fix.diagnostics is not None and fix.diagnostics[0].code == "SL005"
    assert ignore.title == "Ignore SL005 on this line"
    fixed = editor.apply(uri, fix.edit)
    assert 'create_engine("postgresql://db/shop", pool_pre_ping=True)' in fixed
    assert codes(await editor.change("app/db.py", fixed)) == [("SL006", 8)]
    (unsafe, _, _) = await actions_at(
        editor, "app/db.py", by_code(await editor.change("app/db.py", DB), "SL006")
    )
    assert unsafe.title.startswith("SL006: Add `expire_on_commit=False`")
    assert unsafe.title.endswith("(unsafe fix)")
    assert not unsafe.is_preferred


async def test_fix_all_applies_the_safe_fixes_only(editor: Editor) -> None:
    diagnostics = await editor.open("app/db.py")
    uri = editor.uri("app/db.py")
    (action,) = await actions_at(editor, "app/db.py", diagnostics[0], only=["source.fixAll.sessionlint"])
    assert action.kind == "source.fixAll.sessionlint"
    fixed = editor.apply(uri, action.edit)
    assert fixed == DB.replace('"postgresql://db/shop")', '"postgresql://db/shop", pool_pre_ping=True)')
    # The unsafe fix stays a finding.
    assert codes(await editor.change("app/db.py", fixed)) == [("SL006", 8)]
    # `source` asks for every source action: fix-all is one of them.
    actions = await actions_at(editor, "app/db.py", diagnostics[0], only=["source"])
    assert actions == []  # nothing safe left to fix


async def test_ignore_on_this_line_adds_and_merges_noqa(editor: Editor) -> None:
    diagnostics = await editor.open("app/db.py")
    uri = editor.uri("app/db.py")
    ignore = (await actions_at(editor, "app/db.py", by_code(diagnostics, "SL006")))[1]
    assert ignore.title == "Ignore SL006 on this line"
    text = editor.apply(uri, ignore.edit)
    assert "AsyncSessionLocal = async_sessionmaker(async_engine)  # noqa: SL006\n" in text
    assert codes(await editor.change("app/db.py", text)) == [("SL005", 5)]
    # A line that already has a noqa comment gets the code added to it.
    text = text.replace(
        'engine = create_engine("postgresql://db/shop")',
        'engine = create_engine("postgresql://db/shop")  # noqa: SL999',
    )
    diagnostic = by_code(await editor.change("app/db.py", text), "SL005")
    ignore = (await actions_at(editor, "app/db.py", diagnostic))[1]
    text = editor.apply(uri, ignore.edit)
    assert 'create_engine("postgresql://db/shop")  # noqa: SL999, SL005\n' in text
    assert await editor.change("app/db.py", text) == []


async def test_hover_explains_the_finding(editor: Editor) -> None:
    (diagnostic,) = await editor.open("app/deps.py")
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=editor.uri("app/deps.py")),
            position=types.Position(line=5, character=8),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert text.startswith("**SL001** `session-dependency-returns`: " + diagnostic.message)
    summary = find_rule("SL001").summary  # type: ignore[union-attr]
    assert summary.startswith("Flags a FastAPI session dependency") and summary in text
    assert "(https://github.com/sessionlint/sessionlint/blob/main/docs/rules/SL001.md)" in text
    nowhere = await editor.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=editor.uri("app/deps.py")),
            position=types.Position(line=0, character=0),
        )
    )
    assert nowhere is None


async def test_a_configuration_change_is_read_again(
    editor: Editor, client: LanguageClient, project: Path
) -> None:
    (registration,) = client.registrations  # type: ignore[attr-defined]
    assert registration.method == "workspace/didChangeWatchedFiles"
    globs = [watcher["globPattern"] for watcher in registration.register_options["watchers"]]
    assert "**/pyproject.toml" in globs
    assert codes(await editor.open("app/db.py")) == [("SL005", 5), ("SL006", 8)]
    pyproject = project / "pyproject.toml"

    async def changed() -> list[types.Diagnostic]:
        editor.mark = editor.published.mark()
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
            )
        )
        return await editor.published.wait(editor.uri("app/db.py"), since=editor.mark)

    try:
        pyproject.write_text(PYPROJECT + 'ignore = ["SL005"]\n')
        assert codes(await changed()) == [("SL006", 8)]
    finally:
        pyproject.write_text(PYPROJECT)
        assert codes(await changed()) == [("SL005", 5), ("SL006", 8)]


async def test_half_typed_code_is_silence_and_the_server_goes_on(editor: Editor) -> None:
    assert codes(await editor.open("app/deps.py")) == [("SL001", 6)]
    assert await editor.change("app/deps.py", DEPS + "\ndef broken(:\n    SessionLocal(") == []
    assert await editor.change("app/deps.py", "\x00\ufeff)))") == []
    assert codes(await editor.change("app/deps.py", DEPS)) == [("SL001", 6)]


async def test_workspace_folders_added_and_files_outside_them(
    editor: Editor, client: LanguageClient, tmp_path: Path
) -> None:
    other = tmp_path / "billing"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.sessionlint]\nignore = ["SL006"]\n')
    (other / "db.py").write_text(DB)
    (other / "deps.py").write_text(DEPS.replace("from app.db", "from db"))
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=other.as_uri(), name="billing")], removed=[]
            )
        )
    )
    # The folder is a project: deps.py's finding rests on db.py, which is not open. Each
    # folder is under its own configuration.
    billing = Editor(client, other)
    try:
        assert codes(await billing.open("deps.py")) == [("SL001", 6)]
        assert codes(await billing.open("db.py")) == [("SL005", 5)]
        assert codes(await editor.open("app/db.py")) == [("SL005", 5), ("SL006", 8)]
    finally:
        billing.close_all()
        client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(
                    added=[], removed=[types.WorkspaceFolder(uri=other.as_uri(), name="billing")]
                )
            )
        )
    # A file in no workspace folder is checked too, under its own configuration.
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "engine.py").write_text(DB)
    alone = Editor(client, loose)
    try:
        assert codes(await alone.open("engine.py")) == [("SL005", 5), ("SL006", 8)]
    finally:
        alone.close_all()


# The real server, with two faults planted: the workspace fails on a buffer that says
# BOOM, and SL005's rule crashes on a call of `explode`.
FAULTY_SERVER = """
import libcst as cst
from sessionlint.rules.sl005_engine_without_pre_ping import EngineWithoutPrePing
from sessionlint.entry.server import projects, serve

update, visit_call = projects.Projects.update, EngineWithoutPrePing.visit_Call

def failing_update(self, path, text):
    if "BOOM" in text:
        raise RuntimeError("the workspace fell over")
    return update(self, path, text)

def crashing_visit_call(self, node):
    if isinstance(node.func, cst.Name) and node.func.value == "explode":
        raise ZeroDivisionError("the rule fell over")
    return visit_call(self, node)

projects.Projects.update = failing_update
EngineWithoutPrePing.visit_Call = crashing_visit_call
serve()
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-c", FAULTY_SERVER], client_factory=recording_client
    ),
    loop_scope="module",
)
async def faulty(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="shop")],
            initialization_options={"debounceMs": 10},
        )
    )
    yield
    assert await ended(lsp_client) == 0


async def test_internal_errors_are_logged_and_the_server_goes_on(
    faulty: LanguageClient, project: Path
) -> None:
    editor = Editor(faulty, project)
    assert codes(await editor.open("app/deps.py")) == [("SL001", 6)]

    def errors() -> list[str]:
        return [m.message for m in faulty.log_messages if m.type == types.MessageType.Error]

    editor.mark = editor.published.mark()
    editor.versions[editor.uri("app/deps.py")] += 1
    faulty.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=editor.uri("app/deps.py"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=DEPS + "# BOOM\n")],
        )
    )
    while not errors():
        await faulty.wait_for_notification(types.WINDOW_LOG_MESSAGE)
    assert "internal error while checking" in errors()[0]
    assert "RuntimeError: the workspace fell over" in errors()[0]
    # Still serving: the next edit is checked.
    assert codes(await editor.change("app/deps.py", DEPS)) == [("SL001", 6)]
    # A rule that crashes (SL005 runs on db.py): the other rules' findings stay, the crash
    # is logged.
    assert codes(await editor.open("app/db.py")) == [("SL005", 5), ("SL006", 8)]
    assert codes(await editor.change("app/db.py", DB + "explode()\n")) == [("SL006", 8)]
    assert any(
        "internal error in SL005" in m and "ZeroDivisionError: the rule fell over" in m for m in errors()
    )
