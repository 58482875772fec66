"""`check --fix` on inputs that used to make fixes write code that does not compile.

Each case runs the real CLI in a subprocess from a working folder other than the project's,
as a user would meet it, and checks the bytes written (and that they compile).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.fixture_cases import run_cli

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
    result = run_cli("check", "--fix", "--no-cache", *options, f"project/{name}", cwd=tmp_path)
    return (
        result.returncode,
        result.stdout.decode(),
        result.stderr.decode(),
        path.read_bytes().decode(),
    )


def compiles(text: str) -> None:
    compile(text, "app.py", "exec", dont_inherit=True)


# -- 1. form feeds: indentation is the tokenizer's -----------------------------------------


def test_sl001_fix_after_a_form_feed_stays_in_the_function(tmp_path: Path) -> None:
    source = HEAD + "def get_db():\n\f    return SessionLocal()\n" + ENDPOINT
    code, stdout, stderr, fixed = fix(tmp_path, source)
    assert (code, stderr) == (0, ""), stdout
    assert fixed == "from collections.abc import Iterator\n" + HEAD + (
        "def get_db() -> Iterator[Session]:\n"
        "\f    session = SessionLocal()\n"
        "    try:\n"
        "        yield session\n"
        "    finally:\n"
        "        session.close()\n"
    ) + ENDPOINT
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
