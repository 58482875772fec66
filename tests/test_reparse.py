"""The buffer's LibCST tree from its previous one (`rulepass.reparse`): always the tree a
parse of the whole text gives."""

from __future__ import annotations

import random
from pathlib import Path

import libcst as cst
import pytest

from sessionlint.rulepass import reparse

MODULE = '''\
"""A module."""

# A comment on the imports.
import os

CONSTANT = 1


def first() -> int:
    value = os.getpid()

    # the end of the body

# a comment at column 0

class Second:
    def method(self) -> None:
        pass


LAST = CONSTANT + 1
'''

EDITS = [
    MODULE + "\n\nADDED = 2\n",  # at the end
    MODULE.replace("LAST = CONSTANT + 1", "LAST = CONSTANT + 2"),  # in the last statement
    MODULE.replace("        pass", "        return None"),  # in a body
    MODULE.replace("# a comment at column 0\n", "    # now indented: the block above owns it\n"),
    MODULE.replace("\nclass Second:", "    extra = 1\n\nclass Second:"),  # the def's body goes on
    MODULE.replace("class Second:", "else:\n    pass\n\nclass Second:"),  # no statement starts so
    MODULE + "if True:\n  two = 2\n",  # a block indented otherwise than the module's
    MODULE.replace("import os\n", "import os\nimport sys\n"),  # near the top
    MODULE.replace("# A comment on the imports.", "# Another comment."),  # before the first statement
    MODULE + "broken = (\n",  # does not parse
    MODULE + "# only a comment at the end\n",
    MODULE.replace("\n", "\r\n"),  # another newline: the whole is parsed
]


def parsed_after(before: str, after: str) -> cst.Module:
    reparse._last = None
    reparse.parse("buffer.py", before)
    return reparse.parse("buffer.py", after)


def test_the_same_text_again_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reparse._last = None
    tree = reparse.parse("buffer.py", MODULE)
    monkeypatch.setattr(cst, "parse_module", lambda text: pytest.fail("parsed again"))
    assert reparse.parse("buffer.py", MODULE) is tree
    monkeypatch.undo()
    assert reparse.parse("other.py", MODULE) is not tree  # another file's text is its own


@pytest.mark.parametrize("after", EDITS)
def test_the_tree_is_that_of_a_whole_parse(after: str) -> None:
    try:
        whole = cst.parse_module(after)
    except cst.ParserSyntaxError:
        with pytest.raises(cst.ParserSyntaxError):
            parsed_after(MODULE, after)
        return
    tree = parsed_after(MODULE, after)
    assert tree.deep_equals(whole)
    assert tree.code == after


def test_an_edit_at_the_end_parses_only_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    parse_module = cst.parse_module

    def counted(text: str, *args: object) -> cst.Module:
        parsed.append(text)
        return parse_module(text, *args)  # type: ignore[arg-type]

    reparse._last = None
    reparse.parse("buffer.py", MODULE)
    monkeypatch.setattr(reparse.cst, "parse_module", counted)
    tree = reparse.parse("buffer.py", MODULE + "\n\nADDED = 2\n")
    assert parsed == ["\n\nADDED = 2\n"]
    assert tree.deep_equals(parse_module(MODULE + "\n\nADDED = 2\n"))
    # Another file's text is parsed whole.
    reparse.parse("other.py", MODULE + "\n\nADDED = 3\n")
    assert parsed[-1] == MODULE + "\n\nADDED = 3\n"


@pytest.mark.slow  # a few seconds of LibCST parses
def test_edits_all_over_real_modules() -> None:
    """Chains of random edits of the sessionlint package's own modules (lines inserted,
    deleted, characters typed), each tree compared with a whole parse."""
    generator = random.Random(18)
    snippets = [
        "\n\nx_ = 1\n",
        "\ndef f_():\n    return 1\n",
        "    # c\n",
        "else:\n    pass\n",
        "y_ = (\n",
        "@d\n",
    ]
    sources = sorted((Path(__file__).parent.parent / "sessionlint").rglob("*.py"))
    for path in generator.sample(sources, 12):
        text = path.read_text(encoding="utf-8")
        reparse._last = None
        reparse.parse("buffer.py", text)
        for _ in range(6):
            lines = text.splitlines(keepends=True)
            at = generator.randrange(len(lines) + 1)
            choice = generator.random()
            if choice < 0.4:
                after = "".join(lines[:at]) + generator.choice(snippets) + "".join(lines[at:])
            elif choice < 0.7:
                after = "".join(lines[:at]) + "".join(lines[at + generator.randrange(1, 4) :])
            else:
                spot = generator.randrange(len(text) + 1)  # a text may be empty
                after = text[:spot] + generator.choice(["1", " ", "\n", "#", ":"]) + text[spot:]
            try:
                whole = cst.parse_module(after)
            except cst.ParserSyntaxError:
                continue
            tree = reparse.parse("buffer.py", after)  # from the tree of the last edit
            assert tree.deep_equals(whole), (path, at)
            text = after
