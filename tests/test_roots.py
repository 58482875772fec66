"""Modules named by source root, through the command run from another working folder than
the checked project's (issue 13, section 2): the whole fixtures folder through the real CLI
in a subprocess, the smaller layouts through its entry point in this process (`run_in_process`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.fixture_cases import (
    FIXED_SUFFIXES,
    FIXTURES,
    Expected,
    all_cases,
    matches,
    reported,
    run_cli,
    run_in_process,
)

SL001 = FIXTURES / "SL001"

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql+psycopg://app@db/app", pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)


def get_db():
    return SessionLocal()
"""
ROUTES = """\
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

from lib.db import get_db

app = FastAPI()


@app.get("/items")
def items(db: Session = Depends(get_db)):
    return db.info
"""
NIGHTLY = """\
from lib.db import get_db


def main():
    db = get_db()
    try:
        db.info.clear()
    finally:
        db.close()
"""


def copy_case(case: Path, destination: Path) -> Path:
    shutil.copytree(case, destination, ignore=shutil.ignore_patterns(*(f"*{s}" for s in FIXED_SUFFIXES)))
    return destination


def findings(result) -> set[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    return {(item.path, item.row, item.code) for item in reported(result)}


_WHOLE_PROJECT_CODES = frozenset({"SL011", "SL012"})


def test_checking_the_whole_fixtures_folder_gives_each_case_its_own_findings(tmp_path: Path) -> None:
    """Many cases define an `app` package: each is a source root of its own, so checking them
    all at once finds, in every case, what checking the case alone finds (its inline
    expectations, which `test_fixtures` holds the case alone to).

    The intended differences: a case's `# config:` lines become a `pyproject.toml` only
    when it is checked alone; in the whole folder it runs with the default settings. And
    the whole-project rules (SL011, SL012) conclude "nothing in the checked tree removes /
    disposes it" over the whole tree: another case's `remove()` on a receiver the model
    cannot resolve may be any registry (roots import each other), so they may find less,
    never more."""
    copy_case(FIXTURES, tmp_path / "fixtures")
    result = run_cli("check", "--no-cache", "--format", "json", "fixtures", cwd=tmp_path)
    by_file: dict[str, set[Expected]] = {}
    for item in reported(result):
        by_file.setdefault(item.path, set()).add(item)
    checked = 0
    for case in all_cases():
        if case.config_lines():
            continue
        prefix = f"fixtures/{case.id}"
        got = {
            Expected(case.relative(FIXTURES / path[len("fixtures/") :]), item.row, item.code, item.column)
            for path, items in by_file.items()
            if path == prefix or path.startswith(prefix + "/")
            for item in items
        }
        missing, extra = matches(case.expectations(), got)
        missing = {item for item in missing if item.code not in _WHOLE_PROJECT_CODES}
        assert not missing and not extra, (
            f"{case.id}: missing {sorted(map(str, missing))}, extra {sorted(map(str, extra))}"
        )
        checked += 1
    assert checked > 100


def test_two_services_with_an_app_package_are_two_projects(tmp_path: Path) -> None:
    repo = copy_case(SL001 / "flag_monorepo_same_package_name", tmp_path / "repo")
    (repo / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # tooling at the top
    result = run_in_process("check", "--no-cache", "--format", "json", "repo", cwd=tmp_path)
    assert findings(result) == {("repo/catalog/app/db.py", 9, "SL001")}
    billing_before = (repo / "billing" / "app" / "db.py").read_bytes()
    run_in_process("check", "--no-cache", "--fix", "--exit-zero", "repo", cwd=tmp_path)
    assert (repo / "billing" / "app" / "db.py").read_bytes() == billing_before  # its job calls it
    fixed = SL001 / "flag_monorepo_same_package_name" / "catalog" / "app" / "db.fixed.py"
    assert (repo / "catalog" / "app" / "db.py").read_bytes() == fixed.read_bytes()


def test_a_caller_that_could_be_either_service_s_makes_the_fixes_unsafe(tmp_path: Path) -> None:
    repo = copy_case(SL001 / "flag_monorepo_ambiguous_caller", tmp_path / "repo")
    before = {path: path.read_bytes() for path in repo.rglob("*.py")}
    result = run_in_process("check", "--no-cache", "--fix", "--format", "json", "repo", cwd=tmp_path)
    assert findings(result) == {
        ("repo/billing/app/db.py", 9, "SL001"),
        ("repo/catalog/app/db.py", 9, "SL001"),
    }
    assert {path: path.read_bytes() for path in repo.rglob("*.py")} == before  # no safe fix
    assert (
        "2 more fixable with `--fix --unsafe-fixes`"
        in run_in_process("check", "--no-cache", "repo", cwd=tmp_path).stdout.decode()
    )


def test_a_package_named_like_the_library_is_not_the_library(tmp_path: Path) -> None:
    copy_case(FIXTURES / "SL005" / "ok_project_package_named_like_library", tmp_path / "project")
    result = run_in_process("check", "--no-cache", "--format", "json", "project", cwd=tmp_path)
    assert findings(result) == set()


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_configured_src_roots_find_a_direct_caller_in_namespace_packages(tmp_path: Path) -> None:
    # No `__init__.py` anywhere: only `src` says that `services/billing/lib/db.py` is `lib.db`,
    # and so that the nightly job calls the dependency directly (its fix is then unsafe).
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "services/billing/lib/db.py": DB,
            "services/billing/api/routes.py": ROUTES,
            "services/billing/jobs/nightly.py": NIGHTLY,
        },
    )
    (repo / "pyproject.toml").write_text('[tool.sessionlint]\nsrc = ["services/*"]\n')
    result = run_in_process("check", "--no-cache", "--format", "json", "--unsafe-fixes", "repo", cwd=tmp_path)
    items = json.loads(result.stdout)
    assert [(item["filename"], item["code"]) for item in items] == [
        ("repo/services/billing/lib/db.py", "SL001")
    ]
    assert items[0]["fix"]["applicability"] == "unsafe"


def test_a_bad_src_setting_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "repo", {"app.py": "x = 1\n"})
    (tmp_path / "repo" / "pyproject.toml").write_text("[tool.sessionlint]\nsrc = 'services'\n")
    result = run_in_process("check", "--no-cache", "repo", cwd=tmp_path)
    assert result.returncode == 2
    assert "`src` must be a list of strings" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
