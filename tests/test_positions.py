"""Positions one statement at a time are LibCST's positions, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from sessionlint.rulepass import positions as positions_module
from sessionlint.rulepass.positions import StatementPositions
from sessionlint.rulepass.tokenview import tokenizer_view

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCES = sorted(path for path in FIXTURES.rglob("*.py") if not path.name.endswith(".fixed.py"))

ODD = {
    "empty": "",
    "no trailing newline": "x = 1\nif x:\n    y = (1,\n         2)",
    "header and footer comments": "# head\n\nimport a\n\n# foot\n",
    "crlf": "def f():\r\n    return g(\r\n        1)\r\n\r\nclass C: pass\r\n",
    "cr only": "a = 1\rb = '''x\ry'''\rc = 3\r",
    "semicolons": "a = 1; b = f(a); c = [b,\n  a]\n",
    "continuation": "x = 1 + \\\n    2\ny = x\n",
    "tabs": "if x:\n\tif y:\n\t\tz(1)\n",
    "multi-line strings": 'x = """a\nb\n\nc"""\ndef f():\n    """doc\n    more\n    """\n    return g(1)\ny = f()\n',
    "crlf strings": 'x = """a\r\nb\r\n"""\r\ny = f(x)\r\n',
}


@pytest.fixture(autouse=True)
def _print_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every node through the statement printer, none through the whole-table fallback."""
    monkeypatch.setattr(positions_module, "MAX_PRINTS", 10**9)


def _compare(text: str) -> int:
    module = cst.parse_module(tokenizer_view(text).text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    # Asked in reverse order: every statement is found and printed out of order; the
    # module itself and its header and footer lines fall back to the full table.
    positions = StatementPositions(MetadataWrapper(module, unsafe_skip_copy=True))
    nodes = list(reversed(expected))
    inside = [node for node in nodes if positions._statement_of(node) is not None]
    for node in inside:
        assert positions[node] == expected[node], (type(node).__name__, module.code_for_node(node)[:60])
    assert positions._everything is None
    for node in nodes:
        assert positions[node] == expected[node]
    return len(nodes)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(FIXTURES)))
def test_fixture_positions(path: Path) -> None:
    try:
        text = path.read_bytes().decode("utf-8")
        cst.parse_module(tokenizer_view(text).text)
    except (UnicodeDecodeError, cst.ParserSyntaxError):
        pytest.skip("not a file LibCST reads")
    assert _compare(text) > 0


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_layouts(name: str) -> None:
    _compare(ODD[name])


def test_only_the_statement_asked_about_is_printed() -> None:
    module = cst.parse_module("a = 1\n\n\ndef f():\n    return g(1)\n\nb = f()\n")
    positions = StatementPositions(MetadataWrapper(module, unsafe_skip_copy=True))
    call = cst.ensure_type(cst.ensure_type(module.body[2], cst.SimpleStatementLine).body[0], cst.Assign).value
    assert (positions[call].start.line, positions[call].start.column) == (7, 4)
    assert positions.prints == 1
    assert set(positions._computed) >= {call, call.func} and module.body[2] not in positions._computed
    assert positions[module.body[0]].start.line == 1 and positions.prints == 2


def test_printing_stops_once_the_node_asked_about_is_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finding near the top of a long class prints that much of the class, not all of it."""
    module = cst.parse_module(
        "class C:\n    def f(self):\n        return g(1)\n\n    def h(self):\n        return 2\n"
    )
    printed: list[cst.CSTNode] = []
    before_codegen = positions_module._RecordingInside.before_codegen

    def spy(self: positions_module._RecordingInside, node: cst.CSTNode) -> None:
        printed.append(node)
        before_codegen(self, node)

    monkeypatch.setattr(positions_module._RecordingInside, "before_codegen", spy)
    first, second = cst.ensure_type(module.body[0], cst.ClassDef).body.body
    returned = cst.ensure_type(cst.ensure_type(first, cst.FunctionDef).body.body[0], cst.SimpleStatementLine)
    call = cst.ensure_type(returned.body[0], cst.Return).value
    assert call is not None
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = StatementPositions(MetadataWrapper(module, unsafe_skip_copy=True))
    assert positions[call] == expected[call]
    assert call in printed and second not in printed
    assert positions[second] == expected[second]  # printed in turn when asked
