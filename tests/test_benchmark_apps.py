"""The apps corpus's pins, its review's matching, and the generated app's planted findings.

Nothing here downloads: the corpus itself is rebuilt by ``benchmarks/corpus.py apps``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import corpus  # noqa: E402
import generated  # noqa: E402


def _load_review():
    spec = importlib.util.spec_from_file_location("apps_review", BENCHMARKS / "apps" / "review.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


review = _load_review()


def _row(line: int, text: str, code: str = "SL005", **extra: object) -> dict[str, object]:
    return {"app": "demo", "path": "demo/db.py", "line": line, "code": code, "text": text, **extra}


def test_every_pin_names_an_exact_file_and_its_sha256() -> None:
    assert len(corpus.APP_PINS) >= 12
    for pin in corpus.APP_PINS:
        assert re.fullmatch(r"[0-9a-f]{64}", pin.sha256), pin
        stem = re.sub(r"[-.]", "_", pin.name)
        assert pin.filename.lower().startswith(f"{stem}-{pin.version}".lower()), pin
        assert (pin.file == "wheel") == pin.filename.endswith(".whl"), pin
        assert corpus.SDIST_SHA256[pin.spec] == pin.sha256
    assert corpus.CORPORA["apps"] == tuple(pin.spec for pin in corpus.APP_PINS)


def test_a_pin_with_an_unknown_file_kind_is_refused(tmp_path: Path) -> None:
    pins = tmp_path / "apps.toml"
    pins.write_text('[[app]]\nname = "x"\nversion = "1"\nfile = "egg"\nfilename = "x.egg"\nsha256 = "0"\n')
    with pytest.raises(ValueError, match="x: file must be 'wheel' or 'sdist'"):
        corpus.load_app_pins(pins)


def test_a_finding_that_moved_lines_is_still_the_reviewed_one() -> None:
    reviewed = [_row(10, "engine = create_engine(url)", verdict="true", why="kept for the app's life")]
    found = [_row(14, "engine = create_engine(url)")]
    by_code = review.compare(reviewed, found)
    assert [len(by_code["SL005"][part]) for part in ("kept", "new", "lost")] == [1, 0, 0]
    assert by_code["SL005"]["kept"][0]["verdict"] == "true"


def test_a_changed_line_is_a_new_finding_and_a_lost_one() -> None:
    reviewed = [_row(10, "engine = create_engine(url)", verdict="false", why="one-shot")]
    found = [_row(10, "engine = create_engine(url, echo=True)")]
    by_code = review.compare(reviewed, found)
    assert [len(by_code["SL005"][part]) for part in ("kept", "new", "lost")] == [0, 1, 1]


def test_equal_lines_are_told_apart_by_their_order() -> None:
    reviewed = [
        _row(3, "e = create_engine(u)", verdict="true", why="first"),
        _row(9, "e = create_engine(u)", verdict="false", why="second"),
    ]
    # The first one went away: the one left is the file's first such line now, so it
    # matches the first reviewed row; the second reviewed row is lost.
    by_code = review.compare(reviewed, [_row(7, "e = create_engine(u)")])
    assert [row["why"] for row in by_code["SL005"]["kept"]] == ["first"]
    assert [row["why"] for row in by_code["SL005"]["lost"]] == ["second"]


def test_the_review_file_has_a_verdict_and_a_reason_on_every_row(tmp_path: Path) -> None:
    rows = review.load_review()
    assert rows and all(row["verdict"] in review.VERDICTS and row["why"] for row in rows)
    assert {row["app"] for row in rows} <= {pin.name for pin in corpus.APP_PINS}
    bad = tmp_path / "review.jsonl"
    bad.write_text(json.dumps(_row(1, "x", verdict="maybe", why="?")) + "\n")
    with pytest.raises(ValueError, match=r"review\.jsonl:1: every row needs a verdict"):
        review.load_review(bad)


@pytest.mark.parametrize("shadow", [False, True])
def test_the_generated_app_grows_linearly_with_its_size(tmp_path: Path, shadow: bool) -> None:
    small, large = generated.generate(tmp_path, 3, shadow), generated.generate(tmp_path, 6, shadow)
    count = {root: sum(1 for _ in root.rglob("*.py")) for root in (small, large)}
    assert count[large] - count[small] == 2 * 3  # a router and a model per step of size
    assert (small / "app/ext/sqlalchemy/sql.py").is_file() is shadow


def test_the_generated_app_holds_exactly_the_planted_findings(tmp_path: Path) -> None:
    root = generated.generate(tmp_path / "apps", 3)
    result = subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "--no-cache", "--format", "json", str(root)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    found = Counter(finding["code"] for finding in json.loads(result.stdout))
    assert dict(found) == generated.expected_findings(3)


def test_skipped_rows_are_left_out_and_said_so(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    skipped = ["sl-warm", "sl-touched", "ruff-all", "ruff-default", "flake8", "bare-parse"]
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--corpus", "generated", "--size", "2"]
    result = subprocess.run(
        [*command, "--rounds", "1", "--skip", ",".join(skipped), "--json-out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr.count("left out with --skip") == len(skipped)
    assert "skipping sessionlint cold" not in result.stderr
