"""Time sessionlint against ruff, flake8 and a bare LibCST parse of the same real code.

    python benchmarks/run.py [--corpus four|subset|both|apps|generated] [--rounds 5] [--json-out FILE]

``--corpus apps`` times each real application of ``benchmarks/apps/apps.toml`` as its own
tree and then sums them; ``--corpus generated --size 25,50,100 [--shadow]`` times generated
apps of those sizes (``generated.py``) to show how time grows with files.

All commands of a corpus run interleaved (A B C ... A B C ...) so that drift in the
machine's speed hits every command alike; the table shows medians over the rounds and the
ratios the spec's targets are stated in. Each command's memory is measured twice: the
largest single process's peak RSS (exact, from ``os.wait4``) and the peak of the whole
process tree's PSS summed (sampled from /proc every 50 ms; Linux only), because worker
pools spread memory over processes.

``python benchmarks/run.py --bare-parse DIR`` is the bare-parse baseline itself: LibCST
parses every ``*.py`` file under DIR in 2 processes and does nothing else.

``python benchmarks/run.py --flake8-stock ARGS...`` is flake8 with only the plugins flake8
ships with (pycodestyle, pyflakes, mccabe). flake8 runs every installed plugin whatever
``--select`` says, and an installed sessionlint registers one: plain ``flake8`` would
time sessionlint's own rules as part of the baseline.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

if __package__:
    from .corpus import CORPORA, corpus_stats, ensure_corpus, python_files
    from .trees import Tree, app_trees, apps_summary, generated_summary, generated_trees
else:  # run as a script: benchmarks/ is sys.path[0]
    from corpus import CORPORA, corpus_stats, ensure_corpus, python_files
    from trees import Tree, app_trees, apps_summary, generated_summary, generated_trees

HERE = Path(__file__).resolve()
BARE_PARSE_PROCESSES = 2
TIMEOUT_S = 3600.0
# Rows left out with --skip (by key): a long baseline not needed for the ratios at hand.
SKIPPED: frozenset[str] = frozenset()
MEMORY_LIMIT_MB = 300.0
DISABLED = "<sessionlint disabled>"

# (label, numerator key, denominator key, target or None) per corpus; None = informational.
RATIOS: dict[str, list[tuple[str, str, str, float | None]]] = {
    "four": [
        ("cold / ruff ALL", "sl-cold", "ruff-all", 2.0),
        ("cold / flake8", "sl-cold", "flake8", 0.25),
        ("warm / ruff default", "sl-warm", "ruff-default", 0.3),
        ("warm-touched / ruff default", "sl-touched", "ruff-default", 0.5),
        ("cold / bare LibCST parse", "sl-cold", "bare-parse", None),
    ],
    "subset": [
        ("cold / ruff ALL", "sl-cold", "ruff-all", 3.0),
        ("cold / flake8", "sl-cold", "flake8", None),
        ("warm / ruff default", "sl-warm", "ruff-default", 0.6),
        ("warm-touched / ruff default", "sl-touched", "ruff-default", None),
        ("cold / bare LibCST parse", "sl-cold", "bare-parse", None),
    ],
    # Issue 16's targets, per real application; the summed one is in trees.apps_summary.
    "app": [
        ("cold / ruff ALL", "sl-cold", "ruff-all", 1.5),
        ("cold / flake8", "sl-cold", "flake8", None),
        ("warm / ruff default", "sl-warm", "ruff-default", 0.3),
        ("warm-touched / ruff default", "sl-touched", "ruff-default", 0.5),
        ("cold / bare LibCST parse", "sl-cold", "bare-parse", None),
    ],
    "generated": [
        ("cold / ruff ALL", "sl-cold", "ruff-all", None),
        ("warm / ruff default", "sl-warm", "ruff-default", None),
        ("warm-touched / ruff default", "sl-touched", "ruff-default", None),
        ("cold / bare LibCST parse", "sl-cold", "bare-parse", None),
    ],
}
SESSIONLINT_KEYS = ("sl-cold", "sl-warm", "sl-touched")
_USES_SQLALCHEMY = re.compile(rb"^[ \t]*(?:from|import)[ \t]+sqlalchemy\b", re.MULTILINE)


# --------------------------------------------------------------------------- bare parse


def _parse_one(path: str) -> str | None:
    import libcst

    try:
        libcst.parse_module(Path(path).read_bytes())
    except Exception as exc:  # ParserSyntaxError mostly; anything else is worth a line too
        return f"{path}: {type(exc).__name__}"
    return None


def bare_parse(root: Path, processes: int = BARE_PARSE_PROCESSES) -> int:
    """Parse every Python file under ``root`` with LibCST in ``processes`` processes."""
    import libcst  # noqa: F401  (imported before the pool forks, as a linter would)

    files = [str(path) for path in python_files(root)]
    with multiprocessing.Pool(processes) as pool:
        failed = [f for f in pool.imap_unordered(_parse_one, files, chunksize=16) if f]
    print(f"LibCST parsed {len(files) - len(failed)} of {len(files)} files; {len(failed)} failed")
    for line in sorted(failed):
        print(f"  {line}")
    return 0


# --------------------------------------------------------------------------- stock flake8

STOCK_FLAKE8_PLUGINS = frozenset({"flake8", "pycodestyle", "pyflakes", "mccabe"})
FLAKE8_STOCK = [sys.executable, str(HERE), "--flake8-stock"]


def _extra_flake8_plugins() -> list[str]:
    """Installed flake8 plugins that flake8 does not ship with, as "dist[code]"."""
    extra = []
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        for ep in dist.entry_points:
            if ep.group == "flake8.extension" and name not in STOCK_FLAKE8_PLUGINS:
                extra.append(f"{name}[{ep.name}]")
    return sorted(set(extra))


def _load_stock_flake8_plugins_only() -> None:
    from flake8.plugins import finder

    # Private API: if a future flake8 renames it, fall back to plain flake8 (and say so).
    find = getattr(finder, "_find_importlib_plugins", None)
    if find is None:
        print("run.py: cannot filter flake8 plugins in this flake8 version", file=sys.stderr)
        return

    def stock_only() -> Iterator[finder.Plugin]:
        return (p for p in find() if p.package.lower() in STOCK_FLAKE8_PLUGINS)

    finder._find_importlib_plugins = stock_only


def flake8_stock(args: list[str]) -> int:
    """flake8's own command line, loading only the plugins flake8 ships with."""
    from flake8.main.cli import main as flake8_main

    return flake8_main(args)


# --------------------------------------------------------------------------- measuring


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp session ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and fields[3] == str(sid):
            members.append(int(entry))
    return members


def _memory_kb(pid: int) -> int:
    """PSS of ``pid`` (shared pages split between sharers) or, failing that, its RSS."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path("/proc", str(pid), name).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed PSS of every process in a session until stopped."""

    def __init__(self, sid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.sid, self.interval = sid, interval
        self.peak_kb = 0
        self.enabled = os.path.isdir("/proc/self")
        self._stop_event = threading.Event()

    def run(self) -> None:
        while self.enabled and not self._stop_event.is_set():
            total = sum(_memory_kb(pid) for pid in _session_members(self.sid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> float | None:
        self._stop_event.set()
        self.join()
        return self.peak_kb / 1024 if self.enabled else None


@dataclass
class Measurement:
    seconds: float
    exit_code: int
    cpu_seconds: float  # user + system time of the process and its waited-for descendants
    max_rss_mb: float  # largest single process in the tree (kernel's ru_maxrss)
    tree_mb: float | None  # sampled peak of the summed PSS of all processes
    stderr: str


def measure(argv: list[str], cwd: Path, stdout_path: Path | None = None) -> Measurement:
    """Run ``argv`` once; wall time, exit code and memory of it and its descendants."""
    stdout = stdout_path.open("wb") if stdout_path else subprocess.DEVNULL
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # A session of its own: the sampler finds the workers by session id, and a
        # timeout can kill the whole tree.
        proc = subprocess.Popen(argv, cwd=cwd, stdout=stdout, stderr=err, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(TIMEOUT_S, kill)
        timer.start()
        try:
            # os.wait4, not Popen.wait: it returns this child's own rusage, whose
            # ru_maxrss covers the child and the descendants it waited for.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        tree_mb = sampler.stop()
        proc.returncode = exit_code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if stdout_path:
        stdout.close()
    if timed_out.is_set():
        stderr += f"\n(killed after the {TIMEOUT_S:.0f} s timeout)"
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(seconds, exit_code, cpu, usage.ru_maxrss / scale, tree_mb, stderr)


# --------------------------------------------------------------------------- the plan


@dataclass
class Command:
    key: str
    label: str
    argv: list[str]
    missing: str | None = None  # why it is skipped
    before: Callable[[int], None] | None = None  # called with the round number
    after: Callable[[], None] | None = None
    runs: list[Measurement] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self) -> float | None:
        ok = [m.seconds for m in self.runs if m.exit_code == 0]
        return statistics.median(ok) if ok and not self.errors else None

    def median_cpu(self) -> float | None:
        ok = [m.cpu_seconds for m in self.runs if m.exit_code == 0]
        return statistics.median(ok) if ok and not self.errors else None

    def peak(self) -> tuple[float | None, float | None]:
        rss = max((m.max_rss_mb for m in self.runs), default=None)
        trees = [m.tree_mb for m in self.runs if m.tree_mb is not None]
        return rss, (max(trees) if trees else None)

    def as_json(self) -> dict[str, object]:
        rss, tree = self.peak()
        return {
            "label": self.label,
            "argv": self.argv,
            "skipped": self.missing,
            "seconds": [round(m.seconds, 4) for m in self.runs],
            "exit_codes": [m.exit_code for m in self.runs],
            "median_s": self.median(),
            "cpu_seconds": [round(m.cpu_seconds, 4) for m in self.runs],
            "median_cpu_s": self.median_cpu(),
            "max_rss_mb": rss,
            "tree_pss_mb": tree,
            "errors": self.errors,
        }


def resolve(executable: str) -> str:
    """The tool installed beside this interpreter (where `pip install` puts it) when there
    is one: a launcher found first on PATH (pyenv's shims, a bash script that runs pyenv)
    adds ~30 ms to every command, which is no tool's time."""
    if os.sep in executable:
        return executable
    beside = Path(sys.executable).parent / executable
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else executable


RUFF = resolve("ruff")


def compile_bytecode() -> None:
    """Compile the sessionlint package this interpreter imports, as `pip install` does: an
    editable install under PYTHONDONTWRITEBYTECODE (set on some CI machines) would otherwise
    compile every module from source on every run, which no installed tool does."""
    code = (
        "import compileall, importlib.util, os\n"
        "spec = importlib.util.find_spec('sessionlint')\n"
        "spec and compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=300)


def _tool_missing(executable: str) -> str | None:
    if executable == DISABLED:
        return "skipped (--no-sessionlint)"
    if shutil.which(executable) is None:
        return f"`{executable}` is not on PATH"
    return None


def _version(argv: list[str]) -> str:
    if argv[0] == DISABLED:
        return "not timed (--no-sessionlint)"
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if result.returncode == 0 and lines else "?"


def machine_info(sessionlint: list[str]) -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem = next((line.split()[1] for line in _read("/proc/meminfo").splitlines()[:1]), None)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "nproc": _nproc(),
        "memory_gb": round(int(mem) / 1024 / 1024, 1) if mem else None,
        "python": sys.version.split()[0],
        "sessionlint": _version([*sessionlint, "--version"]),
        "ruff": _version([RUFF, "--version"]),
        "flake8": _version([*FLAKE8_STOCK, "--version"]).split(" (")[0]
        if shutil.which("flake8")
        else "not installed",
        "libcst": _libcst_version(),
        "flake8_plugins_excluded": _extra_flake8_plugins(),
        "load_average_before": _load(),
    }


def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _nproc() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _libcst_version() -> str:
    try:
        return metadata.version("libcst")
    except metadata.PackageNotFoundError:
        return "not installed"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def make_view(root: Path, into: Path) -> Path:
    """Copy ``root`` to ``into/<name>``, outside any git repository, and return the copy.

    Not in place: ``benchmarks/.corpus`` is gitignored, and ruff (inside a git repository)
    and sessionlint honour .gitignore, so a tool could legitimately skip the whole corpus.
    A copy, not hard links: whatever a tool or the touch step writes stays in the copy.
    """
    view = into / root.name
    shutil.copytree(root, view, symlinks=True)
    return view


class Toucher:
    """Appends a fresh comment to one file before a run and restores it afterwards."""

    def __init__(self, path: Path) -> None:
        self.path, self.original = path, path.read_bytes()
        stat = path.stat()
        self.times = (stat.st_atime_ns, stat.st_mtime_ns)

    def touch(self, round_number: int) -> None:
        # A different comment every round, or round 2 would hit round 1's cache entry.
        stamp = f"\n# sessionlint benchmark: round {round_number}, {time.time_ns()}\n"
        self.path.write_bytes(self.original + stamp.encode())

    def restore(self) -> None:
        self.path.write_bytes(self.original)
        os.utime(self.path, ns=self.times)


def pick_touched_file(view: Path) -> Path:
    candidates = [p for p in python_files(view) if _USES_SQLALCHEMY.search(p.read_bytes())]
    if not candidates:
        raise RuntimeError(f"no file importing sqlalchemy under {view}")
    # Prefer application-style code (fastapi's docs_src) over the library itself.
    preferred = [p for p in candidates if "docs_src" in p.parts]
    return (preferred or candidates)[0]


def build_commands(
    corpus: str, work: Path, sessionlint: list[str], cache_dir: Path, toucher: Toucher
) -> list[Command]:
    sl_missing = _tool_missing(sessionlint[0])
    check = [*sessionlint, "check"]
    warm = [*check, "--exit-zero", "--quiet", "--cache-dir", str(cache_dir), corpus]
    libcst_missing = None
    try:
        import libcst  # noqa: F401
    except ImportError:
        libcst_missing = "libcst is not importable"
    return [
        Command(
            "sl-cold",
            "sessionlint cold (--no-cache)",
            [*check, "--no-cache", "--exit-zero", "--quiet", corpus],
            sl_missing,
        ),
        Command("sl-warm", "sessionlint warm", warm, sl_missing),
        Command(
            "sl-touched",
            "sessionlint warm, 1 file touched",
            warm,
            sl_missing,
            before=toucher.touch,
            after=toucher.restore,
        ),
        Command(
            "ruff-all",
            "ruff --select ALL",
            [RUFF, "check", "--isolated", "--select", "ALL", "--no-cache", "--exit-zero", corpus],
            _tool_missing(RUFF),
        ),
        Command(
            "ruff-default",
            "ruff (default rules)",
            [RUFF, "check", "--isolated", "--no-cache", "--exit-zero", corpus],
            _tool_missing(RUFF),
        ),
        Command(
            "flake8",
            "flake8 --jobs 2",
            [*FLAKE8_STOCK, "--isolated", "--jobs", "2", "--exit-zero", corpus],
            _tool_missing("flake8"),
        ),
        Command(
            "bare-parse",
            f"bare LibCST parse ({BARE_PARSE_PROCESSES} procs)",
            [sys.executable, str(HERE), "--bare-parse", corpus],
            libcst_missing,
        ),
    ]


def check_output_stability(
    corpus: str, work: Path, sessionlint: list[str]
) -> tuple[dict[str, object], str | None]:
    """Untimed: JSON output must not depend on --jobs or on the cache.

    Returns the report and, when sessionlint cannot run at all, why.
    """
    base = [*sessionlint, "check", "--format", "json", "--exit-zero"]
    cache = work / "stability-cache"
    runs = {
        "cold, --jobs 1": [*base, "--no-cache", "--jobs", "1", corpus],
        "cold, --jobs 2": [*base, "--no-cache", "--jobs", "2", corpus],
        "filling a cache": [*base, "--cache-dir", str(cache), corpus],
        "warm": [*base, "--cache-dir", str(cache), corpus],
    }
    outputs: dict[str, bytes] = {}
    report: dict[str, object] = {}
    for name, argv in runs.items():
        out = work / f"stability-{len(outputs)}.json"
        result = measure(argv, work, stdout_path=out)
        if result.exit_code != 0 or "internal error" in result.stderr.lower():
            why = f"`{shlex.join(argv)}` exited {result.exit_code}: {result.stderr.strip()[-2000:]}"
            return {"error": why}, why
        outputs[name] = out.read_bytes()
    try:
        findings = json.loads(outputs["cold, --jobs 1"])
        report["findings"] = len(findings)
        report["by_code"] = dict(sorted(Counter(f["code"] for f in findings).items()))
        report["files_with_findings"] = len({f["filename"] for f in findings})
    except (ValueError, KeyError, TypeError) as exc:
        report["json_error"] = f"output is not the documented JSON: {exc}"
    reference = outputs["cold, --jobs 1"]
    report["jobs_1_vs_2_identical"] = outputs["cold, --jobs 2"] == reference
    report["cold_vs_warm_identical"] = outputs["filling a cache"] == reference == outputs["warm"]
    return report, None


def check_expected_findings(
    corpus: str, work: Path, sessionlint: list[str], expected: dict[str, int]
) -> tuple[dict[str, object], str | None]:
    """Untimed, for generated apps: one cold run must report exactly the planted findings."""
    argv = [*sessionlint, "check", "--format", "json", "--exit-zero", "--no-cache", corpus]
    out = work / "expected.json"
    result = measure(argv, work, stdout_path=out)
    if result.exit_code != 0 or "internal error" in result.stderr.lower():
        why = f"`{shlex.join(argv)}` exited {result.exit_code}: {result.stderr.strip()[-2000:]}"
        return {"error": why}, why
    by_code = dict(sorted(Counter(f["code"] for f in json.loads(out.read_bytes())).items()))
    report: dict[str, object] = {"findings": sum(by_code.values()), "by_code": by_code, "expected": expected}
    report["as_expected"] = by_code == expected
    report["untimed_cold_s"] = round(result.seconds, 2)
    return report, None


# --------------------------------------------------------------------------- reporting


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def ratio_rows(ratios: str, commands: dict[str, Command]) -> list[dict[str, object]]:
    rows = []
    for label, num, den, target in RATIOS[ratios]:
        a, b = commands[num].median(), commands[den].median()
        value = a / b if a is not None and b else None
        a, b = commands[num].median_cpu(), commands[den].median_cpu()
        cpu_value = a / b if a is not None and b else None
        verdict = None if target is None or value is None else value <= target
        rows.append(
            {
                "ratio": label,
                "value": value,
                "cpu_value": cpu_value,  # informational: steadier on a busy machine
                "target": target,
                "pass": verdict,
            }
        )
    for key in SESSIONLINT_KEYS:
        rss, tree = commands[key].peak()
        worst = max((m for m in (rss, tree) if m is not None), default=None)
        rows.append(
            {
                "ratio": f"peak MB, {commands[key].label}",
                "cpu_value": None,
                "value": worst,
                "target": MEMORY_LIMIT_MB,
                "pass": None if worst is None else worst <= MEMORY_LIMIT_MB,
            }
        )
    return rows


def print_corpus_report(result: dict[str, object], commands: dict[str, Command]) -> None:
    print(f"\n## {result['corpus']}: {result['files']:,} files, {result['lines']:,} lines")
    print(f"packages: {', '.join(result['packages'])}")
    print(f"touched file: {result['touched_file']}")
    header = f"{'command':<36} {'median s':>9} {'min s':>8} {'max s':>8} {'cpu s':>8}"
    print(f"\n{header} {'max RSS MB':>11} {'all procs MB':>13}  note")
    for command in commands.values():
        ok = [m.seconds for m in command.runs if m.exit_code == 0]
        rss, tree = command.peak()
        note = command.missing or (f"FAILED in {len(command.errors)} round(s)" if command.errors else "")
        print(
            f"{command.label:<36} {_fmt(command.median()):>9} {_fmt(min(ok, default=None)):>8}"
            f" {_fmt(max(ok, default=None)):>8} {_fmt(command.median_cpu()):>8}"
            f" {_fmt(rss, '.0f'):>11} {_fmt(tree, '.0f'):>13}  {note}"
        )
    for command in commands.values():
        for error in command.errors[:3]:
            print(f"\n{command.label} {error}")
    print(f"\n{'ratio (of medians)':<48} {'wall':>7} {'cpu':>7} {'target':>8}  result")
    for row in result["ratios"]:
        target = "-" if row["target"] is None else f"<= {row['target']:g}"
        verdict = {True: "PASS", False: "FAIL", None: "-" if row["target"] is None else "n/a"}
        print(
            f"{row['ratio']:<48} {_fmt(row['value']):>7} {_fmt(row.get('cpu_value')):>7}"
            f" {target:>8}  {verdict[row['pass']]}"
        )
    stability = result["stability"]
    print()
    if "error" in stability or "skipped" in stability:
        print(f"output stability: not checked ({stability.get('error') or stability['skipped']})")
    elif "expected" in stability:
        verdict = "as planted" if stability["as_expected"] else f"NOT the planted {stability['expected']}"
        print(f"findings: {stability['by_code']}: {verdict}")
    else:
        same = {True: "identical", False: "DIFFERENT"}
        print(f"JSON output, --jobs 1 vs --jobs 2: {same[stability['jobs_1_vs_2_identical']]}")
        print(f"JSON output, cold vs warm cache:   {same[stability['cold_vs_warm_identical']]}")
        if "json_error" in stability:
            print(f"JSON output: {stability['json_error']}")
        else:
            print(
                f"findings: {stability['findings']} in {stability['files_with_findings']} files"
                f" {stability['by_code']}"
            )
            if not stability["findings"]:
                print(
                    "note: no findings at all; if that is unexpected, check that sessionlint"
                    " did not skip the corpus (excludes, .gitignore)"
                )


# --------------------------------------------------------------------------- driver


def bench_corpus(corpus: str, rounds: int, sessionlint: list[str], work: Path) -> dict[str, object]:
    root = ensure_corpus(corpus)
    return bench_tree(Tree(corpus, root, list(CORPORA[corpus]), corpus), rounds, sessionlint, work)


def bench_tree(
    tree: Tree, rounds: int, sessionlint: list[str], work: Path, check_stability: bool = True
) -> dict[str, object]:
    """Time every command on one tree (a corpus, an app, a generated app), interleaved."""
    corpus = tree.name
    stats = corpus_stats(tree.root)
    view = make_view(tree.root, work)
    name = view.name  # commands run in `work` and get this relative path
    toucher = Toucher(pick_touched_file(view))
    cache_dir = work / f"{corpus}-cache"
    commands = {c.key: c for c in build_commands(name, work, sessionlint, cache_dir, toucher)}
    for command in commands.values():
        if command.key in SKIPPED:
            command.missing = command.missing or "left out with --skip"

    for path in python_files(view):  # warm the page cache for whoever runs first
        path.read_bytes()

    stability: dict[str, object]
    if commands["sl-cold"].missing:
        stability = {"skipped": commands["sl-cold"].missing}
    else:
        if tree.expected is not None:
            print(f"[{corpus}] checking the expected findings (untimed) ...", file=sys.stderr)
            stability, broken = check_expected_findings(name, work, sessionlint, tree.expected)
        elif check_stability:
            print(f"[{corpus}] checking JSON output stability (untimed) ...", file=sys.stderr)
            stability, broken = check_output_stability(name, work, sessionlint)
        else:
            stability, broken = {"skipped": "--skip-stability"}, None
        if broken is None:
            print(f"[{corpus}] filling the warm cache (untimed) ...", file=sys.stderr)
            fill = measure(commands["sl-warm"].argv, work)
            if fill.exit_code != 0:
                broken = f"cache-filling run exited {fill.exit_code}: {fill.stderr[-2000:]}"
        if broken:
            for key in SESSIONLINT_KEYS:
                commands[key].missing = "sessionlint failed; see output stability"

    active = [c for c in commands.values() if not c.missing]
    for c in commands.values():
        if c.missing:
            print(f"[{corpus}] skipping {c.label}: {c.missing}", file=sys.stderr)
    for round_number in range(1, rounds + 1):
        for command in active:
            if command.before:
                command.before(round_number)
            try:
                result = measure(command.argv, work)
            finally:
                if command.after:
                    command.after()
            command.runs.append(result)
            if result.exit_code != 0 or "internal error" in result.stderr.lower():
                command.errors.append(
                    f"round {round_number}: exit {result.exit_code}: {result.stderr.strip()[-500:]}"
                )
            print(
                f"[{corpus}] round {round_number}/{rounds} {command.label}: {result.seconds:.2f} s",
                file=sys.stderr,
            )

    result: dict[str, object] = {
        "corpus": corpus,
        "packages": tree.packages,
        "files": sum(files for files, _ in stats.values()),
        "lines": sum(lines for _, lines in stats.values()),
        "touched_file": str(toucher.path.relative_to(work)),
        "rounds": rounds,
        "commands": {key: c.as_json() for key, c in commands.items()},
        "ratios": ratio_rows(tree.ratios, commands),
        "stability": stability,
    }
    print_corpus_report(result, commands)
    shutil.rmtree(view, ignore_errors=True)  # many trees in one run: keep the disk use of one
    shutil.rmtree(cache_dir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    global TIMEOUT_S, SKIPPED
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["four", "subset", "both", "apps", "generated"], default="both")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--apps", help="with --corpus apps: comma-separated app names (default: all)")
    parser.add_argument("--size", default="25,50,100", help="with --corpus generated: comma-separated sizes")
    parser.add_argument(
        "--shadow", action="store_true", help="generated apps hold a package named sqlalchemy"
    )
    parser.add_argument(
        "--skip-stability", action="store_true", help="skip the untimed --jobs / cache output comparison"
    )
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds before a command is killed")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated rows to leave out: sl-cold, sl-warm, sl-touched, ruff-all, ruff-default, "
        "flake8, bare-parse",
    )
    parser.add_argument(
        "--sessionlint",
        default="sessionlint",
        help="command that runs sessionlint (default: %(default)s), e.g. 'python -m sessionlint'",
    )
    parser.add_argument(
        "--no-sessionlint", action="store_true", help="time the baselines only (ruff, flake8, parse)"
    )
    parser.add_argument("--bare-parse", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--flake8-stock"]:
        return flake8_stock(argv[1:])
    args = parser.parse_args(argv)
    if args.bare_parse:
        return bare_parse(args.bare_parse)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        sizes = [int(size) for size in args.size.split(",")]
    except ValueError:
        parser.error(f"--size takes comma-separated whole numbers, not {args.size!r}")
    if min(sizes) < 1:
        parser.error("--size: every size must be at least 1")
    TIMEOUT_S = args.timeout
    SKIPPED = frozenset(key for key in args.skip.split(",") if key)
    if args.rounds < 5:
        print("note: the targets are stated for medians of at least 5 rounds", file=sys.stderr)

    sessionlint = [DISABLED] if args.no_sessionlint else shlex.split(args.sessionlint)
    if sessionlint[0] != DISABLED:
        sessionlint[0] = resolve(sessionlint[0])
        compile_bytecode()
    info = machine_info(sessionlint)
    print("# sessionlint benchmark")
    print(
        f"{info['date']}; {info['platform']}; {info['cpu']}; nproc {info['nproc']};"
        f" {info['memory_gb']} GB RAM"
    )
    print(
        f"Python {info['python']}; sessionlint: {info['sessionlint']}; {info['ruff']};"
        f" flake8 {info['flake8']}; libcst {info['libcst']}; {args.rounds} rounds, medians"
    )
    if info["flake8_plugins_excluded"]:
        excluded = ", ".join(info["flake8_plugins_excluded"])
        print(f"flake8 baseline runs its stock plugins only (not: {excluded})")
    print(f"load average before: {info['load_average_before']}")
    load, nproc = info["load_average_before"], info["nproc"]
    if load and nproc and load[0] > 0.5 * nproc:
        print("WARNING: the machine is busy; timings and ratios will be noisy")
    results = []
    summary: dict[str, object] | None = None
    with tempfile.TemporaryDirectory(prefix="sessionlint-bench-") as tmp:
        if args.corpus in ("apps", "generated"):
            if args.corpus == "apps":
                try:
                    trees = app_trees(args.apps.split(",") if args.apps else None)
                except ValueError as exc:
                    parser.error(str(exc))
            else:
                trees = generated_trees(sizes, args.shadow, Path(tmp, "generated"))
            for tree in trees:
                work = Path(tmp, "work", tree.name)
                work.mkdir(parents=True)
                results.append(bench_tree(tree, args.rounds, sessionlint, work, not args.skip_stability))
            summary = (apps_summary if args.corpus == "apps" else generated_summary)(results)
        else:
            for corpus in ["subset", "four"] if args.corpus == "both" else [args.corpus]:
                work = Path(tmp, corpus)
                work.mkdir()
                results.append(bench_corpus(corpus, args.rounds, sessionlint, work))
    info["load_average_after"] = _load()
    print(f"\nload average after: {info['load_average_after']}")
    if args.json_out:
        payload = {"machine": info, "corpora": results, "summary": summary}
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nresults written to {args.json_out}")
    return 0


# At import, not in flake8_stock(): flake8's --jobs workers find plugins anew when they are
# spawned rather than forked, and a spawned worker re-imports this module with our argv.
if sys.argv[1:2] == ["--flake8-stock"]:
    _load_stock_flake8_plugins_only()

if __name__ == "__main__":
    sys.exit(main())
