"""The real-app proof of the fixes: broken source exhausts a real pool; `sessionlint check
--fix` rewrites it (in a temporary copy); the rewritten app, imported and run the same way,
returns every connection.

Leaked sessions are only freed by Python's cyclic garbage collector, at a time that depends
on allocation counts, so the collector is paused while requests run: a missing `close()`
then leaks deterministically, and the fixed code must close explicitly to pass.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from sessionlint.runtime import assert_pool_returned
from tests.fixture_cases import run_cli

from .support import POOL_LIMIT_MESSAGE, REQUESTS

POOL = "pool_size=2, max_overflow=0, pool_timeout=1"

SYNC_RETURNING_DEPENDENCY = f"""\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from settings import DATABASE_URL

engine = create_engine(DATABASE_URL, poolclass=QueuePool, {POOL}, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
app = FastAPI()


def get_db():
    db = SessionLocal()
    return db


@app.get("/one")
def one(db: Session = Depends(get_db)):
    return {{"value": db.execute(text("SELECT 1")).scalar_one()}}
"""

ASYNC_RETURNING_DEPENDENCY = f"""\
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from settings import ASYNC_DATABASE_URL

engine = create_async_engine(ASYNC_DATABASE_URL, poolclass=AsyncAdaptedQueuePool, {POOL}, pool_pre_ping=True)
AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


async def get_db():
    return AsyncSessionLocal()


@app.get("/one")
async def one(db: AsyncSession = Depends(get_db)):
    return {{"value": (await db.execute(text("SELECT 1"))).scalar_one()}}
"""

CLOSED_ONLY_ON_THE_HAPPY_PATH = f"""\
from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from settings import DATABASE_URL

engine = create_engine(DATABASE_URL, poolclass=QueuePool, {POOL}, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
app = FastAPI()


@app.get("/items/{{item_id}}")
def read_item(item_id: int):
    db = SessionLocal()
    value = db.execute(text("SELECT :id"), {{"id": item_id}}).scalar_one()
    if value < 0:
        raise HTTPException(status_code=404, detail="no such item")
    db.close()
    return {{"id": value}}
"""


@pytest.fixture
def app_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "service"
    folder.mkdir()
    database = tmp_path / "app.db"
    (folder / "settings.py").write_text(
        f'DATABASE_URL = "sqlite:///{database}"\nASYNC_DATABASE_URL = "sqlite+aiosqlite:///{database}"\n'
    )
    sys.path.insert(0, str(folder))
    sys.modules.pop("settings", None)
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("settings", None)


def load(path: Path) -> ModuleType:
    name = f"service_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fix(folder: Path) -> str:
    before = (folder / "main.py").read_text()
    result = run_cli("check", "--no-cache", "--fix", ".", cwd=folder)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    after = (folder / "main.py").read_text()
    assert after != before
    return after


def requests_until_exhausted(client: TestClient, path: str) -> sqlalchemy.exc.TimeoutError:
    gc.disable()
    try:
        for _ in range(REQUESTS):
            try:
                client.get(path)
            except sqlalchemy.exc.TimeoutError as error:
                return error
    finally:
        gc.enable()
    raise AssertionError(f"{REQUESTS} requests did not exhaust the pool")


def all_requests_pass(client: TestClient, path: str, status: int = 200) -> None:
    gc.disable()
    try:
        for _ in range(REQUESTS):
            assert client.get(path).status_code == status
    finally:
        gc.enable()


def test_sync_dependency_that_returns_its_session(app_folder: Path) -> None:
    (app_folder / "main.py").write_text(SYNC_RETURNING_DEPENDENCY)
    broken = load(app_folder / "main.py")
    with TestClient(broken.app) as client:
        assert POOL_LIMIT_MESSAGE in str(requests_until_exhausted(client, "/one"))
    broken.engine.dispose()

    assert "yield" in fix(app_folder)
    fixed = load(app_folder / "main.py")
    with TestClient(fixed.app) as client:
        all_requests_pass(client, "/one")
    assert_pool_returned(fixed.engine)


def test_async_dependency_that_returns_its_session(app_folder: Path) -> None:
    (app_folder / "main.py").write_text(ASYNC_RETURNING_DEPENDENCY)
    broken = load(app_folder / "main.py")
    with TestClient(broken.app) as client:
        assert POOL_LIMIT_MESSAGE in str(requests_until_exhausted(client, "/one"))

    assert "async with AsyncSessionLocal() as" in fix(app_folder)
    fixed = load(app_folder / "main.py")
    with TestClient(fixed.app) as client:
        all_requests_pass(client, "/one")
        assert_pool_returned(fixed.engine)


def test_endpoint_that_closes_only_on_the_happy_path(app_folder: Path) -> None:
    (app_folder / "main.py").write_text(CLOSED_ONLY_ON_THE_HAPPY_PATH)
    broken = load(app_folder / "main.py")
    with TestClient(broken.app) as client:
        assert client.get("/items/1").status_code == 200  # the happy path closes
        assert POOL_LIMIT_MESSAGE in str(requests_until_exhausted(client, "/items/-1"))
    broken.engine.dispose()

    assert "finally:" in fix(app_folder)
    fixed = load(app_folder / "main.py")
    with TestClient(fixed.app) as client:
        all_requests_pass(client, "/items/-1", status=404)
        assert client.get("/items/7").json() == {"id": 7}
    assert_pool_returned(fixed.engine)


ENGINE_WITHOUT_PRE_PING = f"""\
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

from settings import APPLICATION_NAME, POSTGRES_URL

engine = create_engine(POSTGRES_URL, poolclass=QueuePool, {POOL}, connect_args={{"application_name": APPLICATION_NAME}})
app = FastAPI()


@app.get("/ping")
def ping():
    with engine.connect() as connection:
        return {{"value": connection.execute(text("SELECT 1")).scalar_one()}}
"""


def test_engine_without_pre_ping_after_the_server_drops_its_connections(
    app_folder: Path, postgres_url: str
) -> None:
    from .test_postgres_pre_ping import Server

    application_name = f"sessionlint-fixed-{uuid.uuid4().hex[:12]}"
    with (app_folder / "settings.py").open("a") as settings:
        settings.write(f"POSTGRES_URL = {postgres_url!r}\nAPPLICATION_NAME = {application_name!r}\n")
    (app_folder / "main.py").write_text(ENGINE_WITHOUT_PRE_PING)
    server = Server(postgres_url)
    try:
        broken = load(app_folder / "main.py")
        with TestClient(broken.app) as client:
            assert client.get("/ping").json() == {"value": 1}
            assert server.terminate(application_name) == 1
            with pytest.raises(sqlalchemy.exc.OperationalError):
                client.get("/ping")
        broken.engine.dispose()

        assert "pool_pre_ping=True" in fix(app_folder)
        fixed = load(app_folder / "main.py")
        with TestClient(fixed.app) as client:
            assert client.get("/ping").json() == {"value": 1}
            assert server.terminate(application_name) == 1
            assert client.get("/ping").json() == {"value": 1}
        assert_pool_returned(fixed.engine)
        fixed.engine.dispose()
    finally:
        server.engine.dispose()
