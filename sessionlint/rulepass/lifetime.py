"""How a session variable lives in one function body (SL002's question, asked of the CST).

Every reference to the variable in the function's own scope is classified (used, closed,
passed to a call, handed over for good, rebound, closed by a `with`), the `try` statements
whose `finally` closes it and the `with` statements that close it are found, and from
those: is there a use that no closing `finally` (or `with`) covers? Unknown shapes answer
"no leak": a closure using the session, a second binding, a hand-over to code that may
own it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.rulepass.walk import OwnScopeVisitor, visit

if TYPE_CHECKING:
    from sessionlint.rulepass.context import FileSemantics

_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_HANDED_OVER_BY_METHOD = vocab.EXIT_STACK_METHODS | vocab.CONTAINER_STORE_METHODS

# How a reference to the session variable uses it.
USE = "use"  # needs a `finally` (or `with`) that closes it
CLOSE = "close"  # `db.close()`
PASS = "pass"  # `f(db)`: closes it when it stands in a `finally`
WITH = "with"  # `with db:` closes it at the end of the block
BIND = "bind"  # assigned again
ESCAPE = "escape"  # ownership leaves the function
HANDOFF = "handoff"  # `Worker(db)`, `tasks.add_task(f, db)`: may take ownership, or only use it


@dataclass(frozen=True)
class Reference:
    name: str
    node: cst.Name
    ancestors: tuple[cst.CSTNode, ...]
    order: int
    how: str


class References(cst.CSTVisitor):
    """Every reference to the tracked names in a function body's own scope, in source order.

    `order` counts both entering and leaving a node: `spans[node]` is (entered, left), and
    everything inside a node lies strictly between the two, so "after the assignment" and
    "inside the `try`" do not hang on which whitespace nodes the walk passes.
    """

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names
        self.stack: list[cst.CSTNode] = []
        self.order = 0
        self.spans: dict[cst.CSTNode, tuple[int, int]] = {}
        self.found: list[Reference] = []
        self.captured: set[str] = set()
        self.yields: list[int] = []

    def of(self, name: str) -> list[Reference]:
        return [ref for ref in self.found if ref.name == name]

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.order += 1
        self.spans[node] = (self.order, self.order)
        if isinstance(node, _NESTED_SCOPES):
            # A closure may close it, keep it, or run later: not this function's business.
            self.captured |= names_in(node) & self.names
            self.stack.append(node)
            return False
        if isinstance(node, cst.Yield):
            self.yields.append(self.order)
        if isinstance(node, cst.Name) and node.value in self.names and self.stack:
            how = how_used(node, self.stack)
            if how is not None:
                self.found.append(Reference(node.value, node, tuple(self.stack), self.order, how))
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()
        self.order += 1
        start, _ = self.spans[original_node]
        self.spans[original_node] = (start, self.order)


class SessionLifetime:
    """Whether one session variable is closed on every path after its creation."""

    def __init__(
        self,
        semantics: FileSemantics,
        references: References,
        name: str,
        assign: cst.BaseSmallStatement,
        *,
        rebound: bool = False,
        until: cst.BaseSmallStatement | None = None,
    ) -> None:
        """`rebound`: the name is bound to a new session more than once in the function;
        this session's references then start at `assign` and end at `until`, the next such
        binding (if any)."""
        self.semantics = semantics
        self.references = references
        self.name = name
        self.created_at = references.spans[assign][1]
        refs = references.of(name)
        if rebound:
            start = references.spans[assign][0]
            end = references.spans[until][0] if until is not None else references.order + 1
            refs = [ref for ref in refs if start <= ref.order < end]
        self.refs = [self._refine(ref) for ref in refs]
        # `try` statements whose `finally` closes it, `with db:` statements.
        self.closers: list[cst.CSTNode] = []
        for ref in self.refs:
            if ref.how in (CLOSE, PASS, HANDOFF):
                owner = _try_of_finally(ref.ancestors)
                if owner is not None and owner not in self.closers:
                    self.closers.append(owner)
            elif ref.how == WITH:
                self.closers.append(ref.ancestors[-2])
        # The function takes the duty to close it itself (perhaps only on the happy path).
        self.closes_it = bool(self.closers) or any(ref.how == CLOSE for ref in self.refs)

    def _refine(self, ref: Reference) -> Reference:
        """Calls need the semantic model: `closing(db)`, and `return f(db)` of an unknown `f`."""
        if ref.how != PASS:
            return ref
        call = cst.ensure_type(ref.ancestors[-2], cst.Call)
        semantics = self.semantics
        if semantics.qualified_name(call.func) in vocab.OWNERSHIP_TAKERS:
            return _replace(ref, ESCAPE)
        value = semantics.value_of(call.func)
        if semantics.project.function_of(value, semantics.module) is not None:
            return ref  # `crud.create_user(db, ...)`: a project function that uses it
        # `return Repository(db)` hands the session over; elsewhere a class or an unknown
        # callee may keep it (`UnitOfWork(db)`, `background_tasks.add_task(f, db)`).
        in_return = any(isinstance(a, cst.Return) for a in ref.ancestors)
        return _replace(ref, ESCAPE if in_return else HANDOFF)

    def leaks(self) -> bool:
        refs = self.refs
        if any(ref.how == ESCAPE for ref in refs):
            return False
        after = [ref for ref in refs if ref.order > self.created_at]
        if any(ref.how == BIND for ref in after):
            return False  # rebound: which session a later line means is a guess
        if not self.closes_it and any(ref.how == HANDOFF for ref in refs):
            return False  # never closed here, handed to code that may own it: unsure
        closed_from = min(
            (
                self.references.spans[closer][1]
                for closer in self.closers
                if self.references.spans[closer][1] > self.created_at
            ),
            default=None,
        )
        for ref in after:
            if ref.how not in (USE, PASS, HANDOFF):
                continue
            if closed_from is not None and ref.order > closed_from:
                continue  # used after it was closed: a new transaction, not this leak
            if not any(ancestor in self.closers for ancestor in ref.ancestors):
                return True
        return False


def _replace(ref: Reference, how: str) -> Reference:
    return Reference(ref.name, ref.node, ref.ancestors, ref.order, how)


def _try_of_finally(ancestors: tuple[cst.CSTNode, ...]) -> cst.CSTNode | None:
    for index in range(len(ancestors) - 1, 0, -1):
        if isinstance(ancestors[index], cst.Finally):
            return ancestors[index - 1]
    return None


def how_used(node: cst.Name, ancestors: list[cst.CSTNode]) -> str | None:
    """How a `Name` node uses the variable (None: it is not a reference to it)."""
    parent = ancestors[-1]
    grandparent = ancestors[-2] if len(ancestors) >= 2 else None
    if isinstance(parent, cst.Attribute):
        if parent.attr is node:
            return None
        if parent.attr.value == "close":
            called = isinstance(grandparent, cst.Call) and grandparent.func is parent
            return CLOSE if called else ESCAPE  # `db.close` handed to someone else
        return USE
    if isinstance(parent, cst.Arg):
        if parent.keyword is node:
            return None
        if parent.star or not isinstance(grandparent, cst.Call):
            return USE
        func = grandparent.func
        if isinstance(func, cst.Attribute) and func.attr.value in _HANDED_OVER_BY_METHOD:
            return ESCAPE
        return PASS
    if isinstance(parent, (cst.NameItem, cst.ImportAlias, cst.AsName, cst.Param)):
        return None if not isinstance(parent, cst.AsName) else BIND
    if isinstance(parent, (cst.AssignTarget, cst.For, cst.CompFor, cst.NamedExpr, cst.AugAssign)):
        target = getattr(parent, "target", None)
        return BIND if target is node else USE
    if isinstance(parent, cst.AnnAssign):
        return BIND if parent.target is node else ESCAPE
    if isinstance(parent, (cst.Assign, cst.Return, cst.Element, cst.DictElement, cst.StarredElement)):
        return ESCAPE  # aliased, stored, returned or put in a container
    if isinstance(parent, cst.Yield):
        return USE
    if isinstance(parent, cst.WithItem) and parent.item is node:
        return WITH
    if isinstance(parent, cst.Del):
        return ESCAPE
    return USE


class Creations(OwnScopeVisitor):
    """`name = call(...)` / `name: T = call(...)` statements of a body's own scope."""

    def __init__(self) -> None:
        super().__init__()
        self.assignments: list[
            tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, str, cst.BaseExpression]
        ] = []
        self._line: cst.SimpleStatementLine | None = None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._line = node

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self._add(node, node.targets[0].target.value, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._add(node, node.target.value, node.value)

    def _add(self, node: cst.BaseSmallStatement, name: str, value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.Call, cst.Await)) and self._line is not None:
            self.assignments.append((self._line, node, name, value))


class _NameCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def names_in(node: cst.CSTNode) -> set[str]:
    collector = _NameCollector()
    visit(node, collector)
    return collector.names
