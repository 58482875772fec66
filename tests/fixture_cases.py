"""The fixture cases under `fixtures/`: discovery, inline expectations, and running the CLI.

A case is a file `fixtures/<CODE>/<flag|ok>_<behaviour>.py` or a folder of that name (a
small project). Expectations are written inline on the reported line:

    engine = create_engine(url)  # expect: SL005:10

(the code and the 1-based start column; several separated by commas). A line
`# config: <toml>` anywhere in a case adds that line to `[tool.sessionlint]`.
`<name>.fixed.py` beside a file holds its exact bytes after `check --fix`, and
`<name>.unsafe.fixed.py` after `check --fix --unsafe-fixes` (when that differs).
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
_EXPECT = re.compile(rb"#\s*expect:\s*(?P<items>SL\d{3}(?::\d+)?(?:\s*,\s*SL\d{3}(?::\d+)?)*)")
_CONFIG = re.compile(rb"^#\s*config:\s*(?P<toml>.+?)\s*$", re.MULTILINE)
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
FIXED_SUFFIXES = (".unsafe.fixed.py", ".fixed.py")


@dataclass(frozen=True)
class Expected:
    path: str  # relative to the case root, POSIX
    row: int
    code: str
    column: int | None


@dataclass(frozen=True)
class Case:
    path: Path

    @property
    def id(self) -> str:
        return self.path.relative_to(FIXTURES).as_posix()

    @property
    def is_dir(self) -> bool:
        return self.path.is_dir()

    def source_files(self) -> list[Path]:
        if not self.is_dir:
            return [self.path]
        return sorted(p for p in self.path.rglob("*.py") if not p.name.endswith(FIXED_SUFFIXES))

    def relative(self, file: Path) -> str:
        return file.name if not self.is_dir else file.relative_to(self.path).as_posix()

    def expectations(self) -> set[Expected]:
        found = set()
        for file in self.source_files():
            for row, line in enumerate(_LINE_BREAK.split(file.read_bytes()), start=1):
                match = _EXPECT.search(line)
                if match is None:
                    continue
                for item in match.group("items").decode().split(","):
                    code, _, column = item.strip().partition(":")
                    found.add(Expected(self.relative(file), row, code, int(column) if column else None))
        return found

    def config_lines(self) -> list[str]:
        lines = []
        for file in self.source_files():
            lines += [m.group("toml").decode() for m in _CONFIG.finditer(file.read_bytes())]
        return lines

    def fixed_sibling(self, file: Path, *, unsafe: bool) -> Path | None:
        stem = file.name[: -len(".py")]
        candidates = [f"{stem}.unsafe.fixed.py"] if unsafe else []
        candidates.append(f"{stem}.fixed.py")
        for name in candidates:
            sibling = file.with_name(name)
            if sibling.exists():
                return sibling
        return None

    def copy_to(self, destination: Path) -> Path:
        """The case as a checkable project (without its `.fixed.py` files)."""
        destination.mkdir(parents=True, exist_ok=True)
        if self.is_dir:
            shutil.copytree(
                self.path,
                destination,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(*(f"*{s}" for s in FIXED_SUFFIXES)),
            )
        else:
            shutil.copy2(self.path, destination / self.path.name)
        config = self.config_lines()
        if config:
            (destination / "pyproject.toml").write_text("[tool.sessionlint]\n" + "\n".join(config) + "\n")
        return destination


def all_cases() -> list[Case]:
    cases = []
    for rule_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for entry in sorted(rule_dir.iterdir()):
            is_case = entry.name.startswith(("flag_", "ok_"))
            if is_case and (
                entry.is_dir() or (entry.suffix == ".py" and not entry.name.endswith(FIXED_SUFFIXES))
            ):
                cases.append(Case(entry))
    return cases


# Source that makes a module large enough that forty such modules are spread over workers
# by the fact pass and the rule pass alike (they fork by bytes of source, see
# `parallel.parallel_map`): tests of worker pools append it to their small modules.
# Comments: the size counts, and they cost the passes little.
WORKER_PADDING = "\n" + "# padding: source enough to be worth a worker of its own\n" * 140


def spread_over_workers(files: list[Path]) -> bool:
    """Whether both passes fork two workers for these files (what the pool tests need)."""
    from sessionlint.facts.factpass import FACTS_BYTES_PER_WORKER
    from sessionlint.parallel import parallel_map_forks
    from sessionlint.passes import RULES_BYTES_PER_WORKER

    sizes = [len(file.read_bytes()) for file in files]
    return all(
        parallel_map_forks(2, sizes, per_worker)
        for per_worker in (FACTS_BYTES_PER_WORKER, RULES_BYTES_PER_WORKER)
    )


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real `sessionlint` command, in a subprocess."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sessionlint", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
    )


@dataclass(frozen=True)
class InProcessResult:
    """What `run_in_process` saw, under the names of `subprocess.CompletedProcess`."""

    returncode: int
    stdout: bytes
    stderr: bytes


def run_in_process(*args: str, cwd: Path) -> InProcessResult:
    """`sessionlint ARGS` run from `cwd` in this process: click's CliRunner on `sessionlint.entry.cli.main`,
    the entry point both the `sessionlint` script and `python -m sessionlint` call, so options,
    configuration, the run, the output and the exit code are the command's own. It saves the
    interpreter's start and imports (about a second a case under load); what only a process shows
    (its exit, stdin, signals, worker pools, the environment) stays with `run_cli`.

    Not thread-safe: it changes the working folder while the command runs.
    """
    from click.testing import CliRunner

    from sessionlint.entry.cli import main

    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart by itself
    # The command tunes the garbage collector for its own short life: undo that for the tests.
    thresholds = gc.get_threshold()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        # catch_exceptions=False: an exception the CLI lets escape fails the test with its traceback.
        result = runner.invoke(main, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)
    finally:
        os.chdir(previous)
        gc.set_threshold(*thresholds)
    return InProcessResult(result.exit_code, result.stdout_bytes, result.stderr_bytes or b"")


class Completed(Protocol):
    """What `run_cli` and `run_in_process` both return."""

    returncode: int
    stdout: bytes
    stderr: bytes


def reported(result: Completed) -> set[Expected]:
    assert result.returncode in (0, 1), result.stderr.decode()
    return {
        Expected(item["filename"], item["location"]["row"], item["code"], item["location"]["column"])
        for item in json.loads(result.stdout)
    }


def matches(expected: set[Expected], actual: set[Expected]) -> tuple[set[Expected], set[Expected]]:
    """(missing, extra): an expectation without a column matches any column."""
    missing = set()
    remaining = set(actual)
    for item in expected:
        hit = next(
            (
                a
                for a in remaining
                if (a.path, a.row, a.code) == (item.path, item.row, item.code)
                and (item.column is None or a.column == item.column)
            ),
            None,
        )
        if hit is None:
            missing.add(item)
        else:
            remaining.discard(hit)
    return missing, remaining
