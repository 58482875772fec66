"""`sessionlint.rulepass.walk`: the read-only traversals match LibCST's own `node.visit`.

Same nodes (the tree's own, not copies), same source order, same skipping of a subtree
when a `visit_<Node>` hook returns False, with `leave_<Node>` still called; only the nodes
of whitespace and punctuation fields are left out.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from sessionlint.rulepass.walk import iter_nodes, visit

SOURCE = textwrap.dedent(
    """\
    from ..pkg import a as b, c
    import os.path

    @decorator(key=value, *args, **kwargs)
    async def f(x: int, /, y=1, *rest, z: str = "z", **extra) -> list[int]:
        async with open(x) as handle, other():
            async for item in handle:
                items[1:n:2] = [i async for i in item if i]
        try:
            result = g(keyword=lambda q: q + 1)
        except (KeyError, ValueError) as error:
            raise Wrapped(error) from error
        else:
            pass
        finally:
            cleanup(); done = True
        match result:
            case [first, *others] if first > 0:
                return first if others else None
            case {"key": value}:
                yield value
        while not done: continue


    class C(Base, metaclass=Meta):
        attribute: int = f"{x!r:>{width}}"
    """
)


def _events(
    node: cst.CSTNode, visitor_class: type[cst.CSTVisitor], *, fast: bool
) -> list[tuple[str, cst.CSTNode]]:
    visitor = visitor_class()
    if fast:
        visit(node, visitor)
    else:
        node.visit(visitor)
    return visitor.events  # type: ignore[attr-defined, no-any-return]


class _Everything(cst.CSTVisitor):
    """Records entering and leaving every node."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, cst.CSTNode]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", node))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", original_node))


class _OwnScope(cst.CSTVisitor):
    """Typed hooks; nested functions, classes and lambdas are skipped."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, cst.CSTNode]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.events.append(("visit", node))
        return False

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.events.append(("leave", original_node))

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.events.append(("visit", node))
        return False

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.events.append(("leave", original_node))

    def visit_ClassDef(self, node: cst.ClassDef) -> bool | None:
        self.events.append(("visit", node))
        return None  # not False: the children are visited

    def visit_Name(self, node: cst.Name) -> None:
        self.events.append(("visit", node))

    def leave_Call(self, original_node: cst.Call) -> None:
        self.events.append(("leave", original_node))


class _SkipsCalls(_Everything):
    """`on_visit` overridden: returning False skips the subtree there too."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        super().on_visit(node)
        return not isinstance(node, cst.Call)


def test_same_nodes_in_the_same_order_as_libcst() -> None:
    tree = cst.parse_module(SOURCE)
    walked = {id(node) for node in iter_nodes(tree)}
    expected = [(kind, node) for kind, node in _events(tree, _Everything, fast=False) if id(node) in walked]
    got = _events(tree, _Everything, fast=True)
    assert [(kind, type(node).__name__) for kind, node in got] == [
        (kind, type(node).__name__) for kind, node in expected
    ]
    assert all(a is b for (_, a), (_, b) in zip(got, expected))  # the tree's own nodes
    assert [node for kind, node in got if kind == "visit"] == list(iter_nodes(tree))
    names = [node.value for kind, node in got if kind == "visit" and isinstance(node, cst.Name)]
    assert names[:5] == ["pkg", "a", "b", "c", "os"]
    assert names[names.index("g") : names.index("g") + 3] == ["g", "keyword", "q"]


def test_hook_returning_false_skips_the_children_but_not_the_leave_hook() -> None:
    tree = cst.parse_module(SOURCE)
    got = _events(tree, _OwnScope, fast=True)
    assert got == _events(tree, _OwnScope, fast=False)
    summary = [
        (kind, node.value if isinstance(node, cst.Name) else type(node).__name__) for kind, node in got
    ]
    # `f` is entered and left, nothing inside it (its name, parameters, body) is visited.
    function = summary.index(("visit", "FunctionDef"))
    assert summary[function + 1] == ("leave", "FunctionDef")
    assert ("visit", "handle") not in summary and ("visit", "Lambda") not in summary
    # The decorator is a child of the function too; the class body is visited.
    assert ("visit", "decorator") not in summary
    assert summary[-4:] == [("visit", "attribute"), ("visit", "int"), ("visit", "x"), ("visit", "width")]


def test_on_visit_returning_false_skips_the_children() -> None:
    tree = cst.parse_module(SOURCE)
    got = _events(tree, _SkipsCalls, fast=True)
    walked = {id(node) for node in iter_nodes(tree)}
    expected = [(kind, node) for kind, node in _events(tree, _SkipsCalls, fast=False) if id(node) in walked]
    assert len(got) == len(expected)
    assert all(a == b and x is y for (a, x), (b, y) in zip(got, expected))
    calls = [node for kind, node in got if kind == "leave" and isinstance(node, cst.Call)]
    assert len(calls) == 6
    visited = {id(node) for _, node in got}
    assert all(id(call.func) not in visited for call in calls)
