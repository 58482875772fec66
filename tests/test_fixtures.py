"""Every fixture case through the real CLI: no missing finding, no extra one, exact fixes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixture_cases import Case, all_cases, matches, reported, run_cli

CASES = all_cases()


@pytest.fixture(scope="session")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set]:
    """All cases checked up front, a few subprocesses at a time (each case in its own folder)."""

    def check(case: Case):  # type: ignore[no-untyped-def]
        folder = case.copy_to(tmp_path_factory.mktemp("case"))
        return case.id, reported(run_cli("check", "--no-cache", "--format", "json", ".", cwd=folder))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(check, CASES))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_findings_match_inline_expectations(case: Case, cli_results: dict[str, set]) -> None:
    missing, extra = matches(case.expectations(), cli_results[case.id])
    assert not missing and not extra, (
        f"missing: {sorted(map(str, missing))}\nextra: {sorted(map(str, extra))}"
    )
    if case.path.name.startswith("ok_"):
        assert not case.expectations(), "an ok_ case expects nothing"


FIXABLE = [case for case in CASES if any(case.fixed_sibling(f, unsafe=True) for f in case.source_files())]


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", FIXABLE, ids=lambda case: case.id)
def test_fix_writes_exactly_the_fixed_file(case: Case, unsafe: bool, tmp_path: Path) -> None:
    folder = case.copy_to(tmp_path / "case")
    flags = ["--fix", "--unsafe-fixes"] if unsafe else ["--fix"]
    run_cli("check", "--no-cache", "--exit-zero", *flags, ".", cwd=folder)
    for file in case.source_files():
        written = (folder / case.relative(file)).read_bytes()
        sibling = case.fixed_sibling(file, unsafe=unsafe)
        expected = sibling.read_bytes() if sibling else file.read_bytes()
        assert written == expected, (
            f"{case.relative(file)} differs from {sibling.name if sibling else 'its original'}"
        )
    before = {p: p.read_bytes() for p in folder.rglob("*.py")}
    run_cli("check", "--no-cache", "--exit-zero", *flags, ".", cwd=folder)
    assert before == {p: p.read_bytes() for p in folder.rglob("*.py")}, "fixing twice changed something"
