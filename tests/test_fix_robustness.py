"""`check --fix` on inputs that used to make fixes write code that does not compile.

Each case runs the command from a working folder other than the project's, as a user would
meet it, and checks the bytes written (and that they compile): its entry point in this
process (`run_in_process`), and the real CLI in a subprocess for a file's mode bits and a
patched fixer.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_cases import run_cli, run_in_process

HEAD = (
    "from fastapi import Depends, FastAPI\n"
    "from sqlalchemy import create_engine, text\n"
    "from sqlalchemy.orm import Session, sessionmaker\n"
    "\n"
    'engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)\n'
    "SessionLocal = sessionmaker(bind=engine)\n"
    "app = FastAPI()\n"
    "\n"
    "\n"
)
ENDPOINT = '\n\n@app.get("/items")\ndef list_items(db: Session = Depends(get_db)):\n    return db.info\n'


def fix(tmp_path: Path, source: str, *options: str, name: str = "app.py") -> tuple[int, str, str, str]:
    """`check --fix` on one file: exit code, stdout, stderr, and the file afterwards."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    path = project / name
    path.write_bytes(source.encode())
    # Run from above the project, not in it: nothing may depend on the working folder.
    result = run_in_process("check", "--fix", "--no-cache", *options, f"project/{name}", cwd=tmp_path)
    return (
        result.returncode,
        result.stdout.decode(),
        result.stderr.decode(),
        path.read_bytes().decode(),
    )


def run_cli_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`script` (which ends by calling the CLI's `main`) as `run_cli` runs the CLI."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def compiles(text: str) -> None:
    compile(text, "app.py", "exec", dont_inherit=True)


# -- 1. form feeds: indentation is the tokenizer's -----------------------------------------


def test_sl001_fix_after_a_form_feed_stays_in_the_function(tmp_path: Path) -> None:
    source = HEAD + "def get_db():\n\f    return SessionLocal()\n" + ENDPOINT
    code, stdout, stderr, fixed = fix(tmp_path, source)
    assert (code, stderr) == (0, ""), stdout
    assert (
        fixed
        == "from collections.abc import Iterator\n\n"
        + HEAD
        + (
            "def get_db() -> Iterator[Session]:\n"
            "\f    session = SessionLocal()\n"
            "    try:\n"
            "        yield session\n"
            "    finally:\n"
            "        session.close()\n"
        )
        + ENDPOINT
    )
    compiles(fixed)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # the form feed on the creation line
            '\f    db = SessionLocal()\n    db.execute(text("SELECT 1"))\n    print("archived")\n',
            '\f    db = SessionLocal()\n    try:\n        db.execute(text("SELECT 1"))\n'
            '        print("archived")\n    finally:\n        db.close()\n',
        ),
        (  # on the first line moved into `try:`
            '    db = SessionLocal()\n\f    db.execute(text("SELECT 1"))\n    print("archived")\n',
            '    db = SessionLocal()\n    try:\n\f        db.execute(text("SELECT 1"))\n'
            '        print("archived")\n    finally:\n        db.close()\n',
        ),
        (  # after other whitespace on the last line moved
            '    db = SessionLocal()\n    db.execute(text("SELECT 1"))\n \t\f    print("archived")\n',
            '    db = SessionLocal()\n    try:\n        db.execute(text("SELECT 1"))\n'
            ' \t\f        print("archived")\n    finally:\n        db.close()\n',
        ),
    ],
    ids=["creation", "first-moved", "last-moved"],
)
def test_sl002_fix_around_form_feeds_wraps_the_body_in_place(
    tmp_path: Path, body: str, expected: str
) -> None:
    source = HEAD + "def archive() -> None:\n" + body
    code, stdout, stderr, fixed = fix(tmp_path, source)
    assert (code, stderr) == (0, ""), stdout
    assert "Found 1 problem (1 fixed, 0 remaining)." in stdout
    assert fixed == HEAD + "def archive() -> None:\n" + expected
    compiles(fixed)


# -- 2. a fix is kept only when its result compiles ------------------------------------------

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# The real CLI with one more rule whose fix parses but does not compile (`await` in a plain
# `def`, which `ast.parse` accepts): what a user meets when a rule's fix has such a bug.
PLUGGED_CLI = """
import sys

import libcst as cst

import sessionlint.settings.codes
import sessionlint.rules
from sessionlint.rules import Rule


class AwaitsInPlainDef(Rule):
    code = "SL993"
    name = "awaits-in-plain-def"
    message = "test finding"

    def visit_Call(self, node):
        if isinstance(node.func, cst.Name) and node.func.value == "ping":
            self.report(node, fix=self.make_fix([self.insert_before(node, "await ")]))


sessionlint.rules.ALL_RULES = (*sessionlint.rules.ALL_RULES, AwaitsInPlainDef)
sessionlint.settings.codes.RULE_NAMES["SL993"] = AwaitsInPlainDef.name
from sessionlint.entry.cli import main

main(prog_name="sessionlint")
"""


def test_fix_that_parses_but_does_not_compile_is_dropped(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = (
        "from sqlalchemy import create_engine\n"
        'engine = create_engine("postgresql://db/app")\n'
        "def handler():\n"
        "    ping()\n"
    )
    (project / "app.py").write_text(source)
    (tmp_path / "plugged.py").write_text(PLUGGED_CLI)
    result = run_cli_script(
        tmp_path / "plugged.py", "check", "--fix", "--no-cache", "project/app.py", cwd=tmp_path
    )
    stdout = result.stdout.decode()
    # SL005's fix is kept; SL993's is not: no internal error, not counted as fixed, no `[*]`.
    assert (result.returncode, result.stderr.decode()) == (1, ""), stdout
    assert stdout == "project/app.py:4:5: SL993 test finding\nFound 2 problems (1 fixed, 1 remaining).\n"
    fixed = (project / "app.py").read_text()
    assert fixed == source.replace('app")', 'app", pool_pre_ping=True)')
    compiles(fixed)


def test_sl004_no_fix_when_a_nested_definition_awaits_in_the_function(tmp_path: Path) -> None:
    """`await` in a nested def's default, decorator or annotations, a lambda's default or a
    class's bases runs in the endpoint itself: `def` would not compile."""
    case = FIXTURES / "SL004" / "flag_await_outside_nested_scope_no_fix.py"
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_bytes(case.read_bytes())
    result = run_in_process("check", "--no-cache", "--format", "json", "project/app.py", cwd=tmp_path)
    findings = json.loads(result.stdout)
    assert [(item["code"], item["fix"]) for item in findings] == [("SL004", None)] * 7
    code, stdout, stderr, fixed = fix(tmp_path, case.read_text(), "--unsafe-fixes")
    assert (code, stderr, fixed) == (1, "", case.read_text())
    assert "fixed" not in stdout and "[*]" not in stdout


# -- 3. SL009 on a `for` over `stream()` ---------------------------------------------------


def test_sl009_plain_for_over_stream_becomes_async_for(tmp_path: Path) -> None:
    source = (
        "from sqlalchemy import select\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "\n"
        "\n"
        "async def export(db: AsyncSession, q, out) -> None:\n"
        "    for row in db.stream(q):\n"
        "        out.write(row)\n"
        "    async for row in db.execute(q):\n"
        "        out.write(row)\n"
    )
    code, stdout, stderr, fixed = fix(tmp_path, source)
    assert fixed == source.replace("for row in db.stream", "async for row in await db.stream")
    # `async for` over `execute()`: no fix (which was meant needs a human), not counted.
    assert (code, stderr) == (1, "")
    assert stdout.endswith("Found 2 problems (1 fixed, 1 remaining).\n"), stdout
    assert "SL009 `db.execute()`" in stdout and "[*]" not in stdout
    compiles(fixed)


# -- 4. SL001's fix writes no name the code already uses ------------------------------------


@pytest.mark.parametrize(
    "prelude",
    ["    global session\n", "    print(session)\n", "    def later():\n        return session\n\n"],
    ids=["global", "read-before", "nested-reads"],
)
def test_sl001_new_session_variable_takes_a_name_the_function_does_not_use(
    tmp_path: Path, prelude: str
) -> None:
    source = HEAD + "session = None\n\n\ndef get_db():\n" + prelude + "    return SessionLocal()\n" + ENDPOINT
    code, stdout, stderr, fixed = fix(tmp_path, source)
    assert (code, stderr) == (0, ""), stdout
    body = "    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n"
    assert fixed == "from collections.abc import Iterator\n\n" + source.replace(
        "def get_db():", "def get_db() -> Iterator[Session]:"
    ).replace("    return SessionLocal()\n", body)
    compiles(fixed)


@pytest.mark.parametrize(
    "binding",
    ["    Iterator = None\n", "    Session = None\n", "    from typing import Iterator\n"],
    ids=["iterator-attribute", "session-attribute", "iterator-imported-in-class"],
)
def test_sl001_annotation_is_left_alone_where_the_class_shadows_its_names(
    tmp_path: Path, binding: str
) -> None:
    """A method's annotation is evaluated in the class body: `Iterator[Session]` there would
    not mean the module's names. The body is still fixed (unsafely: calls of a method are
    not tracked); the annotation stays as it was."""
    source = (
        HEAD
        + (
            "class Database:\n"
            + binding
            + "\n    @staticmethod\n    def get_db():\n        return SessionLocal()\n"
        )
        + ENDPOINT.replace("Depends(get_db)", "Depends(Database.get_db)")
    )
    code, stdout, stderr, fixed = fix(tmp_path, source, "--unsafe-fixes")
    assert (code, stderr) == (0, ""), stdout
    body = (
        "        session = SessionLocal()\n        try:\n            yield session\n"
        "        finally:\n            session.close()\n"
    )
    assert fixed == source.replace("        return SessionLocal()\n", body)
    compiles(fixed)


# -- 5. SL005 / SL006 when the last argument is parenthesised --------------------------------


def test_keyword_goes_after_the_parentheses_around_the_last_argument(tmp_path: Path) -> None:
    source = (
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine\n"
        "\n"
        'engine = create_engine(("postgresql://" "db/app"))\n'
        'aengine = create_async_engine(("postgresql+asyncpg://db/app") )\n'
        "SessionLocal = async_sessionmaker((aengine))\n"
        "Other = async_sessionmaker(bind=((aengine)),)\n"
    )
    code, stdout, stderr, fixed = fix(tmp_path, source, "--unsafe-fixes")  # SL006's fix is unsafe
    assert (code, stderr) == (0, ""), stdout
    assert stdout == "Found 4 problems (4 fixed, 0 remaining).\n"
    assert fixed == (
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine\n"
        "\n"
        'engine = create_engine(("postgresql://" "db/app"), pool_pre_ping=True)\n'
        'aengine = create_async_engine(("postgresql+asyncpg://db/app"), pool_pre_ping=True )\n'
        "SessionLocal = async_sessionmaker((aengine), expire_on_commit=False)\n"
        "Other = async_sessionmaker(bind=((aengine)), expire_on_commit=False,)\n"
    )
    compiles(fixed)


# -- 6. the file's mode, setuid / setgid included -------------------------------------------


@pytest.mark.skipif(not hasattr(os, "chown"), reason="POSIX modes")
def test_fix_keeps_setuid_and_setgid_bits(tmp_path: Path) -> None:
    source = 'from sqlalchemy import create_engine\nengine = create_engine("postgresql://db/app")\n'
    project = tmp_path / "project"
    project.mkdir()
    path = project / "app.py"
    path.write_text(source)
    mode = stat.S_ISUID | stat.S_ISGID | 0o755
    os.chmod(path, mode)
    if stat.S_IMODE(path.stat().st_mode) != mode:
        pytest.skip("this file system does not keep setuid / setgid bits")
    result = run_cli("check", "--fix", "--no-cache", "project/app.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == source.replace('app")', 'app", pool_pre_ping=True)')
    assert stat.S_IMODE(path.stat().st_mode) == mode


# -- 18. a message quoting source is one line ------------------------------------------------


def test_message_quoting_a_multi_line_expression_with_a_comment_is_one_line(tmp_path: Path) -> None:
    source = (
        HEAD
        + ("def get_db():\n    return sessionmaker(\n        bind=engine,  # the only engine\n    )()\n")
        + ENDPOINT
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(source)
    text = run_in_process("check", "--no-cache", "project/app.py", cwd=tmp_path)
    assert text.stdout.decode().splitlines() == [
        "project/app.py:11:5: SL001 [*] Dependency `get_db` returns session `sessionmaker(...)()` instead of "
        "yielding it; it is never closed and the pool runs dry under load",
        "Found 1 problem (1 fixable with --fix).",
    ]
    as_json = run_in_process("check", "--no-cache", "--format", "json", "project/app.py", cwd=tmp_path)
    [finding] = json.loads(as_json.stdout)
    assert "\n" not in finding["message"] and "`sessionmaker(...)()`" in finding["message"]
