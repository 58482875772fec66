"""Evidence with every finding (issue 17): the facts a finding stands on, as related locations.

Through the command run from the folder above the checked project (its entry point in this
process, `run_in_process`, and once the real command in a subprocess):
a factory in `db.py`, an `Annotated` alias in `deps.py`, an endpoint in `routes.py`. The
JSON `related` list, the SARIF `relatedLocations` (validated against the SARIF 2.1.0
schema), `--format full`'s notes, and cached runs giving the same evidence as clean ones.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sessionlint.facts.collect import collect
from tests.fixture_cases import run_cli, run_in_process
from tests.test_output_formats import SCHEMA_PATH, validate

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://db/app", pool_pre_ping=True)
label = "\U0001d518é"; SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def get_session():
    session = SessionLocal()
    return session
"""
DEPS = """\
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.db import get_db

SessionDep = Annotated[Session, Depends(get_db)]
"""
ROUTES = """\
from fastapi import APIRouter, Depends

from app.db import get_session
from app.deps import SessionDep

router = APIRouter()


@router.get("/items")
async def list_items(db: SessionDep):
    return db.execute("select 1").all()


@router.get("/other")
def other(session=Depends(get_session)):
    return []
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The folder the command runs in; the project is `proj/` below it."""
    app = tmp_path / "proj" / "app"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "db.py").write_text(DB, encoding="utf-8")
    (app / "deps.py").write_text(DEPS)
    (app / "routes.py").write_text(ROUTES)
    return tmp_path


def check(cwd: Path, *args: str, target: str = "proj", process: bool = False) -> str:
    """The command's output; `process`: the real command in a subprocess."""
    result = (run_cli if process else run_in_process)("check", *args, target, cwd=cwd)
    assert result.returncode == 1, result.stderr.decode()
    return result.stdout.decode("utf-8")


def findings(cwd: Path, *args: str, target: str = "proj", process: bool = False) -> list[dict[str, Any]]:
    return json.loads(check(cwd, "--format", "json", *args, target=target, process=process))


def related(item: dict[str, Any]) -> list[tuple[str, str, int, int, int, int]]:
    return [
        (
            fact["message"],
            fact["filename"],
            fact["location"]["row"],
            fact["location"]["column"],
            fact["end_location"]["row"],
            fact["end_location"]["column"],
        )
        for fact in item["related"]
    ]


def by_code(items: list[dict[str, Any]], code: str) -> dict[str, Any]:
    (found,) = [item for item in items if item["code"] == code]
    return found


SESSION_LOCAL = (
    "`SessionLocal` is `sessionmaker(bind=engine)`, a sync session factory",
    "proj/app/db.py",
    5,
    # After a character outside the BMP and an accented one: columns count characters
    # (UTF-8 bytes, as `ast` counts them, would give 19).
    15,
    5,
    55,
)
ENGINE = (
    "`engine` is `create_engine('postgresql://db/app', pool_pre_ping=...)`, an engine",
    "proj/app/db.py",
    4,
    1,
    4,
    66,
)


def test_json_names_every_step_of_the_chain_across_modules(workspace: Path) -> None:
    items = findings(workspace, "--no-cache", process=True)
    assert {(item["filename"], item["code"]) for item in items} == {
        ("proj/app/routes.py", "SL004"),
        ("proj/app/db.py", "SL001"),
    }
    # The endpoint's session: the alias, the dependency, the factory, the engine; and the
    # safe fix's premise.
    assert related(by_code(items, "SL004")) == [
        (
            "`SessionDep` is `Annotated[Session, Depends(get_db)]`, a sync session",
            "proj/app/deps.py",
            8,
            1,
            8,
            49,
        ),
        ("`get_db` yields `db`, a sync session", "proj/app/db.py", 8, 1, 8, 11),
        SESSION_LOCAL,
        ENGINE,
        ("nothing in the checked tree calls `list_items` directly", "proj/app/routes.py", 10, 1, 10, 21),
    ]
    assert by_code(items, "SL004")["fix"]["applicability"] == "safe"
    # The dependency: where `Depends` names it (another module), what it returns.
    assert related(by_code(items, "SL001")) == [
        ("`get_session` is used through `Depends(get_session)`", "proj/app/routes.py", 15, 19, 15, 39),
        SESSION_LOCAL,
        ENGINE,
        ("nothing in the checked tree calls `get_session` directly", "proj/app/db.py", 16, 1, 16, 16),
    ]


def test_a_finding_that_needs_no_other_place_has_an_empty_list(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "db.py").write_text(
        "from sqlalchemy import create_engine\n\nengine = create_engine('postgresql://db/app')\n"
    )
    (item,) = findings(tmp_path, "--no-cache")
    assert item["code"] == "SL005"
    assert item["related"] == []


def test_no_caller_is_claimed_where_the_function_has_one(workspace: Path) -> None:
    # Another module calls the endpoint: no fix, and no "nothing calls it" in the evidence.
    (workspace / "proj" / "app" / "jobs.py").write_text(
        "from app.routes import list_items\n\n\nasync def job(db):\n    await list_items(db)\n"
    )
    item = by_code(findings(workspace, "--no-cache"), "SL004")
    assert item["fix"] is None
    assert [fact[0] for fact in related(item)] == [
        "`SessionDep` is `Annotated[Session, Depends(get_db)]`, a sync session",
        "`get_db` yields `db`, a sync session",
        SESSION_LOCAL[0],
        ENGINE[0],
    ]


def test_sarif_related_locations_validate_and_match_the_json(workspace: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_bytes())
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    log = json.loads(check(workspace, "--no-cache", "--format", "sarif"))
    validate(validator, log)
    items = {(item["filename"], item["code"]): item for item in findings(workspace, "--no-cache")}
    results = log["runs"][0]["results"]
    assert len(results) == len(items) == 2
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        item = items[(physical["artifactLocation"]["uri"], result["ruleId"])]
        shown = [
            (
                location["message"]["text"],
                location["physicalLocation"]["artifactLocation"]["uri"],
                location["physicalLocation"]["region"]["startLine"],
                location["physicalLocation"]["region"]["startColumn"],
                location["physicalLocation"]["region"]["endLine"],
                location["physicalLocation"]["region"]["endColumn"],
            )
            for location in result["relatedLocations"]
        ]
        assert shown == related(item)
        assert [location["id"] for location in result["relatedLocations"]] == list(range(len(shown)))


def test_full_format_shows_the_source_underlined_the_evidence_and_the_fix(workspace: Path) -> None:
    out = check(workspace, "--no-cache", "--format", "full", "--select", "SL004")
    lines = out.splitlines()
    header = lines[0]
    assert header.startswith(
        "proj/app/routes.py:10:22: SL004 [*] Sync session `db` in `async def list_items`"
    )
    assert lines[1:5] == [
        "   |",
        ' 9 | @router.get("/items")',
        "10 | async def list_items(db: SessionDep):",
        "   |                      ^^ SL004",
    ]
    assert lines[5] == "   |"
    assert lines[6:11] == [
        "   = note: proj/app/deps.py:8: `SessionDep` is `Annotated[Session, Depends(get_db)]`, a sync session",
        "   = note: proj/app/db.py:8: `get_db` yields `db`, a sync session",
        "   = note: proj/app/db.py:5: `SessionLocal` is `sessionmaker(bind=engine)`, a sync session factory",
        "   = note: proj/app/db.py:4: " + ENGINE[0],
        "   = note: proj/app/routes.py:10: nothing in the checked tree calls `list_items` directly",
    ]
    assert lines[11] == "   = help: Make `list_items` a plain `def` (safe fix)"
    assert lines[-1] == "Found 1 problem (1 fixable with --fix)."
    # `text` stays one line per finding.
    text = check(workspace, "--no-cache", "--select", "SL004").splitlines()
    assert len(text) == 2 and text[0] == header


def test_cached_runs_give_the_evidence_of_clean_runs(workspace: Path) -> None:
    clean = findings(workspace, "--no-cache")
    assert findings(workspace) == clean  # fills the cache
    assert findings(workspace) == clean  # the no-change shortcut
    # An edit that moves the factory: the findings resting on it are checked again.
    db = workspace / "proj" / "app" / "db.py"
    db.write_text("# moved\n" + DB, encoding="utf-8")
    moved = findings(workspace)
    assert moved == findings(workspace, "--no-cache")
    assert ("proj/app/db.py", 6) in {(fact[1], fact[2]) for fact in related(by_code(moved, "SL004"))}


def test_cached_evidence_is_relocated_for_another_working_folder(workspace: Path) -> None:
    findings(workspace)  # the cache, at the project's root, holds paths as `proj/app/...`
    # Change a file nothing else rests on: the others' findings come from that cache.
    (workspace / "proj" / "app" / "unrelated.py").write_text("x = 1\n")
    project = workspace / "proj"
    cached = findings(project, target=".")
    assert cached == findings(project, "--no-cache", target=".")
    assert related(by_code(cached, "SL004"))[0][1] == "app/deps.py"
    shutil.rmtree(project / ".sessionlint_cache")


def test_the_fact_pass_records_positions_in_characters() -> None:
    source = (
        'x = "é"; Factory = make()\n\n\nasync   def  get_db():\n    pass\n\n\nclass Repo:\n    attr = 1\n'
    )
    facts = collect(ast.parse(source), path="m.py", module="m", is_package=False, text=source)
    assert facts.binding_spans["Factory"] == (1, 10, 1, 26)
    assert facts.binding_spans["Repo"] == (8, 1, 8, 11)
    assert facts.binding_spans["Repo.attr"] == (9, 5, 9, 13)
    assert facts.functions["get_db"].span == (4, 1, 4, 20)
