"""The text edits behind `--add-noqa` and SL100's fix, in process (the command runs them in
tests/test_adoption.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlint.fixes.add_noqa import with_comments
from sessionlint.fixes.fixer import apply_edits
from sessionlint.rules.sl100_unused_noqa import unused_noqa


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x = f()\n", "x = f()  # noqa: SL002\n"),
        ("x = f()   \n", "x = f()  # noqa: SL002\n"),
        ("x = f()  # type: ignore\n", "x = f()  # type: ignore  # noqa: SL002\n"),
        ("x = f()  # noqa:E501\n", "x = f()  # noqa:E501, SL002\n"),
        ("x = f()  # noqa: E501, W291 why\n", "x = f()  # noqa: E501, W291, SL002 why\n"),
        ("x = f()  # noqa: SL002\n", "x = f()  # noqa: SL002\n"),
        ("x = f()  # noqa\n", "x = f()  # noqa\n"),
        ("x = f()\r\n", "x = f()  # noqa: SL002\r\n"),
        ("x = f()", "x = f()  # noqa: SL002"),
    ],
)
def test_add_noqa_line(line: str, expected: str) -> None:
    assert with_comments(line, {1: {"SL002"}})[0] == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('x = f("""a\nb""")\n', "the line ends inside a multi-line string"),
        ("x = f(1, \\\n  2)\n", "the line ends with a `\\` continuation"),
    ],
)
def test_add_noqa_leaves_lines_that_cannot_end_with_a_comment(text: str, why: str) -> None:
    assert with_comments(text, {1: {"SL002"}}) == (text, 0, [(1, f"cannot take a comment: {why}")])


def test_add_noqa_counts_lines_as_the_diagnostics_do() -> None:
    # A form feed is no line break for a finding's row (str.splitlines would split there).
    text = "a = 1\x0c\nb = f()\n"
    assert with_comments(text, {2: {"SL002"}})[0] == "a = 1\x0c\nb = f()  # noqa: SL002\n"


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("x = 1  # noqa: SL002\n", "x = 1\n"),
        ("x = 1  # noqa: E501, SL002\n", "x = 1  # noqa: E501\n"),
        ("x = 1  # noqa: SL002,E501\n", "x = 1  # noqa: E501\n"),
        ("x = 1  # type: ignore  # noqa: SL002\n", "x = 1  # type: ignore\n"),
        ("x = 1  # noqa: SL002 legacy\n", "x = 1  # legacy\n"),
        ("if x:\n    # noqa: SL002\n    pass\n", "if x:\n    pass\n"),
        ("x = 1  # noqa: SL002\r\ny = 2\r\n", "x = 1\r\ny = 2\r\n"),
    ],
)
def test_unused_noqa_fix(text: str, fixed: str) -> None:
    (finding,) = unused_noqa(text, "m.py", [], lambda code: True)
    assert finding.fix is not None
    assert apply_edits(text, finding.fix.edits) == fixed


def test_unused_noqa_judges_only_what_it_may() -> None:
    text = "x = 1  # noqa: SL002, SL005, SL100, SL999, E501\ny = 2  # noqa\n"
    (finding,) = unused_noqa(text, "m.py", [], lambda code: code == "SL005")
    assert finding.message == "Unused `noqa` directive (unused: `SL005`)"
    assert apply_edits(text, finding.fix.edits).startswith("x = 1  # noqa: SL002, SL100, SL999, E501\n")


def test_baseline_setting_is_a_path_relative_to_its_configuration(tmp_path: Path) -> None:
    from sessionlint.settings.codes import KNOWN_CODES
    from sessionlint.settings.config import ConfigError, settings_from_table

    settings = settings_from_table(
        {"baseline": "ci/base.json"}, source="pyproject.toml", root=tmp_path, known_codes=KNOWN_CODES
    )
    assert settings.baseline == tmp_path / "ci" / "base.json"
    with pytest.raises(ConfigError, match="`baseline` must be a file path"):
        settings_from_table({"baseline": 3}, source="pyproject.toml", root=tmp_path, known_codes=KNOWN_CODES)
