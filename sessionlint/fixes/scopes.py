"""Names a fix may write without changing what other code means.

A fix that introduces a name (a new local, an annotation naming a type) must not pick one
the code already uses: a new local `session` under `global session` overwrites the module's
global, and `-> Iterator[...]` on a method is evaluated in its class's body, where a class
attribute `Iterator = None` wins over the module's import.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from sessionlint.rulepass.walk import OwnScopeVisitor, visit


def bound_names(scope: cst.FunctionDef | cst.ClassDef) -> set[str]:
    """Every name `scope` binds in its own body (and a function's parameters): assignment,
    loop, `with` / `except` / import targets, `:=`, `del`, `global` / `nonlocal`, pattern
    captures, and the names of nested definitions (whose bodies are their own scopes)."""
    collector = _Bindings()
    if isinstance(scope, cst.FunctionDef):
        params = scope.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
        collector.names.update(param.name.value for param in every)
    visit(scope.body, collector)
    return collector.names


def bound_in_any(scopes: Iterable[cst.FunctionDef | cst.ClassDef], names: Iterable[str]) -> bool:
    """One of `names` is bound in one of `scopes`."""
    wanted = set(names)
    return any(wanted & bound_names(scope) for scope in scopes)


def head(spelling: str) -> str:
    """The name a dotted spelling is looked up by (`typing.Iterator` -> `typing`)."""
    return spelling.partition(".")[0].partition("[")[0].strip()


class _Bindings(OwnScopeVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def _target(self, node: cst.CSTNode | None) -> None:
        if isinstance(node, cst.Name):
            self.names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._target(element.value)
        elif isinstance(node, cst.StarredElement):
            self._target(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)  # its own scope, but counting it only errs on the safe side

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._target(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            name = node.name
            while isinstance(name, cst.Attribute):
                name = name.value
            self._target(name)

    def visit_Global(self, node: cst.Global) -> None:
        self.names.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.names.update(item.name.value for item in node.names)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        self._target(node.name)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        self._target(node.name)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        self._target(node.rest)
