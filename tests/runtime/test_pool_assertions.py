"""``assert_pool_returned`` and ``pool_returned`` against real engines and pools."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import sessionlint
from sessionlint.runtime import assert_pool_returned, pool_returned

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine


def test_passes_on_an_engine_that_never_connected(sync_engine: Engine) -> None:
    assert_pool_returned(sync_engine)


def test_passes_once_every_connection_is_closed(sync_engine: Engine) -> None:
    with sync_engine.connect() as first, sync_engine.connect() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))

    assert_pool_returned(sync_engine)


def test_fails_while_a_connection_is_checked_out(sync_engine: Engine) -> None:
    conn = sync_engine.connect()
    try:
        with pytest.raises(AssertionError) as excinfo:
            assert_pool_returned(sync_engine)
    finally:
        conn.close()

    message = str(excinfo.value)
    assert message.startswith("1 connection(s) still checked out")
    assert "Current Checked out connections: 1" in message  # the pool's own status line
    assert_pool_returned(sync_engine)


def test_accepts_an_async_engine(async_engine: AsyncEngine) -> None:
    async def run() -> None:
        conn = await async_engine.connect()
        try:
            with pytest.raises(AssertionError, match=r"^1 connection\(s\) still checked out"):
                assert_pool_returned(async_engine)
        finally:
            await conn.close()
        assert_pool_returned(async_engine)
        await async_engine.dispose()

    asyncio.run(run())


def test_context_manager_passes_when_the_block_returns_its_connections(
    sync_engine: Engine,
) -> None:
    with pool_returned(sync_engine), sync_engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def test_context_manager_fails_when_the_block_keeps_a_connection(sync_engine: Engine) -> None:
    conn = None
    try:
        expected = pytest.raises(AssertionError, match=r"^1 connection\(s\) still checked out")
        with expected, pool_returned(sync_engine):
            conn = sync_engine.connect()
    finally:
        if conn is not None:
            conn.close()


def test_context_manager_does_not_mask_an_error_raised_in_the_block(sync_engine: Engine) -> None:
    conn = sync_engine.connect()
    try:
        with pytest.raises(KeyError), pool_returned(sync_engine):
            raise KeyError("from the block")
    finally:
        conn.close()


def test_rejects_a_pool_that_does_not_count_checkouts(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'null.db'}", poolclass=NullPool)
    try:
        with pytest.raises(TypeError, match="NullPool does not count"):
            assert_pool_returned(engine)
        with pytest.raises(TypeError, match="NullPool does not count"), pool_returned(engine):
            pass
    finally:
        engine.dispose()


def test_runtime_imports_without_sqlalchemy_or_fastapi() -> None:
    # A None entry in sys.modules makes any import of that name raise ImportError.
    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = sys.modules['fastapi'] = None\n"
        "import sessionlint.runtime as runtime\n"
        "print(sorted(runtime.__all__))\n"
    )
    repo_root = Path(sessionlint.__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "session_dependency" in result.stdout
