"""`sessionlint rules` (a table or JSON) and `sessionlint rule CODE` (a rule's page)."""

from __future__ import annotations

import inspect
import json

from sessionlint.diagnostics import FixAvailability
from sessionlint.rules import ALL_RULES, RULES_BY_CODE


def render_rules(output_format: str) -> str:
    rows = [
        {
            "code": rule.code,
            "name": rule.name,
            "fix": rule.fix_availability.value,
            "summary": rule.summary(),
        }
        for rule in ALL_RULES
    ]
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    width = max(len(rule.name) for rule in ALL_RULES)
    lines = [f"{'code':<6} {'name':<{width}} fix  summary"]
    for row in rows:
        fixable = {"never": "   ", "sometimes": "(*)", "always": "[*]"}[row["fix"]]
        lines.append(f"{row['code']:<6} {row['name']:<{width}} {fixable}  {row['summary']}")
    return "\n".join(lines) + "\n"


def render_rule_page(code: str) -> str | None:
    rule = RULES_BY_CODE.get(code)
    if rule is None:
        return None
    fix = {
        FixAvailability.NEVER: "no automatic fix",
        FixAvailability.SOMETIMES: "fix sometimes available",
        FixAvailability.ALWAYS: "fix always available",
    }[rule.fix_availability]
    header = f"# {rule.code} {rule.name}\n\nMessage: {rule.message}\nFix: {fix}\n\n"
    return header + inspect.cleandoc(rule.__doc__ or "") + "\n"
