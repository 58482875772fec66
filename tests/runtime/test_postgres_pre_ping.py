"""What ``pool_pre_ping`` buys over a real PostgreSQL server (skipped when none is configured).

A pooled connection whose server process is gone (a database restart, a failover, an idle
timeout, or here ``pg_terminate_backend``) stays in the pool looking healthy. Without
``pool_pre_ping`` the next request gets it and fails with ``OperationalError``; with
``pool_pre_ping=True`` the pool tests each connection at checkout, replaces the dead one,
and the request succeeds. This is SL005's reason to exist.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import pytest
import sqlalchemy.exc
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from sessionlint.runtime import assert_pool_returned, session_dependency

from .support import POOL_OPTIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

TERMINATE_WAIT_S = 5.0


class Server:
    """An administrative connection used to kill the backends of one application_name."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)

    def backends(self, application_name: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            ).scalar_one()

    def terminate(self, application_name: str) -> int:
        """Terminate every backend of ``application_name`` and wait until they are gone."""
        with self.engine.connect() as conn:
            # In the select list, never in WHERE: PostgreSQL may evaluate WHERE conditions
            # in any order, and would then terminate backends the filter was meant to spare.
            terminated = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": application_name},
                )
                .scalars()
                .all()
            )
        # pg_terminate_backend only signals the backend; wait until it has exited, or the
        # next query could still reach it and the test would depend on timing.
        deadline = time.monotonic() + TERMINATE_WAIT_S
        while self.backends(application_name):
            assert time.monotonic() < deadline, "terminated backends did not exit in time"
            time.sleep(0.05)
        return sum(terminated)


@pytest.fixture
def server(postgres_url: str) -> Iterator[Server]:
    server = Server(postgres_url)
    yield server
    server.engine.dispose()


def make_engine(postgres_url: str, application_name: str, *, pre_ping: bool) -> Engine:
    return create_engine(
        postgres_url,
        poolclass=QueuePool,
        pool_pre_ping=pre_ping,
        connect_args={"application_name": application_name},
        **POOL_OPTIONS,
    )


def build_app(engine: Engine) -> FastAPI:
    get_db = session_dependency(sessionmaker(engine))
    app = FastAPI()
    # One shared marker rather than a Depends(...) call in every default (ruff's B008).
    session_param = Depends(get_db)

    @app.get("/ping")
    def ping(db: Session = session_param) -> int:
        return db.execute(text("SELECT 1")).scalar_one()

    return app


@pytest.fixture
def application_name() -> str:
    return f"sessionlint-pre-ping-{uuid.uuid4().hex[:12]}"


def test_without_pre_ping_a_killed_connection_fails_the_next_request(
    postgres_url: str, server: Server, application_name: str
) -> None:
    engine = make_engine(postgres_url, application_name, pre_ping=False)
    try:
        with TestClient(build_app(engine)) as client:
            assert client.get("/ping").json() == 1  # leaves one idle connection in the pool
            assert server.terminate(application_name) == 1

            with pytest.raises(sqlalchemy.exc.OperationalError) as excinfo:
                client.get("/ping")
            # SQLAlchemy recognised the disconnect and discarded the dead connection(s).
            assert excinfo.value.connection_invalidated
            assert_pool_returned(engine)

            assert client.get("/ping").json() == 1  # the request after it reconnects
    finally:
        engine.dispose()


def test_with_pre_ping_a_killed_connection_is_replaced_at_checkout(
    postgres_url: str, server: Server, application_name: str
) -> None:
    engine = make_engine(postgres_url, application_name, pre_ping=True)
    try:
        with TestClient(build_app(engine)) as client:
            assert client.get("/ping").json() == 1
            assert server.terminate(application_name) == 1

            assert client.get("/ping").json() == 1
            assert_pool_returned(engine)
        assert server.backends(application_name) == 1  # the replacement, idle in the pool
    finally:
        engine.dispose()
