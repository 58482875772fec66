"""The SL001 fix writes the runtime's reference dependencies, modulo the two renames.

`sessionlint.fixes.templates` renders the body of the inner `get_session` of
`session_dependency` / `async_session_dependency` from `sessionlint/runtime/dependencies.py`.
These tests compare what it renders, and what `check --fix` writes into a user's file,
with that file's own text: the same lines once `factory()` is replaced by the user's
factory call and `session` by the user's variable name, in the user's indentation and
line break style.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from sessionlint.fixes.templates import render_dependency_body, runtime_source
from tests.fixture_cases import run_cli

REFERENCES = {False: "session_dependency", True: "async_session_dependency"}


def reference_lines(is_async: bool) -> list[str]:
    """The body lines of the reference's inner `get_session`, exactly as written."""
    source = runtime_source()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == REFERENCES[is_async]:
            inner = next(
                n
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "get_session"
            )
            lines = source.splitlines(keepends=True)
            return lines[inner.body[0].lineno - 1 : inner.body[-1].end_lineno]
    raise AssertionError(f"no {REFERENCES[is_async]} in the runtime module")


def renamed(lines: list[str], *, factory: str, session: str) -> list[str]:
    return [re.sub(r"\bsession\b", session, line.replace("factory()", factory)) for line in lines]


def reindented(lines: list[str], *, indent: str, unit: str, newline: str) -> str:
    """The reference lines moved to `indent`, nested levels in `unit`, with `newline`."""
    body = textwrap.dedent("".join(lines))
    out = []
    for line in body.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        out.append(indent + unit * depth + stripped + newline)
    return "".join(out)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_identity_rendering_is_the_reference(is_async: bool) -> None:
    lines = reference_lines(is_async)
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    rendered = render_dependency_body(
        is_async=is_async,
        factory="factory()",
        session="session",
        indent=indent,
        unit="    ",
        newline="\n",
    )
    assert rendered == "".join(lines)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("indent", "unit", "newline"),
    [("    ", "    ", "\n"), ("        ", "  ", "\r\n"), ("\t", "\t", "\n")],
    ids=["spaces", "method-crlf-two-spaces", "tabs"],
)
def test_rendering_is_the_reference_modulo_renames(
    is_async: bool, indent: str, unit: str, newline: str
) -> None:
    factory, session = "SessionLocal(bind=engine)", "db"
    expected = reindented(
        renamed(reference_lines(is_async), factory=factory, session=session),
        indent=indent,
        unit=unit,
        newline=newline,
    )
    rendered = render_dependency_body(
        is_async=is_async, factory=factory, session=session, indent=indent, unit=unit, newline=newline
    )
    assert rendered == expected


def test_user_statements_go_right_before_the_yield() -> None:
    rendered = render_dependency_body(
        is_async=False,
        factory="SessionLocal()",
        session="db",
        indent="    ",
        unit="    ",
        newline="\n",
        body="        db.info['user'] = 1\n",
    )
    lines = rendered.splitlines()
    assert lines[lines.index("        yield db") - 1] == "        db.info['user'] = 1"


def test_keep_creation_false_leaves_out_only_the_creation() -> None:
    full = render_dependency_body(
        is_async=False, factory="SessionLocal()", session="db", indent="", unit="    ", newline="\n"
    )
    rest = render_dependency_body(
        is_async=False,
        factory="SessionLocal()",
        session="db",
        indent="",
        unit="    ",
        newline="\n",
        keep_creation=False,
    )
    assert full == "db = SessionLocal()\n" + rest
    with pytest.raises(ValueError):
        render_dependency_body(
            is_async=True,
            factory="AsyncSessionLocal()",
            session="db",
            indent="",
            unit="    ",
            newline="\n",
            keep_creation=False,
        )


SYNC_APP = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
app = FastAPI()


class Dependencies:
    @staticmethod
    def database():
        return SessionLocal(bind=engine)


@app.get("/items")
def list_items(db: Session = Depends(Dependencies.database)):
    return db.info
"""

ASYNC_APP = """\
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://app@db/app", pool_pre_ping=True)
AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


async def get_db():
    db = AsyncSessionLocal()
    return db


@app.get("/items")
async def list_items(db: AsyncSession = Depends(get_db)):
    return db.info
"""


@pytest.mark.parametrize(
    ("is_async", "source", "function", "factory", "session"),
    [
        (False, SYNC_APP, "database", "SessionLocal(bind=engine)", "session"),
        (True, ASYNC_APP, "get_db", "AsyncSessionLocal()", "db"),
    ],
    ids=["sync", "async"],
)
def test_fix_writes_the_reference_body(
    tmp_path: Path, is_async: bool, source: str, function: str, factory: str, session: str
) -> None:
    module = tmp_path / "app.py"
    module.write_text(source)
    # `--unsafe-fixes`: the static method's fix is unsafe (calls of methods are not tracked).
    run_cli("check", "--no-cache", "--exit-zero", "--fix", "--unsafe-fixes", ".", cwd=tmp_path)
    fixed = module.read_text()
    definition = next(
        node
        for node in ast.walk(ast.parse(fixed))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
    )
    lines = fixed.splitlines(keepends=True)
    body = lines[definition.body[0].lineno - 1 : definition.body[-1].end_lineno]
    expected = renamed(reference_lines(is_async), factory=factory, session=session)
    assert textwrap.dedent("".join(body)) == textwrap.dedent("".join(expected))
    iterator = "AsyncIterator" if is_async else "Iterator"
    assert f"from collections.abc import {iterator}\n" in fixed
