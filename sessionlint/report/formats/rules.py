"""Rule documentation: `sessionlint rules`, `sessionlint rule CODE`, the SARIF rule
descriptors and `docs/rules/*.md` all read the rules' docstrings through this module."""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from functools import cache

import click

from sessionlint.report.diagnostics import DOCS_URL, FixAvailability
from sessionlint.settings.codes import PARSE_ERROR

_HEADING = re.compile(r"^## (?P<title>.+?)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_INLINE_CODE = re.compile(r"`([^`]+)`")

_PARSE_ERROR_DOC = """
## What it does
Reports a file that sessionlint cannot check: it cannot be read, is not valid UTF-8 (or
its declared encoding), holds NUL bytes, or does not parse as Python.

## Why is this bad?
Nothing in that file was checked, so a clean report would say more than is true. The run
goes on with the other files, and the exit code is 1 as for any other finding.

## Example
```python
def get_db(:
    ...
```

## Use instead
Fix the syntax error (or the encoding declaration), or exclude the file with `exclude` /
`extend-exclude` if it is not meant to be Python.
"""

_FIX_TEXT = {
    FixAvailability.NEVER: "none, report only",
    FixAvailability.SOMETIMES: "sometimes available (`sessionlint check --fix`)",
    FixAvailability.ALWAYS: "always available (`sessionlint check --fix`)",
}
_FIXABLE_COLUMN = {
    FixAvailability.NEVER: "no",
    FixAvailability.SOMETIMES: "sometimes",
    FixAvailability.ALWAYS: "yes",
}


@dataclass(frozen=True)
class RuleDoc:
    """One rule's documentation, from its class attributes and its docstring."""

    code: str
    name: str
    message: str
    fix: FixAvailability
    body: str  # the docstring, dedented: `## What it does` ... (Markdown)

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    @property
    def message_template(self) -> str:
        """The message with its fields shown as `<field>`."""
        return _PLACEHOLDER.sub(r"<\1>", self.message)

    def sections(self) -> list[tuple[str, str]]:
        """(heading, Markdown body) in order."""
        matches = list(_HEADING.finditer(self.body))
        return [
            (
                match["title"],
                self.body[match.end() : matches[i + 1].start() if i + 1 < len(matches) else None].strip("\n"),
            )
            for i, match in enumerate(matches)
        ]

    def section(self, title: str) -> str:
        return next((body for heading, body in self.sections() if heading == title), "")

    @property
    def summary(self) -> str:
        """The first paragraph under `## What it does`, on one line."""
        return " ".join(self.section("What it does").split("\n\n", 1)[0].split())

    def markdown(self) -> str:
        """The documentation page (`docs/rules/<code>.md`, SARIF `help.markdown`)."""
        return (
            f"# {self.code}: {self.name}\n\n"
            f"- Message: {self.message_template}\n"
            f"- Fix: {_FIX_TEXT[self.fix]}\n\n"
            f"{self.body.strip()}\n"
        )

    def plain_text(self) -> str:
        """The page without Markdown (SARIF `help.text`, `sessionlint rule` without colour)."""
        return self.terminal(color=False)

    def terminal(self, *, color: bool) -> str:
        """The page for a terminal: headings underlined, code blocks indented, no fences."""

        def style(text: str, **kwargs: object) -> str:
            return click.style(text, **kwargs) if color else text  # type: ignore[arg-type]

        lines = [
            style(f"{self.code} {self.name}", bold=True),
            "",
            f"Message: {_inline(self.message_template, color)}",
            f"Fix: {_inline(_FIX_TEXT[self.fix], color)}",
        ]
        for heading, body in self.sections():
            lines += ["", style(heading, bold=True, underline=True) if color else heading]
            if not color:
                lines.append("-" * len(heading))
            in_code = False
            for line in body.splitlines():
                if _FENCE.match(line.strip()):
                    in_code = not in_code
                    continue
                if in_code:
                    lines.append(style(f"    {line}", fg="cyan") if line else "")
                else:
                    lines.append(_inline(line, color))
        return "\n".join(lines) + "\n"


def _inline(text: str, color: bool) -> str:
    if not color:
        return text
    return _INLINE_CODE.sub(lambda match: click.style(match[1], fg="cyan"), text)


@cache
def rule_docs() -> tuple[RuleDoc, ...]:
    """SL000 (parse errors) and every rule, in code order."""
    from sessionlint.rules import ALL_RULES  # imports LibCST: only when docs are asked for

    docs = [
        RuleDoc(
            PARSE_ERROR,
            "parse-error",
            "<why the file cannot be read or parsed>",
            FixAvailability.NEVER,
            inspect.cleandoc(_PARSE_ERROR_DOC),
        )
    ]
    docs += [
        RuleDoc(
            rule.code,
            rule.name,
            rule.message,
            rule.fix_availability,
            inspect.cleandoc(rule.__doc__ or ""),
        )
        for rule in ALL_RULES
    ]
    return tuple(docs)


def find_rule(code_or_name: str) -> RuleDoc | None:
    """A rule by code (`SL005`, `sl005`) or by name (`engine-without-pre-ping`)."""
    wanted = code_or_name.strip()
    return next(
        (doc for doc in rule_docs() if wanted.upper() == doc.code or wanted.lower() == doc.name),
        None,
    )


def render_rules(output_format: str, *, width: int | None = None) -> str:
    """`sessionlint rules`: a table (summaries cut to `width` columns if given), or JSON."""
    docs = rule_docs()
    if output_format == "json":
        rows = [
            {
                "code": doc.code,
                "name": doc.name,
                "summary": doc.summary,
                "message": doc.message_template,
                "fix": doc.fix.value,
                "url": doc.url,
            }
            for doc in docs
        ]
        return json.dumps(rows, indent=2) + "\n"
    table = [("code", "name", "fixable", "summary")]
    table += [(doc.code, doc.name, _FIXABLE_COLUMN[doc.fix], doc.summary) for doc in docs]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = []
    for code, name, fixable, summary in table:
        line = f"{code:<{widths[0]}}  {name:<{widths[1]}}  {fixable:<{widths[2]}}  {summary}"
        if width is not None and len(line) > width:
            line = line[: max(width - 3, sum(widths) + 6)].rstrip() + "..."
        lines.append(line + "\n")
    return "".join(lines)


def render_rule_page(code: str, *, color: bool = False) -> str | None:
    """`sessionlint rule CODE`: the rule's page for a terminal, or None if no such rule."""
    doc = find_rule(code)
    return doc.terminal(color=color) if doc is not None else None
