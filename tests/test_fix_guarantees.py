"""SPEC.md "Fixes: guarantees", one test each: a fix never loses data.

Through the real CLI where the point is what a user sees (`check --fix`, `--diff`);
in-process where it needs a broken rule, a race or a failing disk. SL005's fix
(`pool_pre_ping=True`) is the vehicle.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

import sessionlint.rules
import sessionlint.settings.codes
import sessionlint.workspace
from sessionlint.entry.run import RunOptions, RunReport, check_paths
from sessionlint.rules import Rule
from sessionlint.settings.config import Settings
from tests.fixture_cases import run_cli

PLAIN = b'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://x")\n'
PLAIN_FIXED = (
    b'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://x", pool_pre_ping=True)\n'
)


def fix(folder: Path, *paths: str) -> subprocess.CompletedProcess[bytes]:
    result = run_cli("check", "--no-cache", "--fix", *(paths or (".",)), cwd=folder)
    assert b"Traceback" not in result.stdout + result.stderr, result.stderr.decode()
    return result


def _identity(path: Path) -> tuple[int, int, bytes]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns, path.read_bytes()


# One project holds every byte-level case: `--diff` runs on one copy, `--fix` twice on
# another (a CLI run costs a second or more; each test below reads its own files).
CASES: dict[str, tuple[bytes, bytes]] = {  # name: (before, after --fix)
    "crlf.py": (
        b"from sqlalchemy import create_engine\r\n"
        b"\r\n"
        b"# one argument per line, trailing comma: the fix adds a line in the same style\r\n"
        b"engine = create_engine(\r\n"
        b'    "postgresql://x",\r\n'
        b"    echo=True,\r\n"
        b")\r\n",
        b"from sqlalchemy import create_engine\r\n"
        b"\r\n"
        b"# one argument per line, trailing comma: the fix adds a line in the same style\r\n"
        b"engine = create_engine(\r\n"
        b'    "postgresql://x",\r\n'
        b"    echo=True,\r\n"
        b"    pool_pre_ping=True,\r\n"
        b")\r\n",
    ),
    "bom.py": (b"\xef\xbb\xbf" + PLAIN, b"\xef\xbb\xbf" + PLAIN_FIXED),
    "tabs.py": (
        b"from sqlalchemy import create_engine\n"
        b"\n"
        b"if True:\n"
        b"\tengine = create_engine(\n"
        b'\t\t"postgresql://x",\t# tab before the comment\n'
        b"\t\techo=True,\n"
        b"\t)\n",
        b"from sqlalchemy import create_engine\n"
        b"\n"
        b"if True:\n"
        b"\tengine = create_engine(\n"
        b'\t\t"postgresql://x",\t# tab before the comment\n'
        b"\t\techo=True,\n"
        b"\t\tpool_pre_ping=True,\n"
        b"\t)\n",
    ),
    "latin1.py": (
        b"# -*- coding: latin-1 -*-\n"
        b"from sqlalchemy import create_engine\n"
        b'engine = create_engine("postgresql://caf\xe9")  # caf\xe9\n',
        b"# -*- coding: latin-1 -*-\n"
        b"from sqlalchemy import create_engine\n"
        b'engine = create_engine("postgresql://caf\xe9", pool_pre_ping=True)  # caf\xe9\n',
    ),
    "mixed.py": (
        b"from sqlalchemy import create_engine\r\n"
        b"x = 1\n"
        b'engine = create_engine("postgresql://x")\r'
        b'other = create_engine("postgresql://y")',
        b"from sqlalchemy import create_engine\r\n"
        b"x = 1\n"
        b'engine = create_engine("postgresql://x", pool_pre_ping=True)\r'
        b'other = create_engine("postgresql://y", pool_pre_ping=True)',
    ),
    "formfeed.py": (PLAIN.replace(b"\n\n", b"\n\x0c\n"), PLAIN_FIXED.replace(b"\n\n", b"\n\x0c\n")),
    "mode_640.py": (PLAIN, PLAIN_FIXED),
    "mode_755.py": (PLAIN, PLAIN_FIXED),
    "mode_600.py": (PLAIN, PLAIN_FIXED),
    # Nothing to write in these: not even touched.
    "clean.py": (b'from sqlalchemy import create_engine\nengine = create_engine("x", pool_pre_ping=True)\n',)
    * 2,
    "unrelated.py": (b"print('hello')\n",) * 2,
    "broken.py": (b"from sqlalchemy.orm import Session\ndef f(:\n",) * 2,
    "noqa.py": (b'from sqlalchemy import create_engine\nengine = create_engine("x")  # noqa: SL005\n',) * 2,
}
MODES = {"mode_640.py": 0o640, "mode_755.py": 0o755, "mode_600.py": 0o600}
UNTOUCHED = ("clean.py", "unrelated.py", "broken.py", "noqa.py")


class Project:
    def __init__(self, root: Path) -> None:
        self.diffed, self.fixed = root / "diffed", root / "fixed"
        for folder in (self.diffed, self.fixed):
            folder.mkdir()
            for name, (before, _) in CASES.items():
                (folder / name).write_bytes(before)
            for name, mode in MODES.items():
                (folder / name).chmod(mode)
        self.untouched_before = {name: _identity(self.fixed / name) for name in UNTOUCHED}
        self.diff = run_cli("check", "--no-cache", "--diff", ".", cwd=self.diffed)
        self.first = fix(self.fixed)
        self.after_first = {path.name: _identity(path) for path in self.fixed.iterdir()}
        self.second = fix(self.fixed)
        self.after_second = {path.name: _identity(path) for path in self.fixed.iterdir()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(tmp_path_factory.mktemp("guarantees"))


def _written(project: Project, name: str) -> bytes:
    return (project.fixed / name).read_bytes()


def test_fix_run_reports_what_it_fixed(project: Project) -> None:
    assert project.first.returncode == 1  # broken.py's SL000 remains
    assert b"broken.py:2:7: SL000" in project.first.stdout


# -- what the bytes keep ----------------------------------------------------------------------


def test_crlf_preserved(project: Project) -> None:
    assert _written(project, "crlf.py") == CASES["crlf.py"][1]


def test_bom_preserved(project: Project) -> None:
    assert _written(project, "bom.py") == CASES["bom.py"][1]


def test_tabs_preserved(project: Project) -> None:
    assert _written(project, "tabs.py") == CASES["tabs.py"][1]


def test_latin1_cookie_preserved(project: Project) -> None:
    assert _written(project, "latin1.py") == CASES["latin1.py"][1]


def test_mixed_line_endings_and_no_final_newline_preserved(project: Project) -> None:
    assert _written(project, "mixed.py") == CASES["mixed.py"][1]


def test_form_feed_preserved(project: Project) -> None:
    assert _written(project, "formfeed.py") == CASES["formfeed.py"][1]


@pytest.mark.parametrize("name", sorted(MODES))
def test_file_mode_preserved(project: Project, name: str) -> None:
    assert _written(project, name) == PLAIN_FIXED
    assert stat.S_IMODE((project.fixed / name).stat().st_mode) == MODES[name]


# -- what is not written --------------------------------------------------------------------


def test_second_fix_changes_nothing(project: Project) -> None:
    assert project.after_second == project.after_first  # same inode, mtime and bytes
    assert sorted(project.after_first) == sorted(CASES)  # no temporary file left behind
    assert b"fixed" not in project.second.stdout


def test_unchanged_files_not_touched(project: Project) -> None:
    assert {name: project.after_first[name] for name in UNTOUCHED} == project.untouched_before


# -- --diff ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_diff_is_exactly_what_fix_writes(project: Project, tmp_path: Path) -> None:
    assert project.diff.returncode == 1 and b"Traceback" not in project.diff.stderr
    # --diff writes nothing...
    assert {name: (project.diffed / name).read_bytes() for name in CASES} == {
        name: before for name, (before, _) in CASES.items()
    }
    # ...and its diff, applied, gives exactly the bytes --fix wrote.
    applied = tmp_path / "applied"
    shutil.copytree(project.diffed, applied)
    subprocess.run(
        ["patch", "-p1", "--binary", "--quiet"], input=project.diff.stdout, cwd=applied, check=True
    )
    assert {name: (applied / name).read_bytes() for name in CASES} == {
        name: _written(project, name) for name in CASES
    }
    assert all(name.encode() not in project.diff.stdout for name in UNTOUCHED)


def test_diff_with_nothing_to_fix(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_bytes(CASES["clean.py"][0])
    result = run_cli("check", "--no-cache", "--diff", ".", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == b""


# -- a broken fix, a race, a failing disk (in-process) -----------------------------------------


def run_fix(folder: Path, monkeypatch: pytest.MonkeyPatch, *, diff: bool = False) -> RunReport:
    monkeypatch.chdir(folder)
    return check_paths(
        [Path(".")], Settings(root=folder), RunOptions(fix=not diff, diff=diff, use_cache=False)
    )


class _CallRule(Rule):
    """A test rule on calls of the function named `target`; subclasses choose the fix."""

    target = ""
    name = "test-rule"
    message = "test finding"

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == self.target:
            edits = self.edits(node)
            if edits:
                self.report(node, fix=self.make_fix(edits))

    def edits(self, node: cst.Call):  # type: ignore[no-untyped-def]
        raise NotImplementedError


class BreaksTheFile(_CallRule):
    """Its fix leaves an unclosed parenthesis: it must never be written."""

    code = "SL991"
    target = "breakme"

    def edits(self, node: cst.Call):  # type: ignore[no-untyped-def]
        return [self.replace(node, "breakme(")]


class AddsAnImportAtTheTop(_CallRule):
    """Its fix edits the top of the file for a call further down (shifting every offset
    after it), once."""

    code = "SL992"
    target = "connect"

    def edits(self, node: cst.Call):  # type: ignore[no-untyped-def]
        if "import os  # added" in self.context.source:
            return []
        return [self.context.edit(0, 0, "import os  # added\n")]


def _with_rules(monkeypatch: pytest.MonkeyPatch, *rules: type[Rule]) -> None:
    """Registered like a real rule: in the rule list and in the static table of codes."""
    monkeypatch.setattr(sessionlint.rules, "ALL_RULES", (*sessionlint.rules.ALL_RULES, *rules))
    for rule in rules:
        monkeypatch.setitem(sessionlint.settings.codes.RULE_NAMES, rule.code, rule.name)


def test_unparseable_fix_dropped_and_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_rules(monkeypatch, BreaksTheFile)
    source = b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://x"); breakme()\n'
    (tmp_path / "app.py").write_bytes(source)
    report = run_fix(tmp_path, monkeypatch)
    # SL005's own fix is applied; the broken one is not: its finding stays, no longer fixable.
    assert (tmp_path / "app.py").read_bytes() == source.replace(b'x")', b'x", pool_pre_ping=True)')
    assert report.internal_errors == []
    assert [(d.code, d.location.row, d.fix) for d in report.diagnostics] == [("SL991", 2, None)]
    assert report.fixed_count == 1


def test_unparseable_fix_alone_leaves_the_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_rules(monkeypatch, BreaksTheFile)
    source = b'from sqlalchemy import create_engine\ne = create_engine("x", pool_pre_ping=True)\nbreakme()\n'
    (tmp_path / "app.py").write_bytes(source)
    before = _identity(tmp_path / "app.py")
    report = run_fix(tmp_path, monkeypatch)
    assert _identity(tmp_path / "app.py") == before
    assert report.fixed_files == []
    assert report.internal_errors == []
    assert [(d.code, d.location.row, d.fix) for d in report.diagnostics] == [("SL991", 3, None)]


def test_kept_fixes_are_applied_to_the_original_offsets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When one fix breaks the file, the others are re-applied together to the original text:
    never one fix's edits at offsets another fix (an import at the top) has moved."""
    _with_rules(monkeypatch, BreaksTheFile, AddsAnImportAtTheTop)
    source = (
        b"from sqlalchemy import create_engine\n"
        b'first = create_engine("postgresql://a")\n'
        b"second = connect()\n"
        b"third = breakme()\n"
    )
    (tmp_path / "app.py").write_bytes(source)
    report = run_fix(tmp_path, monkeypatch)
    assert (tmp_path / "app.py").read_bytes() == (
        b"import os  # added\n"
        b"from sqlalchemy import create_engine\n"
        b'first = create_engine("postgresql://a", pool_pre_ping=True)\n'
        b"second = connect()\n"
        b"third = breakme()\n"
    )
    assert [(d.code, d.location.row) for d in report.diagnostics] == [("SL991", 5)]  # in the file as fixed


def test_file_changed_on_disk_between_check_and_write_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "app.py"
    path.write_bytes(PLAIN)
    edited_meanwhile = PLAIN + b"# saved by the editor while the check ran\n"
    fix_file = sessionlint.workspace.fix_file

    def fix_then_edit(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = fix_file(*args, **kwargs)
        path.write_bytes(edited_meanwhile)
        return outcome

    monkeypatch.setattr(sessionlint.workspace, "fix_file", fix_then_edit)
    report = run_fix(tmp_path, monkeypatch)
    assert path.read_bytes() == edited_meanwhile
    assert report.write_errors == ["app.py: changed on disk while it was being checked; not fixed"]
    assert report.fixed_files == []  # nothing claimed as fixed...
    assert [d.code for d in report.diagnostics] == ["SL005"]  # ...and the finding still stands
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_interrupted_write_leaves_the_original_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, where: str
) -> None:
    path = tmp_path / "app.py"
    path.write_bytes(PLAIN)

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise failure

    monkeypatch.setattr(os, where, fail)
    if isinstance(failure, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            run_fix(tmp_path, monkeypatch)
    else:
        report = run_fix(tmp_path, monkeypatch)
        assert report.write_errors == ["app.py: [Errno 28] No space left on device"]
        assert [d.code for d in report.diagnostics] == ["SL005"]
    assert path.read_bytes() == PLAIN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]  # no temporary file left


def test_write_failure_exits_2_and_says_why(tmp_path: Path) -> None:
    """Through the CLI, with a disk that is full when the temporary file is created."""
    (tmp_path / "app.py").write_bytes(PLAIN)
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import os, sys, tempfile\n"
        "def full(*args, **kwargs):\n"
        "    raise OSError(28, 'No space left on device')\n"
        "tempfile.mkstemp = full\n"
        "from sessionlint.entry.cli import main\n"
        "main(prog_name='sessionlint')\n"
    )
    result = subprocess.run(
        [sys.executable, str(launcher), "check", "--no-cache", "--fix", "app.py"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert b"Traceback" not in result.stdout + result.stderr
    assert b"error: app.py: [Errno 28] No space left on device" in result.stderr
    assert (tmp_path / "app.py").read_bytes() == PLAIN
