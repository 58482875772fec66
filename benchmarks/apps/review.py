"""Rerun sessionlint on the apps corpus and compare its findings with the committed review.

    python benchmarks/apps/review.py                  # run, compare, print per rule
    python benchmarks/apps/review.py --show-new 6     # also print each new finding with 6 lines of code
    python benchmarks/apps/review.py --findings DIR    # compare a saved run (DIR/<app>.json)

Each app is checked as its own project (``sessionlint check --no-cache --format json``
with the app's folder as the path), the way its users would run it. A finding is matched to
the review by (app, path, code, the reported line's text, and its rank among findings with
those four equal), not by line number: an edit elsewhere in the file does not churn the
review. Printed per rule: findings still there by verdict, new findings (not reviewed yet),
lost findings (reviewed, no longer reported; a lost ``true`` is a recall regression).

Exit status: 0 when the findings are exactly the reviewed ones, 1 when anything changed,
2 when sessionlint failed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, for corpus.py
import corpus

REVIEW = Path(__file__).resolve().parent / "review.jsonl"
VERDICTS = ("true", "false", "debatable")


@dataclass(frozen=True)
class Key:
    """What identifies a finding across unrelated edits."""

    app: str
    path: str  # relative to the app's folder
    code: str
    text: str  # the reported line, stripped
    rank: int  # 0 for the first finding with the same app, path, code and text

    def label(self, line: int | None = None) -> str:
        where = f"{self.path}:{line}" if line else self.path
        return f"{self.app} {where} {self.code}  `{self.text[:90]}`"


def _ranked(rows: Iterable[dict[str, object]]) -> dict[Key, dict[str, object]]:
    """Key every row (sorted by line, so ranks follow the file's order)."""
    seen: Counter[tuple[str, str, str, str]] = Counter()
    keyed = {}
    for row in sorted(rows, key=lambda r: (r["app"], r["path"], r["code"], r["line"], r.get("column", 0))):
        base = (str(row["app"]), str(row["path"]), str(row["code"]), str(row["text"]))
        keyed[Key(*base, seen[base])] = row
        seen[base] += 1
    return keyed


def line_text(root: Path, slug: str, path: str, line: int) -> str:
    lines = (root / slug / path).read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def run_app(pin: corpus.AppPin, root: Path, sessionlint: list[str], out: Path) -> list[dict[str, object]]:
    """sessionlint's findings on one app, as review rows (without verdicts)."""
    argv = [*sessionlint, "check", "--no-cache", "--format", "json", "--exit-zero", "-o", str(out), pin.slug]
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`{shlex.join(argv)}` exited {result.returncode}:\n{result.stderr[-3000:]}")
    return rows_of(pin, root, json.loads(out.read_text()))


def rows_of(pin: corpus.AppPin, root: Path, findings: list[dict[str, object]]) -> list[dict[str, object]]:
    rows = []
    for finding in findings:
        filename = Path(str(finding["filename"])).as_posix()
        path = filename.split("/", 1)[1] if filename.startswith(pin.slug + "/") else filename
        line = int(finding["location"]["row"])  # type: ignore[index]
        rows.append(
            {
                "app": pin.name,
                "path": path,
                "line": line,
                "column": int(finding["location"]["column"]),  # type: ignore[index]
                "code": finding["code"],
                "text": line_text(root, pin.slug, path, line),
                "message": finding["message"],
            }
        )
    return rows


def load_review(path: Path = REVIEW) -> list[dict[str, object]]:
    rows = []
    for number, raw in enumerate(path.read_text().splitlines(), 1) if path.is_file() else ():
        if not raw.strip():
            continue
        row = json.loads(raw)
        if row.get("verdict") not in VERDICTS or not row.get("why"):
            raise ValueError(f"{path}:{number}: every row needs a verdict in {VERDICTS} and a why")
        rows.append(row)
    return rows


def context(root: Path, slug: str, path: str, line: int, around: int) -> str:
    lines = (root / slug / path).read_text(encoding="utf-8", errors="replace").splitlines()
    start, end = max(1, line - around), min(len(lines), line + around)
    return "\n".join(f"{'>' if n == line else ' '}{n:5d}  {lines[n - 1]}" for n in range(start, end + 1))


def compare(reviewed: list[dict[str, object]], found: list[dict[str, object]]) -> dict[str, dict[str, list]]:
    """Per code: 'kept' (reviewed rows still found), 'new' (found rows), 'lost' (reviewed rows)."""
    old, now = _ranked(reviewed), _ranked(found)
    by_code: dict[str, dict[str, list]] = defaultdict(lambda: {"kept": [], "new": [], "lost": []})
    for key, row in now.items():
        by_code[key.code]["kept" if key in old else "new"].append(old.get(key, row))
    for key, row in old.items():
        if key not in now:
            by_code[key.code]["lost"].append(row)
    return dict(sorted(by_code.items()))


def print_comparison(by_code: dict[str, dict[str, list]], root: Path, show_new: int | None) -> bool:
    """Print the comparison; True when anything changed against the review."""
    slugs = {pin.name: pin.slug for pin in corpus.APP_PINS}
    changed = False
    header = f"{'rule':<6} {'found':>6} {'true':>5} {'false':>6} {'debat.':>7} {'new':>5} {'lost':>5}"
    print(header)
    totals: Counter[str] = Counter()
    for code, parts in by_code.items():
        verdicts = Counter(str(row["verdict"]) for row in parts["kept"])
        counts = {
            "found": len(parts["kept"]) + len(parts["new"]),
            **{v: verdicts[v] for v in VERDICTS},
            "new": len(parts["new"]),
            "lost": len(parts["lost"]),
        }
        totals.update(counts)
        print(f"{code:<6} " + " ".join(f"{counts[k]:>{w}}" for k, w in _COLUMNS))
    print(f"{'total':<6} " + " ".join(f"{totals[k]:>{w}}" for k, w in _COLUMNS))
    for code, parts in by_code.items():
        for row in sorted(parts["new"], key=lambda r: (r["app"], r["path"], r["line"])):
            changed = True
            print(f"\nNEW   {code} {row['app']} {row['path']}:{row['line']}  {row['message']}")
            if show_new is not None:
                print(context(root, slugs[str(row["app"])], str(row["path"]), int(row["line"]), show_new))
        for row in sorted(parts["lost"], key=lambda r: (r["app"], r["path"], r["line"])):
            changed = True
            print(
                f"\nLOST  {code} {row['app']} {row['path']}:{row['line']} (was {row['verdict']}: {row['why']})"
            )
    print("\nno change against the review" if not changed else "\nthe findings changed against the review")
    return changed


_COLUMNS = (("found", 6), ("true", 5), ("false", 6), ("debatable", 7), ("new", 5), ("lost", 5))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessionlint", default=f"{sys.executable} -m sessionlint", help="command to run")
    parser.add_argument("--findings", type=Path, help="read DIR/<app-slug>.json instead of running")
    parser.add_argument("--save", type=Path, help="keep each app's JSON output in this folder")
    parser.add_argument("--show-new", type=int, metavar="N", help="print N lines around new findings")
    parser.add_argument("--apps", help="comma-separated app names (default: all; others count as lost)")
    parser.add_argument("--json-out", type=Path, help="write the current findings as review-shaped rows")
    args = parser.parse_args(argv)
    root = corpus.ensure_corpus("apps")
    pins = [p for p in corpus.APP_PINS if not args.apps or p.name in args.apps.split(",")]
    save = args.save or Path(__import__("tempfile").mkdtemp(prefix="sessionlint-review-"))
    save.mkdir(parents=True, exist_ok=True)
    found: list[dict[str, object]] = []
    for pin in pins:
        if args.findings:
            found += rows_of(pin, root, json.loads((args.findings / f"{pin.slug}.json").read_text()))
            continue
        print(f"checking {pin.slug} ...", file=sys.stderr, flush=True)
        try:
            found += run_app(pin, root, shlex.split(args.sessionlint), save / f"{pin.slug}.json")
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
    if args.json_out:
        args.json_out.write_text("".join(json.dumps(row) + "\n" for row in found))
    reviewed = [row for row in load_review() if not args.apps or row["app"] in args.apps.split(",")]
    return 1 if print_comparison(compare(reviewed, found), root, args.show_new) else 0


if __name__ == "__main__":
    sys.exit(main())
