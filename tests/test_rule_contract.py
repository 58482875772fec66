"""What every rule promises: metadata, documentation page, examples, fixtures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionlint.entry.run import check_source
from sessionlint.report.diagnostics import FixAvailability
from sessionlint.rules import ALL_RULES, Rule
from sessionlint.settings.codes import OPT_IN_CODES, RULE_NAMES
from sessionlint.settings.config import Settings

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "sessionlint" / "rules"
FIXTURES = ROOT / "fixtures"
HEADINGS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")
OPTIONAL_HEADINGS = ("## Not flagged", "## Fix safety", "## Options", "## References")


def _ids(rule: type[Rule]) -> str:
    return rule.code


def test_codes_and_names_are_unique_and_well_formed() -> None:
    codes = [rule.code for rule in ALL_RULES]
    names = [rule.name for rule in ALL_RULES]
    assert len(set(codes)) == len(codes) and len(set(names)) == len(names)
    assert codes == sorted(codes), "ALL_RULES is in code order"
    for rule in ALL_RULES:
        assert re.fullmatch(r"SL\d{3}", rule.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", rule.name)


def test_the_light_code_table_matches_the_rules() -> None:
    assert {rule.code: rule.name for rule in ALL_RULES} == RULE_NAMES


def test_every_rule_module_is_registered() -> None:
    modules = {path.stem for path in RULES_DIR.glob("sl[0-9][0-9][0-9]_*.py")}
    registered = {rule.__module__.rpartition(".")[2] for rule in ALL_RULES}
    assert modules == registered


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_module_name_matches_code_and_name(rule: type[Rule]) -> None:
    expected = f"sl{rule.code[2:]}_{rule.name.replace('-', '_')}"
    assert rule.__module__ == f"sessionlint.rules.{expected}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_documentation_headings_in_order(rule: type[Rule]) -> None:
    doc = rule.__doc__ or ""
    present = [h for h in (*HEADINGS, *OPTIONAL_HEADINGS) if h in doc]
    assert all(h in present for h in HEADINGS), f"missing: {set(HEADINGS) - set(present)}"
    positions = [doc.index(h) for h in present]
    order = [h for h in (*HEADINGS, *OPTIONAL_HEADINGS) if h in present]
    assert [present[i] for i in sorted(range(len(present)), key=positions.__getitem__)] == order
    has_fix = rule.fix_availability is not FixAvailability.NEVER
    assert ("## Fix safety" in doc) == has_fix, "a `## Fix safety` section iff the rule can fix"
    assert "## Not flagged" in doc, "every rule lists what it deliberately does not flag"
    assert rule.message and not rule.message.endswith(".")
    if has_fix:
        assert rule.fix_title


def _code_block(doc: str, heading: str) -> str:
    section = doc.split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python block under {heading}"
    lines = match.group(1).splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines) + "\n"


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_example_triggers_the_rule_and_use_instead_does_not(rule: type[Rule]) -> None:
    doc = rule.__doc__ or ""
    # An opt-in rule (SL100) reviews the other rules' findings: it runs beside them.
    settings = (
        Settings(extend_select=(rule.code,)) if rule.code in OPT_IN_CODES else Settings(select=(rule.code,))
    )
    # Each example is a whole project: rules about what nothing else in it does can conclude.
    example = check_source(_code_block(doc, "## Example"), "app.py", settings, complete=True)
    assert [d.code for d in example if d.code == rule.code], "the example must trigger the rule"
    use_instead = check_source(_code_block(doc, "## Use instead"), "app.py", settings, complete=True)
    assert not [d for d in use_instead if d.code == rule.code], [d.message for d in use_instead]


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_fixtures_exist_for_both_outcomes(rule: type[Rule]) -> None:
    folder = FIXTURES / rule.code
    names = [path.name for path in folder.iterdir()]
    assert any(name.startswith("flag_") for name in names)
    assert any(name.startswith("ok_") for name in names)
    has_fixed = any(path.name.endswith(".fixed.py") for path in folder.rglob("*.py"))
    can_fix = rule.fix_availability is not FixAvailability.NEVER
    assert has_fixed == can_fix, "a `.fixed.py` fixture iff the rule can fix"
