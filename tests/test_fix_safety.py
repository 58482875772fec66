"""A safe fix never breaks working code (issue 14), through the command run from another
folder than the project: fixes that need "nothing else in the project does X" are unsafe
when the run did not see the whole project (stdin, one named file, an ambiguous module
name); SL002 decides by dataflow; added imports are where isort puts them.

Standard input and one named file run the real CLI in a subprocess; the others run the
command's own entry point in this process (`run_in_process`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ruff.__main__ import find_ruff_bin

from tests.fixture_cases import Completed, run_cli, run_in_process

DB = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(engine)
app = FastAPI()


def get_db():
    db = SessionLocal()
    return db


@app.get("/items")
def items(db: Session = Depends(get_db)):
    return []
"""

DIRECT_CALLER = """\
from app.db import get_db


def job():
    db = get_db()
    try:
        return db.info
    finally:
        db.close()
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def fixes(result: Completed) -> dict[tuple[str, str], dict]:
    """(file name, code) -> the finding's fix, from `--format json`."""
    assert result.returncode in (0, 1), result.stderr.decode()
    return {(Path(d["filename"]).name, d["code"]): d["fix"] for d in json.loads(result.stdout)}


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`app/db.py` returns its session from `get_db`; `app/jobs.py` calls it directly."""
    return write(tmp_path / "project", {"app/__init__.py": "", "app/db.py": DB, "app/jobs.py": DIRECT_CALLER})


def test_stdin_does_not_rewrite_a_dependency_another_file_calls(project: Path, elsewhere: Path) -> None:
    db = project / "app" / "db.py"
    args = ("check", "-", "--stdin-filename", str(db))
    fixed = run_cli(*args, "--fix", cwd=elsewhere, stdin=db.read_bytes())
    assert fixed.stdout == db.read_bytes()  # the buffer alone cannot tell about `jobs.py`
    fix = fixes(run_cli(*args, "--format", "json", cwd=elsewhere, stdin=db.read_bytes()))[("db.py", "SL001")]
    assert fix["applicability"] == "unsafe"
    assert "not every use of it in the project is known" in fix["message"]
    unsafe = run_cli(*args, "--fix", "--unsafe-fixes", cwd=elsewhere, stdin=db.read_bytes())
    assert b"yield db" in unsafe.stdout


def test_stdin_of_a_file_alone_in_its_project_is_fixed(tmp_path: Path, elsewhere: Path) -> None:
    db = write(tmp_path / "alone", {"db.py": DB}) / "db.py"
    fixed = run_cli("check", "-", "--stdin-filename", str(db), "--fix", cwd=elsewhere, stdin=db.read_bytes())
    assert b"yield db" in fixed.stdout


def test_one_named_file_on_a_fresh_clone_is_not_rewritten(tmp_path: Path, elsewhere: Path) -> None:
    # Nothing calls `get_db` directly, but a run over `db.py` alone cannot know that.
    main = "from sqlalchemy.orm import Session\n\nfrom app.db import app\n"
    root = write(tmp_path / "clone", {"app/__init__.py": "", "app/db.py": DB, "app/main.py": main})
    db = root / "app" / "db.py"
    result = run_cli("check", "--fix", str(db), cwd=elsewhere)
    assert result.returncode == 1
    assert db.read_text() == DB
    assert not (root / ".sessionlint_cache").exists()
    # The whole project: every module seen, the fix is safe.
    assert run_cli("check", "--fix", str(root), cwd=elsewhere).returncode == 0
    assert "yield db" in db.read_text()


def test_the_configuration_folder_is_the_project(tmp_path: Path, elsewhere: Path) -> None:
    """`tests/` lies outside the checked `app/` but inside the project: it may call `get_db`."""
    root = write(
        tmp_path / "configured",
        {
            "pyproject.toml": "[tool.sessionlint]\nignore = []\n",
            "app/__init__.py": "",
            "app/db.py": DB,
            "tests/test_db.py": "from app.db import get_db\n\n\ndef test_db():\n    get_db().close()\n",
        },
    )
    run_in_process("check", "--no-cache", "--fix", str(root / "app"), cwd=elsewhere)
    assert (root / "app" / "db.py").read_text() == DB
    found = fixes(run_in_process("check", "--no-cache", "--format", "json", str(root), cwd=elsewhere))
    assert "called directly" in found[("db.py", "SL001")]["message"]


def test_a_cached_finding_of_a_whole_run_is_not_reused_by_a_partial_one(
    project: Path, elsewhere: Path
) -> None:
    (project / "app" / "jobs.py").write_text("from sqlalchemy.orm import Session\n")
    cache = ("--cache-dir", str(elsewhere / "cache"))
    whole = fixes(run_in_process("check", *cache, "--format", "json", str(project), cwd=elsewhere))
    assert whole[("db.py", "SL001")]["applicability"] == "safe"
    one = fixes(
        run_in_process("check", *cache, "--format", "json", str(project / "app" / "db.py"), cwd=elsewhere)
    )
    assert one[("db.py", "SL001")]["applicability"] == "unsafe"


def test_a_module_name_two_services_share_hides_the_direct_caller(tmp_path: Path, elsewhere: Path) -> None:
    """Both services have an `app.db`: `from app.db import get_db` resolves to neither."""
    root = tmp_path / "monorepo"
    for service in ("billing", "shipping"):
        write(root / service, {"app/__init__.py": "", "app/db.py": DB})
    write(root / "billing", {"app/jobs.py": DIRECT_CALLER})
    run_in_process("check", "--no-cache", "--fix", str(root), cwd=elsewhere)
    assert (root / "billing" / "app" / "db.py").read_text() == DB
    found = fixes(run_in_process("check", "--no-cache", "--format", "json", str(root), cwd=elsewhere))
    assert found[("db.py", "SL001")]["applicability"] == "unsafe"


ROUTES = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(engine)
app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/items")
async def items(db: Session = Depends(get_db)):
    return db.execute(text("SELECT 1")).all()
"""
AWAITING_CALLER = "from app.routes import items\n\n\nasync def job(db):\n    return await items(db)\n"


def test_an_endpoint_an_ambiguous_name_may_await_gets_an_unsafe_fix(tmp_path: Path, elsewhere: Path) -> None:
    """`app.routes.items` may be either service's: SL004's fix is offered, as unsafe, and says why."""
    root = tmp_path / "monorepo"
    for service in ("billing", "shipping"):
        write(root / service, {"app/__init__.py": "", "app/routes.py": ROUTES})
    # Outside both services: which `app.routes` it awaits depends on how it is run.
    write(root, {"scripts/job.py": AWAITING_CALLER})
    run_in_process("check", "--no-cache", "--fix", str(root), cwd=elsewhere)
    assert (root / "billing" / "app" / "routes.py").read_text() == ROUTES
    result = run_in_process("check", "--no-cache", "--format", "json", str(root), cwd=elsewhere)
    found = [d for d in json.loads(result.stdout) if d["code"] == "SL004"]
    assert len(found) == 2
    for finding in found:
        assert finding["fix"]["applicability"] == "unsafe"
        assert "two source roots share" in finding["fix"]["message"]
    # A caller inside the service is known: the endpoint it awaits gets no fix at all.
    write(root / "billing", {"app/jobs.py": AWAITING_CALLER})
    result = run_in_process("check", "--no-cache", "--format", "json", str(root), cwd=elsewhere)
    fixed = {
        Path(d["filename"]).parts[-3]: d["fix"] for d in json.loads(result.stdout) if d["code"] == "SL004"
    }
    assert fixed["billing"] is None and fixed["shipping"]["applicability"] == "unsafe"


ORGS = """\
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from models import Org

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(engine)


def {name}({params}):
    db = SessionLocal()
{body}
"""

LEAVING = {
    "through_a_local": "    result = db.scalars(select(Org))\n    return result",
    "through_two_locals": "    query = db.query(Org)\n    rows = query.filter(Org.id > 0)\n    return rows",
    "in_a_container": "    out = []\n    for org in db.scalars(select(Org)):\n        out.append(org)\n    return out",
    "on_an_attribute": "    self.orgs = db.scalars(select(Org)).all()\n    db.close()",
    "in_a_global_cache": "    CACHE['orgs'] = db.scalars(select(Org))\n    db.close()",
    "yielded": "    for org in db.scalars(select(Org)):\n        yield org\n    db.close()",
    "added_then_returned": "    org = Org(name=name)\n    db.add(org)\n    db.commit()\n    return org",
}
STAYING = {
    "used_inside": "    total = len(db.scalars(select(Org)).all())\n    print(total)",
    "returned_after_the_close": "    total = db.scalar(select(Org))\n    db.close()\n    return total",
}


@pytest.mark.parametrize("case", [*LEAVING, *STAYING])
def test_closing_is_unsafe_when_a_value_of_the_session_leaves(
    case: str, tmp_path: Path, elsewhere: Path
) -> None:
    params = {"on_an_attribute": "self", "added_then_returned": "name"}.get(case, "")
    body = {**LEAVING, **STAYING}[case]
    source = ORGS.format(name=case, params=params, body=body)
    path = write(tmp_path / "orgs", {"orgs.py": source}) / "orgs.py"
    fix = fixes(run_in_process("check", "--no-cache", "--format", "json", str(path), cwd=elsewhere))[
        ("orgs.py", "SL002")
    ]
    run_in_process("check", "--no-cache", "--fix", str(path), cwd=elsewhere)
    if case in LEAVING:
        assert fix["applicability"] == "unsafe"
        assert path.read_text() == source
    else:
        assert fix["applicability"] == "safe"
        assert "finally:" in path.read_text()


# -- imports where isort puts them ---------------------------------------------------------

BODY = """
engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(engine)
app = FastAPI()


def get_db():
    db = SessionLocal()
    return db


@app.get("/items")
def items(db: Session = Depends(get_db)):
    return []
"""
THIRD_PARTY = "from fastapi import Depends, FastAPI\nfrom sqlalchemy import create_engine\n" + (
    "from sqlalchemy.orm import Session, sessionmaker\n"
)
IMPORT_BLOCKS = {
    "plain_stdlib_import": "import logging\n\n" + THIRD_PARTY,
    "no_stdlib_import": THIRD_PARTY,
    "stdlib_from_imports": '"""Doc."""\n\nfrom __future__ import annotations\n\nimport os\n'
    "from contextlib import contextmanager\nfrom typing import Any\n\n" + THIRD_PARTY,
    "joined_in_order": "from collections.abc import Callable, Sequence\n\n" + THIRD_PARTY,
    "joined_one_per_line": "from collections.abc import (\n    Awaitable,\n    Callable,\n    Sequence,\n)\n\n"
    + THIRD_PARTY,
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("case", list(IMPORT_BLOCKS))
def test_an_added_import_keeps_ruff_isort_happy(
    case: str, newline: str, tmp_path: Path, elsewhere: Path
) -> None:
    folder = tmp_path / "isort"
    folder.mkdir()
    path = folder / "service.py"
    path.write_bytes((IMPORT_BLOCKS[case] + BODY).replace("\n", newline).encode())
    # The binary `python -m ruff` would start, without a Python start-up before it.
    ruff = [find_ruff_bin(), "check", "--isolated", "--select", "I", "--no-cache", str(path)]
    assert subprocess.run(ruff, capture_output=True, cwd=elsewhere).returncode == 0
    run_in_process("check", "--no-cache", "--fix", str(folder), cwd=elsewhere)
    fixed = path.read_bytes()
    assert b"Iterator[Session]" in fixed
    checked = subprocess.run(ruff, capture_output=True, cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout.decode()
    assert fixed.count(b"\n") == fixed.count(newline.encode())  # the file's line endings
