"""The trees a benchmark run times one after another, and the summaries across them.

A *tree* is one folder that every command checks as a whole: a library corpus, one real
application of the ``apps`` corpus (each app is its own project, as its users check it),
or a generated application of a chosen size. ``run.py`` times each tree; this module says
which trees a ``--corpus`` means and prints what the issue's targets are stated over:
per app and summed over the apps corpus, and time against files for generated apps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

if __package__:
    from .corpus import APP_PINS, ensure_corpus
    from .generated import expected_findings, generate
else:  # run as a script: benchmarks/ is sys.path[0]
    from corpus import APP_PINS, ensure_corpus
    from generated import expected_findings, generate

# Targets over the whole apps corpus (issue 16): the per-app ones are in run.RATIOS["app"].
SUMMED_COLD_TARGET = 1.0
MEMORY_TARGET_MB = 300.0


@dataclass
class Tree:
    name: str
    root: Path
    packages: list[str]
    ratios: str  # key of run.RATIOS
    expected: dict[str, int] | None = None  # findings per code a correct run reports


def app_trees(only: list[str] | None = None) -> list[Tree]:
    """One tree per pinned application (all of them, or those named in ``only``)."""
    unknown = sorted(set(only or ()) - {pin.name for pin in APP_PINS})
    if unknown:
        raise ValueError(f"unknown app(s): {', '.join(unknown)}")
    root = ensure_corpus("apps")
    pins = [pin for pin in APP_PINS if not only or pin.name in only]
    return [Tree(pin.slug, root / pin.slug, [pin.spec], "app") for pin in pins]


def generated_trees(sizes: list[int], shadow: bool, dest: Path) -> list[Tree]:
    """One generated app per size, written under ``dest``."""
    trees = []
    for size in sizes:
        root = generate(dest, size, shadow=shadow)
        trees.append(Tree(root.name, root, [f"generated, size {size}"], "generated", expected_findings(size)))
    return trees


def _median(result: dict[str, object], key: str, field: str = "median_s") -> float | None:
    return result["commands"][key][field]  # type: ignore[index,return-value]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _peak(result: dict[str, object]) -> float | None:
    peaks = []
    for key in ("sl-cold", "sl-warm", "sl-touched"):
        command = result["commands"][key]  # type: ignore[index]
        peaks += [m for m in (command["max_rss_mb"], command["tree_pss_mb"]) if m is not None]
    return max(peaks, default=None)


def apps_summary(results: list[dict[str, object]]) -> dict[str, object]:
    """Per app and summed: the ratios the apps targets are stated in; printed as a table."""
    print("\n## apps: per app and summed (medians; ratios of wall time, cpu in brackets)")
    header = f"{'app':<36} {'files':>6} {'cold s':>7} {'ruff ALL':>9} {'cold/ALL':>13}"
    print(f"{header} {'warm/ruff':>10} {'touched/ruff':>13} {'peak MB':>8}")
    sums: dict[str, float] = {}
    complete = True
    for result in results:
        row = {
            key: _median(result, key)
            for key in ("sl-cold", "ruff-all", "sl-warm", "sl-touched", "ruff-default")
        }
        cpu = {key: _median(result, key, "median_cpu_s") for key in ("sl-cold", "ruff-all")}
        for key, value in [*row.items(), *((f"cpu {k}", v) for k, v in cpu.items())]:
            if value is None:
                complete = False
            else:
                sums[key] = sums.get(key, 0.0) + value
        cold_ratio = _ratio(row["sl-cold"], row["ruff-all"])
        mark = "" if cold_ratio is None or cold_ratio <= 1.5 else " !"
        print(
            f"{result['corpus']:<36} {result['files']:>6} {_fmt(row['sl-cold']):>7} {_fmt(row['ruff-all']):>9}"
            f" {_fmt(cold_ratio):>5}{mark:<2} ({_fmt(_ratio(cpu['sl-cold'], cpu['ruff-all']))})"
            f" {_fmt(_ratio(row['sl-warm'], row['ruff-default'])):>10}"
            f" {_fmt(_ratio(row['sl-touched'], row['ruff-default'])):>13} {_fmt(_peak(result), '.0f'):>8}"
        )
    largest = max(results, key=lambda r: int(r["lines"]))  # type: ignore[arg-type]
    summary = {
        "cold / ruff ALL, summed": _ratio(sums.get("sl-cold"), sums.get("ruff-all")),
        "cold / ruff ALL, summed cpu": _ratio(sums.get("cpu sl-cold"), sums.get("cpu ruff-all")),
        "warm / ruff default, summed": _ratio(sums.get("sl-warm"), sums.get("ruff-default")),
        "touched / ruff default, summed": _ratio(sums.get("sl-touched"), sums.get("ruff-default")),
        "largest app": largest["corpus"],
        "peak MB on the largest app": _peak(largest),
        "complete": complete,
    }
    print(
        f"{'total':<36} {sum(int(r['files']) for r in results):>6} {_fmt(sums.get('sl-cold')):>7}"
        f" {_fmt(sums.get('ruff-all')):>9} {_fmt(summary['cold / ruff ALL, summed']):>5}"
        f"   ({_fmt(summary['cold / ruff ALL, summed cpu'])})"
        f" {_fmt(summary['warm / ruff default, summed']):>10}"
        f" {_fmt(summary['touched / ruff default, summed']):>13}"
    )
    summed = summary["cold / ruff ALL, summed"]
    verdict = "n/a" if summed is None else ("PASS" if summed <= SUMMED_COLD_TARGET else "FAIL")
    print(f"\nsummed cold / ruff ALL: {_fmt(summed)} (target <= {SUMMED_COLD_TARGET:g}): {verdict}")
    peak = summary["peak MB on the largest app"]
    verdict = "n/a" if peak is None else ("PASS" if peak <= MEMORY_TARGET_MB else "FAIL")
    print(
        f"peak memory on the largest app ({largest['corpus']}): {_fmt(peak, '.0f')} MB (target <= 300): {verdict}"
    )
    if not complete:
        print("note: some commands failed or were skipped; the sums leave them out")
    return summary


def generated_summary(results: list[dict[str, object]]) -> dict[str, object]:
    """Time against files: linear growth keeps the seconds per file flat."""
    print("\n## generated apps: time against size (medians)")
    print(
        f"{'tree':<24} {'files':>6} {'cold s':>8} {'ms/file':>8} {'cpu s':>7} {'ruff ALL s':>11} {'cold/ALL':>9}"
    )
    rows = []
    for result in results:
        cold, cpu = _median(result, "sl-cold"), _median(result, "sl-cold", "median_cpu_s")
        files = int(result["files"])  # type: ignore[arg-type]
        per_file = cold / files * 1000 if cold is not None else None
        ruff = _median(result, "ruff-all")
        rows.append({"tree": result["corpus"], "files": files, "cold_s": cold, "ms_per_file": per_file})
        print(
            f"{result['corpus']:<24} {files:>6} {_fmt(cold):>8} {_fmt(per_file, '.1f'):>8} {_fmt(cpu):>7}"
            f" {_fmt(ruff):>11} {_fmt(_ratio(cold, ruff)):>9}"
        )
    timed = [r for r in rows if r["cold_s"] is not None]
    growth = None
    if len(timed) >= 2:
        first, last = timed[0], timed[-1]
        growth = (last["cold_s"] / first["cold_s"]) / (last["files"] / first["files"])
        print(
            f"\nfrom {first['tree']} to {last['tree']}: files x{last['files'] / first['files']:.1f},"
            f" cold time x{last['cold_s'] / first['cold_s']:.1f} (1.0 = linear; start-up cost makes small trees"
            f" look dear per file, so a value below 1 is expected): {growth:.2f}"
        )
    return {"rows": rows, "time_growth_over_file_growth": growth}
