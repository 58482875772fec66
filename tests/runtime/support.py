"""Shared pieces of the runtime tests: pool sizes, the table they use, and request loops."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable, TypeVar

import httpx
import sqlalchemy.exc

if TYPE_CHECKING:
    from fastapi import FastAPI

S = TypeVar("S")

# Small on purpose: a leak of POOL_SIZE connections exhausts the pool, and POOL_TIMEOUT
# bounds how long the request that finds it empty waits, which keeps the suite fast.
POOL_SIZE = 2
POOL_TIMEOUT = 1
POOL_OPTIONS = {"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": POOL_TIMEOUT}

# "A few dozen sequential requests": far more than the pool holds.
REQUESTS = 30

POOL_LIMIT_MESSAGE = f"QueuePool limit of size {POOL_SIZE} overflow 0 reached"

CREATE_ITEMS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
COUNT_ITEMS = "SELECT count(*) FROM items"
INSERT_ITEM = "INSERT INTO items (name) VALUES (:name)"


def keep_references(factory: Callable[[], S], sessions: list[S]) -> Callable[[], S]:
    """Wrap a session factory so that every session it creates stays referenced in ``sessions``.

    A session nobody closes keeps its connection checked out until the garbage collector
    frees it, and a Session sits in reference cycles, so only a cyclic collection does (for
    sync drivers SQLAlchemy then checks the connection back in silently; asyncio connections
    are dropped with a warning). When that happens depends on allocation counts, not on the
    code under test, so a test that relied on it would be flaky. Holding every session makes
    a missing ``close()`` a deterministic leak, and makes the comparison fair: the reference
    code runs with the same references held and still returns every connection.
    """

    def create() -> S:
        session = factory()
        sessions.append(session)
        return session

    return create


def count_until_pool_timeout(
    send: Callable[[], object], limit: int = REQUESTS
) -> tuple[int, sqlalchemy.exc.TimeoutError]:
    """Call ``send`` until it raises SQLAlchemy's pool ``TimeoutError``.

    Returns how many calls completed before it, and the error. Fails the test if ``limit``
    calls all complete: the pool was never exhausted.
    """
    for done in range(limit):
        try:
            send()
        except sqlalchemy.exc.TimeoutError as exc:
            return done, exc
    raise AssertionError(f"{limit} requests completed without exhausting the pool")


async def gather_status_codes(app: FastAPI, path: str, count: int) -> list[int]:
    """Send ``count`` GET requests to ``app`` at once and return their status codes.

    httpx's ASGI transport runs them in the current event loop; FastAPI runs sync
    dependencies and endpoints in its thread pool, so either way they really do compete for
    pool connections. Server errors come back as 500 responses instead of being raised.
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = await asyncio.gather(*(client.get(path) for _ in range(count)))
    return [response.status_code for response in responses]


def concurrent_status_codes(app: FastAPI, path: str, count: int) -> list[int]:
    """:func:`gather_status_codes` from sync code (sync engines only: the loop is new)."""
    return asyncio.run(gather_status_codes(app, path, count))
