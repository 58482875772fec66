"""Fixtures for the runtime tests: real engines with a small real pool over real databases."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool, QueuePool

from .support import CREATE_ITEMS, POOL_OPTIONS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.orm import Session

POSTGRES_URL_VAR = "SESSIONLINT_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VAR = "SESSIONLINT_REQUIRE_POSTGRES"


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A SQLite file database with an empty ``items`` table."""
    path = tmp_path / "app.db"
    # NullPool: this set-up engine must not leave a pooled connection to the file behind.
    setup = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with setup.begin() as conn:
        conn.execute(text(CREATE_ITEMS))
    setup.dispose()
    return path


@pytest.fixture
def sync_engine(sqlite_path: Path) -> Iterator[Engine]:
    """A sync engine over the SQLite file with a real ``QueuePool`` of 2, no overflow, 1 s wait.

    ``poolclass`` is explicit: which pool SQLAlchemy picks by default for SQLite has changed
    between versions, and these tests are about QueuePool's checkout accounting.
    """
    engine = create_engine(f"sqlite:///{sqlite_path}", poolclass=QueuePool, **POOL_OPTIONS)
    yield engine
    engine.dispose()


@pytest.fixture
def async_engine(sqlite_path: Path) -> AsyncEngine:
    """An aiosqlite engine over the SQLite file with a real ``AsyncAdaptedQueuePool`` (2, 0, 1 s).

    Not disposed here: its connections belong to the event loop that opened them, so each
    test disposes it inside that loop (the app's lifespan, or the test's own ``asyncio.run``).
    """
    # Imported here, not at the top: sqlalchemy.ext.asyncio needs greenlet, and without it
    # only the async tests should fail (loudly), not every test in this directory.
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(
        f"sqlite+aiosqlite:///{sqlite_path}", poolclass=AsyncAdaptedQueuePool, **POOL_OPTIONS
    )


@pytest.fixture
def created_sessions() -> Iterator[list[Session]]:
    """Every sync session the code under test created (see ``support.keep_references``).

    Closed at teardown, so the connections the broken code leaked go back to the pool
    before the engine is disposed; closing an already closed session is harmless.
    """
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a reachable PostgreSQL test database, from ``SESSIONLINT_TEST_POSTGRES_URL``.

    Skips when the variable is unset or the server is unreachable, unless
    ``SESSIONLINT_REQUIRE_POSTGRES=1`` (as in CI), in which case the tests fail instead:
    a CI run must not go green by silently skipping them.
    """
    required = os.environ.get(REQUIRE_POSTGRES_VAR) == "1"

    def unavailable(reason: str) -> None:
        if required:
            pytest.fail(f"{REQUIRE_POSTGRES_VAR}=1 but {reason}", pytrace=False)
        pytest.skip(reason)

    url = os.environ.get(POSTGRES_URL_VAR, "")
    if not url:
        unavailable(
            f"PostgreSQL tests need {POSTGRES_URL_VAR}; as root run "
            f'`export "$(.ci/start-postgres | tail -n 1)"` to start a local server'
        )
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        probe = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            probe.dispose()
    except Exception as exc:  # a missing driver or a refused login is "unusable" too
        unavailable(f"PostgreSQL at {shown} is unreachable: {type(exc).__name__}: {exc}")
    return url
