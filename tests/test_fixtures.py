"""Every fixture case through the CLI: no missing finding, no extra one, exact fixes.

Every case runs through the command's own entry point in this process (`run_in_process`:
the same options, configuration, run, output and exit code, without an interpreter start
per case). A representative few per rule also run through the real command in a
subprocess, and must print exactly what the in-process run printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixture_cases import (
    FIXTURES,
    Case,
    all_cases,
    matches,
    reported,
    run_cli,
    run_in_process,
)

CASES = all_cases()
FIXABLE = [case for case in CASES if any(case.fixed_sibling(f, unsafe=True) for f in case.source_files())]
CHECK = ("check", "--no-cache", "--format", "json", ".")


def representatives(cases: list[Case]) -> list[Case]:
    """Per rule folder its first `flag_` and first `ok_` case, and the first case that is a
    folder (a small project). Chosen by name: cases added later run in-process, and this
    choice stays stable."""
    chosen: list[Case] = []
    for rule_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        in_rule = [case for case in cases if case.path.parent == rule_dir]
        for prefix in ("flag_", "ok_"):
            chosen += [case for case in in_rule if case.path.name.startswith(prefix)][:1]
    chosen += [case for case in cases if case.is_dir and case not in chosen][:1]
    return chosen


# Findings: a few per rule. Fixes: the first fixable file and the first fixable folder.
THROUGH_SUBPROCESS = representatives(CASES)
FIXED_THROUGH_SUBPROCESS = [
    *[case for case in FIXABLE if not case.is_dir][:1],
    *[case for case in FIXABLE if case.is_dir][:1],
]


def assert_findings_match(case: Case, found: set) -> None:
    missing, extra = matches(case.expectations(), found)
    assert not missing and not extra, (
        f"missing: {sorted(map(str, missing))}\nextra: {sorted(map(str, extra))}"
    )
    if case.path.name.startswith("ok_"):
        assert not case.expectations(), "an ok_ case expects nothing"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_findings_match_inline_expectations(case: Case, tmp_path: Path) -> None:
    folder = case.copy_to(tmp_path / "case")
    assert_findings_match(case, reported(run_in_process(*CHECK, cwd=folder)))


@pytest.mark.parametrize("case", THROUGH_SUBPROCESS, ids=lambda case: case.id)
def test_the_command_in_a_subprocess_reports_the_same(case: Case, tmp_path: Path) -> None:
    folder = case.copy_to(tmp_path / "case")
    command = run_cli(*CHECK, cwd=folder)
    assert_findings_match(case, reported(command))
    in_process = run_in_process(*CHECK, cwd=folder)
    assert (command.returncode, command.stdout) == (in_process.returncode, in_process.stdout)


def assert_fix_writes_exactly_the_fixed_file(case: Case, unsafe: bool, folder: Path, run) -> None:  # type: ignore[no-untyped-def]
    flags = ["--fix", "--unsafe-fixes"] if unsafe else ["--fix"]
    first = run("check", "--no-cache", "--exit-zero", *flags, ".", cwd=folder)
    assert first.returncode == 0, first.stderr.decode()
    for file in case.source_files():
        written = (folder / case.relative(file)).read_bytes()
        sibling = case.fixed_sibling(file, unsafe=unsafe)
        expected = sibling.read_bytes() if sibling else file.read_bytes()
        assert written == expected, (
            f"{case.relative(file)} differs from {sibling.name if sibling else 'its original'}"
        )
    before = {p: p.read_bytes() for p in folder.rglob("*.py")}
    second = run("check", "--no-cache", "--exit-zero", *flags, ".", cwd=folder)
    assert second.returncode == 0, second.stderr.decode()
    assert before == {p: p.read_bytes() for p in folder.rglob("*.py")}, "fixing twice changed something"


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", FIXABLE, ids=lambda case: case.id)
def test_fix_writes_exactly_the_fixed_file(case: Case, unsafe: bool, tmp_path: Path) -> None:
    folder = case.copy_to(tmp_path / "case")
    assert_fix_writes_exactly_the_fixed_file(case, unsafe, folder, run_in_process)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", FIXED_THROUGH_SUBPROCESS, ids=lambda case: case.id)
def test_the_command_in_a_subprocess_fixes_the_same(case: Case, unsafe: bool, tmp_path: Path) -> None:
    folder = case.copy_to(tmp_path / "case")
    assert_fix_writes_exactly_the_fixed_file(case, unsafe, folder, run_cli)
