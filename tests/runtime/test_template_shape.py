"""The shape of ``sessionlint/runtime/dependencies.py`` that the autofix relies on.

The SL001 fix reads that file's source and copies the body of each inner ``get_session``
function as its template. These checks pin what the fix assumes: the inner function's name,
the ``factory`` parameter, the ``session`` variable, no docstring or comment inside, and that
the public function returns the inner one.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

import sessionlint.runtime.dependencies as dependencies

SOURCE = Path(dependencies.__file__).read_text(encoding="utf-8")
TREE = ast.parse(SOURCE)
PUBLIC = {
    "session_dependency": ast.FunctionDef,
    "transactional_session_dependency": ast.FunctionDef,
    "async_session_dependency": ast.AsyncFunctionDef,
    "async_transactional_session_dependency": ast.AsyncFunctionDef,
}


def outer_function(name: str) -> ast.FunctionDef:
    for node in TREE.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(f"{name} is not a module-level function of dependencies.py")


def test_public_names_are_exactly_the_four_dependencies() -> None:
    assert sorted(dependencies.__all__) == sorted(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_inner_function_has_the_template_shape(name: str) -> None:
    outer = outer_function(name)
    assert ast.get_docstring(outer), f"{name} needs a docstring"
    assert [arg.arg for arg in outer.args.args] == ["factory"]

    *_, inner, returned = outer.body
    assert isinstance(inner, PUBLIC[name]), f"{name}: inner function of the wrong kind"
    assert inner.name == "get_session"
    assert not inner.args.args, "FastAPI must be able to call it without arguments"
    assert ast.get_docstring(inner) is None
    assert isinstance(returned, ast.Return)
    assert isinstance(returned.value, ast.Name) and returned.value.id == "get_session"

    created = [
        node
        for node in ast.walk(inner)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "factory"
    ]
    assert len(created) == 1, "the session is created by exactly one factory() call"
    bound = {
        node.id for node in ast.walk(inner) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    assert bound == {"session"}
    yields = [node for node in ast.walk(inner) if isinstance(node, ast.Yield)]
    assert len(yields) == 1 and isinstance(yields[0].value, ast.Name)
    assert yields[0].value.id == "session"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_inner_function_has_no_comment(name: str) -> None:
    inner = outer_function(name).body[-2]
    first, last = inner.lineno, inner.end_lineno
    comments = [
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(SOURCE).readline)
        if token.type == tokenize.COMMENT and first <= token.start[0] <= (last or first)
    ]
    assert comments == [], f"{name}: comments inside get_session on lines {comments}"
