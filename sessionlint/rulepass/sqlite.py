"""URLs proven to be SQLite by the `if` that guards their use.

`if db_url.startswith("sqlite"): engine = create_engine(db_url, ...)` opens SQLite: a
local file with no server to restart and no connection to go stale (SL005). The guard
names the URL (a local name, not rebound under the guard) and tests its scheme:

- `url.startswith("sqlite")`, or a tuple of prefixes that all start with `sqlite`;
- `make_url(url).get_backend_name() == "sqlite"`, `url.get_backend_name() == "sqlite"`
  (a `URL` object), `make_url(url).drivername.startswith("sqlite")`;

alone or as one operand of an `and`. Only the `if` branch counts, and only calls in the
same scope (a nested function may run after the name changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.rulepass.walk import OwnScopeVisitor, visit

if TYPE_CHECKING:
    from sessionlint.rulepass.context import FileSemantics

_PREFIX = "sqlite"


def sqlite_guarded_calls(node: cst.If, semantics: FileSemantics) -> set[cst.Call]:
    """Calls in the `if` branch of `node` whose first argument (or `url=`) is a name the
    test proves to hold a SQLite URL, where nothing in the branch rebinds that name."""
    names = _tested_names(node.test, semantics)
    if not names:
        return set()
    finder = _CallsWithUrl(names)
    visit(node.body, finder)
    return {call for call, name in finder.calls if name not in finder.rebound}


def _tested_names(test: cst.BaseExpression, semantics: FileSemantics) -> set[str]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _tested_names(test.left, semantics) | _tested_names(test.right, semantics)
    name = _startswith_sqlite(test, semantics)
    if name is None:
        name = _backend_is_sqlite(test, semantics)
    return {name} if name is not None else set()


def _startswith_sqlite(test: cst.BaseExpression, semantics: FileSemantics) -> str | None:
    """`url.startswith("sqlite")`, `make_url(url).drivername.startswith(("sqlite", ...))`."""
    if not (isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute)):
        return None
    if test.func.attr.value != "startswith" or len(test.args) != 1:
        return None
    if not _all_sqlite_prefixes(test.args[0].value):
        return None
    subject = test.func.value
    if isinstance(subject, cst.Attribute) and subject.attr.value == "drivername":
        return _url_name(subject.value, semantics)
    return subject.value if isinstance(subject, cst.Name) else None


def _backend_is_sqlite(test: cst.BaseExpression, semantics: FileSemantics) -> str | None:
    """`make_url(url).get_backend_name() == "sqlite"` (or with a `URL` named directly)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if not isinstance(target.operator, cst.Equal) or _string(target.comparator) != _PREFIX:
        return None
    call = test.left
    if not (
        isinstance(call, cst.Call)
        and not call.args
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "get_backend_name"
    ):
        return None
    return _url_name(call.func.value, semantics)


def _url_name(node: cst.BaseExpression, semantics: FileSemantics) -> str | None:
    """`url` in `make_url(url)`, or a name itself (a `URL` object)."""
    if isinstance(node, cst.Name):
        return node.value
    if (
        isinstance(node, cst.Call)
        and len(node.args) == 1
        and isinstance(node.args[0].value, cst.Name)
        and semantics.qualified_name(node.func) in vocab.MAKE_URL
    ):
        return node.args[0].value.value
    return None


def _all_sqlite_prefixes(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Tuple):
        texts = [_string(element.value) for element in node.elements]
        return bool(texts) and all(text is not None and text.startswith(_PREFIX) for text in texts)
    text = _string(node)
    return text is not None and text.startswith(_PREFIX)


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


class _CallsWithUrl(OwnScopeVisitor):
    """Calls whose URL argument is one of `names`, and the names (re)bound on the way."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names
        self.calls: list[tuple[cst.Call, str]] = []
        self.rebound: set[str] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.rebound |= {n.value for n in _names_in(node.target)} & self.names

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.rebound |= {n.value for n in _names_in(node.target)} & self.names

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.rebound |= {n.value for n in _names_in(node.target)} & self.names

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.rebound |= {n.value for n in _names_in(node.target)} & self.names

    def visit_For(self, node: cst.For) -> None:
        self.rebound |= {n.value for n in _names_in(node.target)} & self.names

    def visit_AsName(self, node: cst.AsName) -> None:
        self.rebound |= {n.value for n in _names_in(node.name)} & self.names

    def visit_Call(self, node: cst.Call) -> None:
        url = next((arg.value for arg in node.args if arg.keyword and arg.keyword.value == "url"), None)
        if url is None and node.args and node.args[0].keyword is None and not node.args[0].star:
            url = node.args[0].value
        if isinstance(url, cst.Name) and url.value in self.names:
            self.calls.append((node, url.value))


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            found.append(current)
        elif not isinstance(current, (cst.Attribute, cst.Subscript)):
            stack.extend(current.children)
    return found
