"""Every fixable rule on a small FastAPI app over SQLite: the app works before the fix, and
after `sessionlint check --fix` (run from another folder: the command's entry point in this
process, and the real CLI in a subprocess for the unsafe fix left alone) every request
returns the same body; the apps that leaked stop leaking. An unsafe fix (SL002 handing out
a lazy result) is left alone by `--fix`, and applying it anyway shows why it is unsafe."""

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
from tests.fixture_cases import run_cli, run_in_process

from .support import REQUESTS

HEADER = """\
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import create_engine, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from settings import ASYNC_DATABASE_URL, DATABASE_URL

POOL = {"poolclass": QueuePool, "pool_size": 2, "max_overflow": 0, "pool_timeout": 1}


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


engine = create_engine(DATABASE_URL, **POOL, pool_pre_ping=True)
Base.metadata.create_all(engine)
SessionLocal = sessionmaker(bind=engine)
aengine = create_async_engine(
    ASYNC_DATABASE_URL, poolclass=AsyncAdaptedQueuePool, pool_size=2, max_overflow=0, pool_timeout=1,
    pool_pre_ping=True,
)
app = FastAPI()
"""

APPS = {
    "SL001": """
def get_db():
    db = SessionLocal()
    return db


@app.get("/count")
def count(db: Session = Depends(get_db)):
    return {"count": db.execute(text("SELECT count(*) FROM items")).scalar_one()}
""",
    "SL002": """
@app.get("/items/{item_id}")
def read_item(item_id: int):
    db = SessionLocal()
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    name = item.name
    db.close()
    return {"name": name}
""",
    "SL004": """
def get_db():
    with SessionLocal() as db:
        yield db


@app.get("/count")
async def count(db: Session = Depends(get_db)):
    return {"count": db.execute(text("SELECT count(*) FROM items")).scalar_one()}
""",
    "SL005": """
plain = create_engine(DATABASE_URL, poolclass=QueuePool, pool_size=2, max_overflow=0, pool_timeout=1)


@app.get("/one")
def one():
    with plain.connect() as connection:
        return {"value": connection.execute(text("SELECT 1")).scalar_one()}
""",
    "SL006": """
AsyncSessionLocal = async_sessionmaker(aengine)


@app.post("/items/{name}")
async def create(name: str):
    async with AsyncSessionLocal() as db:
        item = Item(name=name)
        db.add(item)
        await db.commit()
        await db.refresh(item)
        return {"name": item.name}
""",
    "SL009": """
AsyncSessionLocal = async_sessionmaker(aengine, expire_on_commit=False)


async def get_db():
    db = AsyncSessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/one")
async def one(db: AsyncSession = Depends(get_db)):
    return {"value": (await db.execute(text("SELECT 1"))).scalar_one()}
""",
}
# What each app is asked, and whether the unfixed one leaks a connection per request there.
REQUESTS_OF = {
    "SL001": ("GET", "/count", True),
    "SL002": ("GET", "/items/99", True),
    "SL004": ("GET", "/count", False),
    "SL005": ("GET", "/one", False),
    "SL006": ("POST", "/items/a", False),
    "SL009": ("GET", "/one", True),
}
UNSAFE = {"SL006"}  # its fix is unsafe: applied here with --unsafe-fixes, as a user would

LAZY_RESULT = """
def all_items():
    db = SessionLocal()
    result = db.scalars(select(Item).order_by(Item.id))
    return result


@app.get("/names")
def names():
    return {"names": [item.name for item in all_items()]}
"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "service"
    folder.mkdir()
    database = tmp_path / "app.db"
    # Built at run time: an URL the linter cannot see is SQLite (SL005 then applies).
    (folder / "settings.py").write_text(
        f'DATABASE_URL = "".join(["sqlite:///", {str(database)!r}])\n'
        f'ASYNC_DATABASE_URL = "sqlite+aiosqlite:///{database}"\n'
    )
    sys.path.insert(0, str(folder))
    sys.modules.pop("settings", None)
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("settings", None)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"service_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bodies(module: ModuleType, method: str, path: str) -> list[tuple[int, object]]:
    with TestClient(module.app) as client:
        return [(r.status_code, r.json()) for r in (client.request(method, path) for _ in range(2))]


def leaks(module: ModuleType, method: str, path: str) -> bool:
    """The pool runs dry within a few dozen requests (the collector paused: see test_fixed_apps)."""
    gc.disable()
    try:
        with TestClient(module.app) as client:
            for _ in range(REQUESTS):
                client.request(method, path)
    except sqlalchemy.exc.TimeoutError:
        return True
    finally:
        gc.enable()
    return False


def dispose(module: ModuleType) -> None:
    module.engine.dispose()
    for name in ("plain",):
        if hasattr(module, name):
            getattr(module, name).dispose()


@pytest.mark.parametrize("code", list(APPS))
def test_the_fixed_app_answers_the_same(code: str, service: Path, tmp_path: Path) -> None:
    main = service / "main.py"
    main.write_text(HEADER + APPS[code])
    method, path, leaking = REQUESTS_OF[code]
    broken = load(main)
    before = bodies(broken, method, path)
    assert leaks(broken, method, path) == leaking
    dispose(broken)

    flags = ["--fix", "--unsafe-fixes"] if code in UNSAFE else ["--fix"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_in_process("check", "--no-cache", "--select", code, *flags, str(service), cwd=elsewhere)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert main.read_text() != HEADER + APPS[code]
    fixed = load(main)
    assert bodies(fixed, method, path) == before
    assert not leaks(fixed, method, path)
    if code != "SL009":  # the async engine's pool
        assert_pool_returned(fixed.engine)
    dispose(fixed)


def test_a_lazy_result_is_not_closed_under_it(service: Path, tmp_path: Path) -> None:
    main = service / "main.py"
    main.write_text(HEADER + LAZY_RESULT)
    seed = load(main)
    with seed.SessionLocal() as db:
        db.add_all([seed.Item(name="a"), seed.Item(name="b")])
        db.commit()
    expected = [(200, {"names": ["a", "b"]})] * 2
    assert bodies(seed, "GET", "/names") == expected
    dispose(seed)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_cli("check", "--no-cache", "--select", "SL002", "--fix", str(service), cwd=elsewhere)
    assert main.read_text() == HEADER + LAZY_RESULT  # unsafe: `--fix` leaves it
    kept = load(main)
    assert bodies(kept, "GET", "/names") == expected
    dispose(kept)

    # Why it is unsafe: closed in `finally`, the result can no longer be read.
    run_in_process(
        "check", "--no-cache", "--select", "SL002", "--fix", "--unsafe-fixes", str(service), cwd=elsewhere
    )
    closed = load(main)
    with TestClient(closed.app) as client, pytest.raises(sqlalchemy.exc.InvalidRequestError):
        client.get("/names")
    dispose(closed)
