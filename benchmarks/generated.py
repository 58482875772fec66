"""A generated FastAPI + SQLAlchemy application of any size, for the scaling benchmark.

    python benchmarks/generated.py DEST --size 50 [--shadow]   # writes DEST/gen-50[-shadow]/

``generate(dest, size)`` writes ``size`` router modules and ``size`` model modules around
one ``app/db.py``, so files grow linearly with ``size`` (2 * size + 5 files, 2 more with the shadow). Each router
module holds exactly one SL004 (an ``async def`` endpoint on a sync session) and one SL002
(a session closed only on the happy path), so the expected findings are known:
``expected_findings(size)``. Every router imports the next-lower router's helper, a chain
of re-exports as deep as the app is large.

With ``shadow=True`` it also holds ``app/ext/sqlalchemy/``, a vendored package that shares
a library's name (``app/ext`` has no ``__init__.py``, so ``app/ext`` is that package's
source root): its ``sql.py`` re-exports from ``sqlalchemy.sql``, which every router imports
from, and its ``__init__`` binds ``sql`` to something else. A resolver that takes the
vendored package for the library, and follows the loop without a memo, branches twice at
every level of the loop: time exponential in its depth limit for every name imported from
``sqlalchemy.sql``. The findings stay the same; only the time shows it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(engine)


class Base(DeclarativeBase):
    pass


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""

MAIN = """\
from fastapi import FastAPI

from app.routers import {imports}

app = FastAPI()
{includes}
"""

SHADOW_INIT = """\
from sqlalchemy.sql import expression as sql
"""

SHADOW_SQL = """\
from sqlalchemy.sql import expression, func, select, text

__all__ = ["expression", "func", "select", "text"]
"""

MODEL = """\
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Item{i}(Base):
    __tablename__ = "item{i}"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
"""

ROUTER = """\
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from sqlalchemy.sql import func, select

from app.db import SessionLocal, get_db
from app.models.m{i} import Item{i}
{chain_import}
router = APIRouter()


def helper{i}(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Item{i})){chain_call}


@router.get("/items{i}")
def list_items{i}(db: Session = Depends(get_db)):
    return db.scalars(select(Item{i})).all()


@router.get("/count{i}")
async def count_items{i}(db: Session = Depends(get_db)):
    return helper{i}(db)


def nightly_job{i}() -> None:
    db = SessionLocal()
    db.execute(select(Item{i}))
    db.commit()
    db.close()
"""


def expected_findings(size: int) -> dict[str, int]:
    """Findings per code that a correct sessionlint reports on ``generate(_, size)``."""
    return {"SL002": size, "SL004": size}


def generate(dest: Path, size: int, shadow: bool = False) -> Path:
    """Write the generated app of ``size`` routers under ``dest/gen-<size>[-shadow]``."""
    if size < 1:
        raise ValueError("size must be at least 1")
    root = dest / (f"gen-{size}-shadow" if shadow else f"gen-{size}")
    files = {
        "app/__init__.py": "",
        "app/db.py": DB,
        "app/models/__init__.py": "",
        "app/routers/__init__.py": "",
        "app/main.py": MAIN.format(
            imports=", ".join(f"r{i}" for i in range(size)),
            includes="".join(f"app.include_router(r{i}.router)\n" for i in range(size)),
        ),
    }
    if shadow:
        files["app/ext/sqlalchemy/__init__.py"] = SHADOW_INIT
        files["app/ext/sqlalchemy/sql.py"] = SHADOW_SQL
    for i in range(size):
        chained = i > 0
        files[f"app/models/m{i}.py"] = MODEL.format(i=i)
        files[f"app/routers/r{i}.py"] = ROUTER.format(
            i=i,
            chain_import=f"from app.routers.r{i - 1} import helper{i - 1}\n" if chained else "",
            chain_call=f" + helper{i - 1}(db)" if chained else "",
        )
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--shadow", action="store_true", help="add the package named like a library")
    args = parser.parse_args(argv)
    root = generate(args.dest, args.size, shadow=args.shadow)
    print(f"{root}: {sum(1 for _ in root.rglob('*.py'))} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
