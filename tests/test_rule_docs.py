"""`docs/rules/*.md` are generated from the rules' docstrings and must be current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from sessionlint.report.diagnostics import DOCS_URL
from sessionlint.report.formats.rules import rule_docs
from sessionlint.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_rule_docs.py"
REGENERATE = "run `python scripts/gen_rule_docs.py` and commit docs/rules/"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_rule_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_rule_docs_are_current() -> None:
    stale = _generator().stale()
    assert not stale, f"stale rule docs: {', '.join(stale)}; {REGENERATE}"


def test_every_rule_and_parse_errors_have_a_page_at_their_url() -> None:
    codes = ["SL000", *(rule.code for rule in ALL_RULES)]
    assert [doc.code for doc in rule_docs()] == codes
    for code in codes:
        page = ROOT / "docs" / "rules" / f"{code}.md"
        assert page.is_file(), f"docs/rules/{code}.md is missing; {REGENERATE}"
        assert DOCS_URL.format(code=code).endswith(f"/docs/rules/{code}.md")


def test_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    generator = _generator()
    folder = tmp_path / "rules"
    generator.write(folder)
    assert generator.stale(folder) == []
    (folder / "SL005.md").write_text("edited by hand\n")
    (folder / "SL999.md").write_text("a rule that no longer exists\n")
    assert generator.stale(folder) == ["SL005.md", "SL999.md"]
    generator.write(folder)
    assert generator.stale(folder) == []
    assert not (folder / "SL999.md").exists()


def test_script_check_exit_code() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
