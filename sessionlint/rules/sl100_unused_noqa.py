"""SL100 unused-noqa."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sessionlint.report.diagnostics import Applicability, Diagnostic, Edit, Fix, FixAvailability, Location
from sessionlint.rulepass.noqa import Directive, directives
from sessionlint.rules._base import Rule
from sessionlint.settings.codes import PARSE_ERROR, RULE_NAMES, UNUSED_NOQA

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class UnusedNoqa(Rule):
    """
    ## What it does
    Flags a `# noqa: SLxxx` comment naming a sessionlint code that suppresses nothing on
    its line: the rule it names reports no finding there (any more). Not selected by
    default: enable it with `--extend-select SL100` (or `extend-select = ["SL100"]`).

    ## Why is this bad?
    A suppression outlives the code it was written for. Once the session is closed or the
    engine gets `pool_pre_ping`, the stale `# noqa` stays, and silently hides the next real
    finding on that line. Removing the unused ones keeps each suppression meaningful, which
    matters most after `--add-noqa` suppressed a whole legacy codebase at once.

    ## Example
    ```python
    from sqlalchemy import create_engine

    engine = create_engine("postgresql://app@db/app", pool_pre_ping=True)  # noqa: SL005
    ```

    ## Use instead
    ```python
    from sqlalchemy import create_engine

    engine = create_engine("postgresql://app@db/app", pool_pre_ping=True)
    ```

    ## Not flagged
    Only what this run can judge, judged against the findings of the rules it selected for
    the file (after the `# noqa` comments themselves, so a code that suppresses a finding is
    used):
    - other tools' codes (`# noqa: E501`): the finding may be theirs. The fix keeps them;
    - a blanket `# noqa` with no codes. Ruff's RUF100 flags an unused one, because ruff knows
      every code it could suppress; here it may suppress flake8's, ruff's or another
      plugin's finding, which sessionlint cannot see;
    - codes of rules this run does not select for the file (`--select`, `ignore`,
      `per-file-ignores`): the run cannot tell whether they would report something there
      (ruff reports them as "non-enabled"; removing them in a partial run would drop valid
      suppressions);
    - codes sessionlint does not know (`SL999`, a newer version's code), `SL000`, and
      `SL100` itself (`# noqa: SL100` keeps this rule quiet on its line);
    - codes of a rule that failed on the file (an internal error): its findings are unknown;
    - `# noqa` inside a string literal (it is no comment).

    ## Fix safety
    Safe: removes the unused codes from the comment, keeping the others (`# noqa: E501,
    SL002` becomes `# noqa: E501`), or the whole directive when no code is left (text that
    follows it in the same comment stays). Only a comment changes.
    """

    code = UNUSED_NOQA
    name = "unused-noqa"
    message = "Unused `noqa` directive (unused: {unused})"
    fix_title = "Remove the unused `noqa` codes"
    fix_availability = FixAvailability.ALWAYS


def unused_noqa(
    text: str, path: str, findings: Sequence[Diagnostic], judged: Callable[[str], bool]
) -> list[Diagnostic]:
    """SL100's findings in one file: `findings` are the selected rules' findings before the
    `# noqa` filter; `judged(code)` says whether the run can tell a code's use here."""
    used = {(finding.location.row, finding.code) for finding in findings}
    line_starts: list[int] | None = None
    result = []
    for directive in directives(text):
        unused = sorted(
            {
                code
                for code, _, _ in directive.codes
                if _judgeable(code) and judged(code) and (directive.row, code) not in used
            }
        )
        if not unused:
            continue
        if line_starts is None:
            line_starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]
        line_start = line_starts[directive.row - 1]
        line_end = line_starts[directive.row] if directive.row < len(line_starts) else len(text)
        result.append(_finding(directive, unused, path, text[line_start:line_end], line_start))
    return result


def _judgeable(code: str) -> bool:
    return code in RULE_NAMES and code not in (UNUSED_NOQA, PARSE_ERROR)


def _finding(directive: Directive, unused: list[str], path: str, line: str, line_start: int) -> Diagnostic:
    row, column = directive.row, directive.column
    start, end, content = _removal(directive, set(unused))
    start, end = column + start, column + end  # now in the line
    if (start, end, content) == (column, column + len(directive.comment), ""):
        # The whole comment goes: with the blanks before it, and on a line holding nothing
        # else, the whole line with its line break.
        code = line[:column].rstrip()
        if code:
            start = len(code)
        else:
            start, end = 0, len(line)
    end_location = Location(row, end + 1) if end <= len(line.rstrip("\r\n")) else Location(row + 1, 1)
    edit = Edit(line_start + start, line_start + end, content, Location(row, start + 1), end_location)
    return Diagnostic(
        code=UnusedNoqa.code,
        name=UnusedNoqa.name,
        message=UnusedNoqa.message.format(unused=", ".join(f"`{code}`" for code in unused)),
        path=path,
        location=Location(row, column + directive.start + 1),
        end_location=Location(row, column + directive.end + 1),
        fix=Fix(Applicability.SAFE, UnusedNoqa.fix_title or "", (edit,)),
    )


def _removal(directive: Directive, unused: set[str]) -> tuple[int, int, str]:
    """The span of the comment to replace (offsets in it) and what replaces it."""
    comment = directive.comment
    kept = [comment[start:end] for code, start, end in directive.codes if code not in unused]
    if kept:
        return directive.codes_start, directive.codes[-1][2], ", ".join(kept)
    before, after = comment[: directive.start], comment[directive.end :]
    if before.strip():
        # A type-ignore comment followed by the noqa directive: the directive and the blanks before it go.
        return len(before.rstrip()), directive.end, ""
    if after.strip():
        # The directive followed by more text (a reason): the comment stays a comment.
        return directive.start, directive.end, "#" if after[0].isspace() else "# "
    return 0, len(comment), ""
