"""`sessionlint server`'s pieces that need no client: the command, positions, the noqa edit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from sessionlint.entry.server.noqa_edit import noqa_edit
from sessionlint.entry.server.positions import UTF8, UTF16, UTF32, LineIndex
from sessionlint.report.diagnostics import Location


def run_command(args: list[str], cwd: Path, *, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{prelude}\nfrom sessionlint.__main__ import run\nsys.argv = ['sessionlint', *{args!r}]\nrun()\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_server_help_says_how_editors_start_it(tmp_path: Path) -> None:
    result = run_command(["server", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # as one line: click wraps it
    assert "An editor starts it as `sessionlint server`" in text
    assert "pip install 'sessionlint[server]'" in text
    assert "docs/integrations.md" in text


def test_server_without_the_extra_is_a_clear_error(tmp_path: Path) -> None:
    # pygls not importable, as in an environment without the `server` extra.
    result = run_command(["server"], tmp_path, prelude="sys.modules['pygls'] = None")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: `sessionlint server` needs pygls: pip install 'sessionlint[server]'\n"


@pytest.mark.parametrize(
    ("encoding", "character"),
    [(UTF16, 7), (UTF32, 6), (UTF8, 9)],  # the finding after `s = "🐍`, where 🐍 is 2, 1, 4 units
)
def test_columns_count_the_clients_units(encoding: str, character: int) -> None:
    index = LineIndex('first\ns = "🐍" + x\n', encoding)
    assert index.to_lsp(Location(2, 7)) == types.Position(line=1, character=character)
    assert index.offset(types.Position(line=1, character=character)) == len('first\ns = "🐍')


def test_lines_are_pythons_lines() -> None:
    # A form feed does not end a line for Python (nor for the rules' rows); CR and CRLF do.
    index = LineIndex("a = 1\x0c\r\nb = 2\rc = 3\n")
    assert index.to_lsp(Location(3, 1)) == types.Position(line=2, character=0)
    assert index.line(0) == "a = 1\x0c"
    assert index.end() == types.Position(line=3, character=0)
    # Past the end of a line or of the text: clamped.
    assert index.to_lsp(Location(1, 99)) == types.Position(line=0, character=6)
    assert index.to_lsp(Location(9, 1)) == types.Position(line=3, character=0)


def _ignored(source: str, row: int, code: str = "SL005") -> str | None:
    edit = noqa_edit(LineIndex(source), row, code)
    if edit is None:
        return None
    start, end, text = edit
    return source[:start] + text + source[end:]


@pytest.mark.parametrize(
    ("source", "row", "expected"),
    [
        ("e = f(1)\n", 1, "e = f(1)  # noqa: SL005\n"),
        ("e = f(1)   \r\nx = 2\r\n", 1, "e = f(1)  # noqa: SL005\r\nx = 2\r\n"),
        ("e = f(1)", 1, "e = f(1)  # noqa: SL005"),
        ("e = f(1)  # why\n", 1, "e = f(1)  # why  # noqa: SL005\n"),
        ("e = f(1)  # noqa: SL001\n", 1, "e = f(1)  # noqa: SL001, SL005\n"),
        ("e = f(1)  # NOQA:SL001,SL002\n", 1, "e = f(1)  # noqa: SL001, SL002, SL005\n"),
        ("e = f(1,\n      2)\n", 1, "e = f(1,  # noqa: SL005\n      2)\n"),
        ('e = f("""\n""")\n', 2, 'e = f("""\n""")  # noqa: SL005\n'),
    ],
)
def test_ignore_on_this_line(source: str, row: int, expected: str) -> None:
    assert _ignored(source, row) == expected


@pytest.mark.parametrize(
    ("source", "row"),
    [
        ("e = f(1)  # noqa\n", 1),  # already silenced
        ("e = f(1)  # noqa: sl005\n", 1),
        ('e = f("""\n""")\n', 1),  # a comment there would be inside the string
        ("e = f(1) + \\\n    2\n", 1),  # after a backslash continuation: not a comment
        ("def f(:\n", 1),  # does not tokenize
    ],
)
def test_no_ignore_where_a_comment_cannot_go(source: str, row: int) -> None:
    assert _ignored(source, row) is None


def test_related_locations_become_related_information(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from sessionlint.entry.server.convert import to_lsp
    from sessionlint.report.diagnostics import Diagnostic

    db = tmp_path / "db.py"
    db.write_text("x = 1\nSessionLocal = sessionmaker(engine)\n")
    evidence = SimpleNamespace(
        message="`SessionLocal` makes sessions",
        path=str(db),
        location=Location(2, 1),
        end_location=Location(2, 13),
    )
    finding = Diagnostic("SL001", "n", "m", "deps.py", Location(1, 1), Location(1, 2))
    object.__setattr__(
        finding, "related", (evidence, SimpleNamespace(**{**vars(evidence), "path": "gone.py"}))
    )

    def locate(path: str) -> tuple[str, LineIndex] | None:
        target = Path(path)
        return (target.as_uri(), LineIndex(target.read_text())) if target.exists() else None

    (related,) = to_lsp(finding, LineIndex("a = 1\n"), locate).related_information or []
    assert related.message == "`SessionLocal` makes sessions"
    assert related.location.uri == db.as_uri()
    assert related.location.range == types.Range(
        start=types.Position(line=1, character=0), end=types.Position(line=1, character=12)
    )


def test_changes_in_the_quiet_time_are_one_check_and_none_is_lost() -> None:
    from sessionlint.entry.server.scheduler import Scheduler

    batches: list[list[str]] = []

    async def scenario() -> None:
        running = asyncio.Event()
        release = asyncio.Event()

        async def run(uris: list[str]) -> None:
            batches.append(uris)
            running.set()
            await release.wait()

        scheduler = Scheduler(run)
        for _ in range(5):  # typing: five changes within the quiet time
            scheduler.request("a.py", 0.05)
        await asyncio.wait_for(running.wait(), 5)
        # Changes arriving while that check runs are checked after it, once each.
        for uri in ("a.py", "b.py", "a.py"):
            scheduler.request(uri)
        release.set()
        while len(batches) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        scheduler.stop()

    asyncio.run(scenario())
    assert batches == [["a.py"], ["a.py", "b.py"]]


def test_a_change_after_a_pause_is_checked_at_once_and_a_burst_waits() -> None:
    from sessionlint.entry.server.scheduler import Scheduler

    started: list[tuple[str, float]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        async def run(uris: list[str]) -> None:
            started.extend((uri, loop.time()) for uri in uris)

        scheduler = Scheduler(run)
        asked = loop.time()
        scheduler.request("a.py", 2.0)  # the first change: no burst to wait for
        while not started:
            await asyncio.sleep(0.01)
        assert started[0][1] - asked < 1.0
        asked = loop.time()
        scheduler.request("a.py", 0.3)  # again at once after the last: a burst
        while len(started) < 2:
            await asyncio.sleep(0.01)
        assert started[1][1] - asked >= 0.3
        scheduler.stop()

    asyncio.run(scenario())
    assert [uri for uri, _ in started] == ["a.py", "a.py"]


def test_a_loaded_workspace_leaves_the_collectors_generations(tmp_path: Path) -> None:
    import gc

    from sessionlint.entry.server.projects import Projects

    (tmp_path / "app.py").write_text("from sqlalchemy import create_engine\n")
    gc.unfreeze()
    try:
        Projects([tmp_path]).workspace(tmp_path / "app.py")
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
