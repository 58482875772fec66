"""Pruning (`rulepass/prune.py`): the functions no engine or registry rule can look at are
left out of LibCST's parse, and that never changes what a run reports."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from sessionlint.read.sources import decode
from sessionlint.rulepass import lint, prune
from sessionlint.rulepass.prune import PRUNABLE_CODES, pruned_text
from sessionlint.rulepass.tokenview import tokenizer_view
from sessionlint.workspace import Workspace
from tests.fixture_cases import all_cases, run_cli

# The fixtures where a maker of engines or registries is named: elsewhere nothing is pruned.
CASES = [
    case
    for case in all_cases()
    if any(
        word in file.read_bytes() for file in case.source_files() for word in (b"engine", b"scoped_session")
    )
]

# A database layer: one method builds the engine, many others only use it.
_METHOD = '''
    def read_{index}(self, key: str) -> dict:
        """Reads row {index} (a method that makes no engine)."""
        with self.Session() as session:
            return session.get(Row, key)
'''
_LAYER = """from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app.models import Row


def make_engine(url: str):
    engine = create_engine(url{options})
    return engine


class Store:
    def __init__(self, url: str) -> None:
        self.Session = sessionmaker(bind=make_engine(url))
{methods}

def report_{last}() -> int:
    return {last}
"""


def _layer(options: str = "", methods: int = 200) -> str:
    return _LAYER.format(
        options=options, methods="".join(_METHOD.format(index=i) for i in range(methods)), last=methods
    )


def _workspace(folder: Path) -> Workspace:
    workspace = Workspace([folder], use_cache=False)
    workspace.engine.load_rules()
    workspace.project.build_indexes()
    return workspace


def test_functions_making_no_engine_are_left_out_and_every_line_keeps_its_length(tmp_path: Path) -> None:
    (tmp_path / "store.py").write_text(_layer())
    workspace = _workspace(tmp_path)
    (state,) = [state for state in workspace.states if state.source.display.endswith("store.py")]
    text = decode(state.source)
    assert state.facts is not None
    pruned = pruned_text(text, frozenset({"SL005"}), state.facts, workspace.project)
    assert pruned is not None
    assert [len(line) for line in pruned.splitlines()] == [len(line) for line in text.splitlines()]
    assert "def make_engine" in pruned and "create_engine(url)" in pruned  # it makes the engine
    assert "def read_" not in pruned and "def report_" not in pruned
    assert "def __init__" in pruned  # it calls a project function that makes an engine
    ast.parse(pruned)  # the class body keeps a statement where its methods were
    # Another rule than the engine and registry rules: nothing is left out.
    assert pruned_text(text, frozenset({"SL005", "SL004"}), state.facts, workspace.project) is None


def test_a_redefined_function_is_kept(tmp_path: Path) -> None:
    # The rule pass tells `f` from `f#2` by their order: leaving the first out would swap them.
    redefined = "\n\ndef helper():\n    return 1\n" * 2
    (tmp_path / "store.py").write_text(_layer() + redefined)
    workspace = _workspace(tmp_path)
    (state,) = [state for state in workspace.states if state.source.display.endswith("store.py")]
    assert state.facts is not None
    pruned = pruned_text(decode(state.source), PRUNABLE_CODES, state.facts, workspace.project)
    assert pruned is not None
    assert pruned.count("def helper():") == 2


def test_the_functions_are_found_from_the_facts_and_only_in_the_text_they_were_taken_from(
    tmp_path: Path,
) -> None:
    # The facts' outline says where each function stands (no second `ast` parse); a text
    # whose lines moved (facts of another version of the file) is not pruned on its word.
    (tmp_path / "store.py").write_text(_layer())
    workspace = _workspace(tmp_path)
    (state,) = [state for state in workspace.states if state.source.display.endswith("store.py")]
    assert state.facts is not None
    text = decode(state.source)
    read_0 = next(d for c in state.facts.outline if c.is_class for d in c.body if d.name == "read_0")
    assert text.splitlines()[read_0.line - 1].lstrip().startswith("def read_0(")
    assert pruned_text(text, PRUNABLE_CODES, state.facts, workspace.project) is not None
    moved = "# a new first line\n" + text
    assert pruned_text(moved, PRUNABLE_CODES, state.facts, workspace.project) is None
    # Every `def` where it was, but a body one line longer (the blank line after it gone).
    body = "            return session.get(Row, key)\n\n    def read_1("
    assert body in text
    longer = text.replace(body, body.replace("\n\n", "\n            return None\n"), 1)
    assert pruned_text(longer, PRUNABLE_CODES, state.facts, workspace.project) is None


def test_tabs_stay_as_written(tmp_path: Path) -> None:
    source = _layer().replace("    ", "\t")
    (tmp_path / "store.py").write_text(source)
    workspace = _workspace(tmp_path)
    (state,) = [state for state in workspace.states if state.source.display.endswith("store.py")]
    assert state.facts is not None
    pruned = pruned_text(decode(state.source), PRUNABLE_CODES, state.facts, workspace.project)
    assert pruned is not None and "\tpass" in pruned
    ast.parse(pruned)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_pruned_files_give_what_whole_files_give(
    case: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fixture, the four rules forced on each of its files, pruned at any size: the
    same findings as from the whole file (the run would parse it again anyway if any)."""
    monkeypatch.setattr(prune, "_MIN_SIZE", 0)
    folder = case.copy_to(tmp_path / "case")  # type: ignore[attr-defined]
    workspace = _workspace(folder)
    rules = [rule for rule in workspace.engine.rules if rule.code in PRUNABLE_CODES]
    for state in workspace.states:
        if state.facts is None or state.facts.shallow or state.error is not None or state.tree is not None:
            continue
        state.rule_codes = PRUNABLE_CODES
        text = decode(state.source)
        pruned = pruned_text(text, PRUNABLE_CODES, state.facts, workspace.project)
        if pruned is None:
            continue
        found = []
        for view in (tokenizer_view(pruned), tokenizer_view(text)):
            workspace.project.forget_answers()
            result = lint._checked(
                workspace.settings, state, workspace.project, rules, text, view, True, False
            )
            assert not result.internal_errors
            found.append(result.diagnostics)
        # Findings, their fixes' edits and their evidence alike.
        assert found[0] == found[1], state.source.display


@pytest.mark.parametrize("options", ["", ", pool_pre_ping=True"])
def test_the_command_reports_a_large_module_as_a_whole_parse_does(tmp_path: Path, options: str) -> None:
    """Through the command, from another folder: the finding (and its fix) in a large
    database layer, and silence once it is fixed."""
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "models.py").write_text("class Row:\n    pass\n")
    (project / "app" / "store.py").write_text(_layer(options))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("check", "--no-cache", str(project), cwd=elsewhere)
    output = result.stdout.decode()
    if options:
        assert result.returncode == 0, output
        return
    assert result.returncode == 1, output
    assert "store.py:8:14: SL005" in output.replace("\\", "/")
    fixed = run_cli("check", "--no-cache", "--fix", str(project), cwd=elsewhere)
    assert fixed.returncode == 0, fixed.stdout.decode()
    assert (project / "app" / "store.py").read_text() == _layer(", pool_pre_ping=True")


def test_the_layer_is_large_enough_to_be_pruned() -> None:
    assert len(textwrap.dedent(_layer())) > prune._MIN_SIZE


def test_a_cached_run_sees_a_left_out_function_start_making_engines(tmp_path: Path) -> None:
    """A function left out because its callee made no engine is checked again, through the
    cache, once the callee (in another module) makes one: as a clean run reports it."""
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "models.py").write_text("class Row:\n    pass\n")
    (project / "app" / "pools.py").write_text("def make_pool(url: str):\n    return url\n")
    endpoint = (
        "\n\nfrom fastapi import FastAPI\n\nfrom app.pools import make_pool\n\napp = FastAPI()\n\n\n"
        '@app.get("/rows")\ndef rows(url: str):\n    pool = make_pool(url)\n    return [pool]\n'
    )
    (project / "app" / "store.py").write_text(_layer(", pool_pre_ping=True") + endpoint)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = run_cli("check", str(project), cwd=elsewhere)
    assert first.returncode == 0, first.stdout.decode()
    (project / "app" / "pools.py").write_text(
        "from sqlalchemy import create_engine\n\n\ndef make_pool(url: str):\n"
        "    return create_engine(url, pool_pre_ping=True)\n"
    )
    cached = run_cli("check", str(project), cwd=elsewhere)
    clean = run_cli("check", "--no-cache", str(project), cwd=elsewhere)
    assert clean.returncode == 1 and "SL003" in clean.stdout.decode(), clean.stdout.decode()
    assert cached.stdout == clean.stdout
