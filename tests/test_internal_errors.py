"""A bug of ours on one file is an internal error naming the rule, the file and the line:
exit 2 (SPEC.md), the other rules and files still checked, a traceback only with --verbose.

The crashes are planted with a monkeypatch, then the command's own entry point runs in this
process (`run_in_process`); in a worker pool, and once through the real command line, a small
launcher plants them in a subprocess that then runs the command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Protocol

import libcst as cst
import pytest

from sessionlint.rules import Rule
from tests.fixture_cases import ROOT, WORKER_PADDING, run_in_process, spread_over_workers


class Explodes(Rule):
    """Crashes on `explode()` calls."""

    code = "SL993"
    name = "explodes"
    message = "never reported"

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "explode":
            raise RuntimeError("boom")


class Patcher(Protocol):
    def setattr(self, target: object, name: str, value: object) -> None: ...

    def setitem(self, mapping: dict[str, str], name: str, value: str) -> None: ...


def inject(where: str, patch: Patcher) -> None:
    """Plant the crash `where` says: in a rule, the fact pass, the fixer or the project index."""
    import sessionlint.facts.engine
    import sessionlint.fixes.fixer
    import sessionlint.rules
    import sessionlint.settings.codes

    if where == "rule":
        patch.setattr(sessionlint.rules, "ALL_RULES", (*sessionlint.rules.ALL_RULES, Explodes))
        # Registered like a real rule.
        patch.setitem(sessionlint.settings.codes.RULE_NAMES, Explodes.code, Explodes.name)
    elif where == "facts":
        collect = sessionlint.facts.engine.collect

        def collect_or_explode(tree, *, path, **kwargs):  # type: ignore[no-untyped-def]
            if path.endswith("crash.py"):
                raise ValueError("facts went wrong")
            return collect(tree, path=path, **kwargs)

        patch.setattr(sessionlint.facts.engine, "collect", collect_or_explode)
    elif where == "fixer":

        def apply_edits(text, edits):  # type: ignore[no-untyped-def]
            raise KeyError("edits went wrong")

        patch.setattr(sessionlint.fixes.fixer, "apply_edits", apply_edits)
    elif where == "project":

        def build_project(self, states):  # type: ignore[no-untyped-def]
            raise AttributeError("the index went wrong")

        patch.setattr(sessionlint.facts.engine.Engine, "build_project", build_project)


# Plants the crash in a fresh interpreter, then runs the real command line.
LAUNCHER = f"""\
import sys

sys.path.insert(0, {str(ROOT)!r})

from tests.test_internal_errors import inject


class Patch:
    setattr = staticmethod(setattr)

    @staticmethod
    def setitem(mapping, name, value):
        mapping[name] = value


inject(sys.argv.pop(1), Patch())

from sessionlint.entry.cli import main

main(prog_name="sessionlint")
"""

CRASH = (
    b"from sqlalchemy import create_engine\n"
    b'engine = create_engine("postgresql://a")\n'
    b"explode()\n"
    b'other = create_engine("postgresql://b")\n'
)
OTHER = b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://c")\n'


def launch(folder: Path, where: str, *args: str) -> tuple[int, str, str]:
    (folder / "launch.py").write_text(LAUNCHER)
    result = subprocess.run(
        [sys.executable, "launch.py", where, "check", *args],
        cwd=folder,
        capture_output=True,
        timeout=180,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """`launch` in this process: the crash planted with a monkeypatch (undone after the test)."""

    def run(folder: Path, where: str, *args: str) -> tuple[int, str, str]:
        with monkeypatch.context() as patch:
            inject(where, patch)
            result = run_in_process("check", *args, cwd=folder)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    return run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "crash.py").write_bytes(CRASH)
    (tmp_path / "src" / "other.py").write_bytes(OTHER)
    return tmp_path


FINDINGS = [
    "src/crash.py:2:10: SL005",
    "src/crash.py:4:9: SL005",  # the same file's other findings, by the other rules
    "src/other.py:2:10: SL005",  # and the other files
]


def test_rule_crash_is_reported_with_rule_file_and_line(project: Path) -> None:
    code, stdout, stderr = launch(project, "rule", "--no-cache", "src")
    assert code == 2
    assert "error: internal error in SL993 on src/crash.py:3: RuntimeError: boom" in stderr
    assert "(run with --verbose for the traceback)" in stderr
    assert "Traceback" not in stdout + stderr
    for finding in FINDINGS:
        assert finding in stdout


def test_verbose_shows_the_traceback(check: Callable[..., tuple[int, str, str]], project: Path) -> None:
    code, stdout, stderr = check(project, "rule", "--no-cache", "--verbose", "src")
    assert code == 2
    assert "Traceback (most recent call last)" in stderr
    assert 'raise RuntimeError("boom")' in stderr
    for finding in FINDINGS:
        assert finding in stdout


def test_rule_crash_in_a_worker_process(project: Path) -> None:
    for index in range(40):  # enough source for --jobs to fork
        (project / "src" / f"m{index:02}.py").write_bytes(OTHER + WORKER_PADDING.encode())
    assert spread_over_workers(sorted((project / "src").glob("m*.py")))
    code, stdout, stderr = launch(project, "rule", "--no-cache", "--jobs", "2", "src")
    assert code == 2
    assert "error: internal error in SL993 on src/crash.py:3: RuntimeError: boom" in stderr
    assert stdout.count(": SL005 ") == 3 + 40


def test_rule_crash_is_not_cached(check: Callable[..., tuple[int, str, str]], project: Path) -> None:
    for _ in range(2):
        code, stdout, stderr = check(project, "rule", "--cache-dir", "cache", "src")
        assert code == 2
        assert "internal error in SL993 on src/crash.py:3" in stderr
        for finding in FINDINGS:
            assert finding in stdout


def test_rule_crash_with_fix_still_applies_the_other_fixes(
    check: Callable[..., tuple[int, str, str]], project: Path
) -> None:
    code, _stdout, stderr = check(project, "rule", "--no-cache", "--fix", "src")
    assert code == 2
    assert "internal error in SL993 on src/crash.py:3: RuntimeError: boom" in stderr
    assert b"pool_pre_ping=True" in (project / "src" / "other.py").read_bytes()
    assert (project / "src" / "crash.py").read_bytes().count(b"pool_pre_ping=True") == 2


def test_crash_in_the_fact_pass_names_the_file(
    check: Callable[..., tuple[int, str, str]], project: Path
) -> None:
    code, stdout, stderr = check(project, "facts", "--no-cache", "src")
    assert code == 2
    assert "error: internal error in sessionlint on src/crash.py:1: ValueError: facts went wrong" in stderr
    assert "Traceback" not in stdout + stderr
    assert "src/other.py:2:10: SL005" in stdout


def test_crash_in_the_fixer_writes_nothing(check: Callable[..., tuple[int, str, str]], project: Path) -> None:
    code, stdout, stderr = check(project, "fixer", "--no-cache", "--fix", "src")
    assert code == 2
    assert "internal error in sessionlint on src/crash.py:1: KeyError: 'edits went wrong'" in stderr
    assert "internal error in sessionlint on src/other.py:1" in stderr
    assert "Traceback" not in stdout + stderr
    assert (project / "src" / "crash.py").read_bytes() == CRASH
    assert (project / "src" / "other.py").read_bytes() == OTHER
    for finding in FINDINGS:
        assert finding in stdout  # what could not be fixed is still reported


@pytest.mark.parametrize("verbose", [False, True])
def test_crash_outside_any_file_is_one_line(
    check: Callable[..., tuple[int, str, str]], project: Path, verbose: bool
) -> None:
    args = ["--no-cache", *(["--verbose"] if verbose else []), "src"]
    code, _stdout, stderr = check(project, "project", *args)
    assert code == 2
    assert "error: internal error: AttributeError: the index went wrong" in stderr
    assert ("Traceback" in stderr) is verbose
