"""Crash sweep: run sessionlint and its fixes over millions of lines of real Python.

    python benchmarks/sweep.py [--corpus sweep] [--sessionlint CMD] [--keep]

On a private copy of the corpus it runs
  1. ``sessionlint check --no-cache --format json --exit-zero``  (findings per rule),
  2. ``sessionlint check --fix --no-cache --exit-zero``           (fixes applied to the copy),
  3. the same ``--fix`` again                                       (must change nothing),
and then checks what the spec guarantees: no internal error (exit code 2 or "internal
error" in the output); every file ``--fix`` changed still parses if the original did
(``ast.parse`` under this Python); only ``.py`` files change, none disappear, no stray
files appear; BOMs, line-ending style and file modes survive; the second ``--fix`` is a
no-op. Exit status 1 when any of that fails, 2 when sessionlint cannot be run at all.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__:
    from .corpus import CORPORA, count_lines, ensure_corpus, python_files
else:  # run as a script: benchmarks/ is sys.path[0]
    from corpus import CORPORA, count_lines, ensure_corpus, python_files

TIMEOUT_S = 4 * 3600
BOM = b"\xef\xbb\xbf"


@dataclass
class Run:
    argv: list[str]
    exit_code: int
    seconds: float
    stdout: bytes
    stderr: str

    def internal_error(self, scan_stdout: bool = True) -> str | None:
        text = self.stderr + (self.stdout.decode("utf-8", "replace") if scan_stdout else "")
        if self.exit_code == 2 or "internal error" in text.lower():
            lines = [line for line in text.splitlines() if line.strip()]
            tail = "\n".join(lines[-20:])
            return f"`{shlex.join(self.argv)}` exited {self.exit_code}\n{tail}"
        if self.exit_code != 0:  # --exit-zero: anything else is unexpected as well
            return f"`{shlex.join(self.argv)}` exited {self.exit_code} despite --exit-zero"
        return None


def run(argv: list[str], cwd: Path) -> Run:
    print(f"$ {shlex.join(argv)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        result = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        seconds = time.perf_counter() - start
        return Run(argv, -1, seconds, exc.stdout or b"", f"timed out after {TIMEOUT_S} s")
    seconds = time.perf_counter() - start
    stderr = result.stderr.decode("utf-8", "replace")
    return Run(argv, result.returncode, seconds, result.stdout, stderr)


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """sha256 and permission bits of every regular file under ``root``, by relative path."""
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[path.relative_to(root).as_posix()] = (digest, stat.S_IMODE(path.stat().st_mode))
    return files


def parses(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            ast.parse(data)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        return False
    return True


def line_endings(data: bytes) -> str:
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    return "crlf" if crlf and not lf else "lf" if lf and not crlf else "mixed" if crlf else "none"


@dataclass
class Damage:
    corrupted: list[str]  # parsed before --fix, does not parse after
    fidelity: list[str]  # BOM, line endings or mode not preserved
    unexpected: list[str]  # non-.py changed, files removed, stray files created
    changed_py: int
    unparsable_originals: list[str]  # changed by --fix, but did not parse before either


def assess(pristine: Path, fixed: Path, before: dict, after: dict) -> Damage:
    damage = Damage([], [], [], 0, [])
    for rel in sorted(set(before) - set(after)):
        damage.unexpected.append(f"{rel}: removed")
    for rel in sorted(set(after) - set(before)):
        damage.unexpected.append(f"{rel}: stray new file")
    for rel in sorted(set(before) & set(after)):
        if before[rel] == after[rel]:
            continue
        if before[rel][1] != after[rel][1]:
            damage.fidelity.append(f"{rel}: mode {before[rel][1]:o} -> {after[rel][1]:o}")
        if before[rel][0] == after[rel][0]:
            continue
        if not rel.endswith(".py"):
            damage.unexpected.append(f"{rel}: not a Python file, but changed")
            continue
        damage.changed_py += 1
        old, new = (pristine / rel).read_bytes(), (fixed / rel).read_bytes()
        if not parses(old):
            damage.unparsable_originals.append(rel)
        elif not parses(new):
            damage.corrupted.append(rel)
        if old.startswith(BOM) != new.startswith(BOM):
            damage.fidelity.append(f"{rel}: BOM {'lost' if old.startswith(BOM) else 'added'}")
        if line_endings(old) in ("lf", "crlf") and line_endings(new) != line_endings(old):
            damage.fidelity.append(f"{rel}: line endings {line_endings(old)} -> mixed")
    return damage


def sl000_reason(message: str) -> str:
    """Group SL000 messages by their prefix: the text before the first colon."""
    head = message.split(":", 1)[0].strip()
    return head if len(head) <= 60 else head[:57] + "..."


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="sweep")
    parser.add_argument("--sessionlint", default="sessionlint", help="command (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the fixed copy and print where")
    args = parser.parse_args(argv)
    sessionlint = shlex.split(args.sessionlint)
    if shutil.which(sessionlint[0]) is None:
        print(f"sweep: `{sessionlint[0]}` is not on PATH; install sessionlint first", file=sys.stderr)
        return 2

    pristine = ensure_corpus(args.corpus)
    sources = python_files(pristine)
    total_lines = sum(count_lines(p.read_bytes()) for p in sources)
    unparsable = sorted(p.relative_to(pristine).as_posix() for p in sources if not parses(p.read_bytes()))

    tmp = Path(tempfile.mkdtemp(prefix="sessionlint-sweep-"))
    try:
        # A real copy (not hard links: a fixer that wrote in place would edit the pristine
        # corpus), outside the gitignored benchmarks/.corpus so nothing is skipped for that.
        work = tmp / args.corpus
        shutil.copytree(pristine, work, symlinks=True)
        before = snapshot(work)
        check = [*sessionlint, "check", "--no-cache", "--exit-zero"]
        report = run([*check, "--format", "json", work.name], tmp)
        fix1 = run([*check, "--fix", work.name], tmp)
        after_fix1 = snapshot(work)
        fix2 = run([*check, "--fix", work.name], tmp)
        after_fix2 = snapshot(work)
        damage = assess(pristine, work, before, after_fix1)
        second_fix_changes = sorted(
            rel for rel in set(after_fix1) | set(after_fix2) if after_fix1.get(rel) != after_fix2.get(rel)
        )
    finally:
        if args.keep:
            print(f"fixed copy kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    internal_errors = [
        e
        for e in (
            report.internal_error(scan_stdout=False),  # stdout is findings: judged below
            fix1.internal_error(),
            fix2.internal_error(),
        )
        if e
    ]
    findings: list[dict] = []
    try:
        findings = json.loads(report.stdout or b"[]")
        codes = Counter(f["code"] for f in findings)
        reasons = Counter(sl000_reason(f["message"]) for f in findings if f["code"] == "SL000")
        for f in findings:
            if f["code"] == "SL000" and "internal error" in f["message"].lower():
                internal_errors.append(f"{f['filename']}: {f['message']}")
    except (ValueError, KeyError, TypeError) as exc:
        internal_errors.append(f"the JSON report is not the documented JSON: {exc}")
        codes, reasons = Counter(), Counter()

    failures = (
        len(internal_errors)
        + len(damage.corrupted)
        + len(damage.fidelity)
        + len(damage.unexpected)
        + len(second_fix_changes)
    )
    packages = ", ".join(CORPORA[args.corpus])
    print(f"## sessionlint crash sweep: `{args.corpus}` corpus\n")
    print(f"Packages: {packages}. Python {sys.version.split()[0]}.\n")
    print(
        table(
            ["files", "lines", "findings", "SL000", "internal errors", "files fixed",
             "corrupted", "fidelity", "unexpected", "changed by 2nd --fix"],
            [[len(sources), f"{total_lines:,}", len(findings), codes.get("SL000", 0),
              len(internal_errors), damage.changed_py, len(damage.corrupted),
              len(damage.fidelity), len(damage.unexpected), len(second_fix_changes)]],
        )
    )  # fmt: skip
    print()
    print(
        table(
            ["run", "seconds", "exit code"],
            [
                ["check --format json", f"{report.seconds:.1f}", report.exit_code],
                ["check --fix", f"{fix1.seconds:.1f}", fix1.exit_code],
                ["check --fix (again)", f"{fix2.seconds:.1f}", fix2.exit_code],
            ],
        )
    )
    if codes:
        print()
        print(table(["code", "findings"], [[c, n] for c, n in sorted(codes.items())]))
    if reasons:
        print()
        print(table(["SL000 reason", "files"], [[r, n] for r, n in reasons.most_common()]))
    print(
        f"\n{len(unparsable)} file(s) of the corpus do not parse under Python"
        f" {sys.version.split()[0]} (SL000 expected there):"
    )
    for rel in unparsable:
        print(f"- {rel}")
    sections = [
        ("internal errors", internal_errors),
        ("corrupted by --fix (parsed before, not after)", damage.corrupted),
        ("fidelity lost (BOM, line endings, file mode)", damage.fidelity),
        ("unexpected changes (non-Python, removed or stray files)", damage.unexpected),
        ("changed by the second --fix (not idempotent)", second_fix_changes),
        ("changed by --fix though unparsable before (not judged)", damage.unparsable_originals),
    ]
    for title, items in sections:
        if items:
            print(f"\n### {title}: {len(items)}")
            for item in items[:50]:
                print(f"- {item}")
            if len(items) > 50:
                print(f"- ... and {len(items) - 50} more")
    print(f"\nresult: {'FAIL' if failures else 'PASS'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
