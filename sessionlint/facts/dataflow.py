"""Which locals a function's values flow between, and which leave it (`FunctionFacts.flows`,
`FunctionFacts.leaving`).

An over-approximation from names alone: a value computed from an expression that names a
local is taken to be derived from that local (`rows = db.scalars(q)`, `first = rows[0]`,
`out = [r.id for r in rows]`). It answers "may anything computed from the session still be
used after the function returns?", which decides whether closing the session in the
function keeps behaviour (SL002's fix): when unsure, the answer is yes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect_nodes import walk

_KEEPING_METHODS = vocab.CONTAINER_STORE_METHODS | vocab.EXIT_STACK_METHODS
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
# The node types `dataflow` looks at (`ast` classes are never subclassed).
_FLOWING = frozenset(
    {ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.With}
    | {ast.AsyncWith, ast.Return, ast.YieldFrom, ast.Yield, ast.Call, *_NESTED}
)


Leave = tuple[str, int, bool]  # a local, the line where its value leaves, whether by a bare `yield name`


def dataflow(
    nodes: Iterable[ast.AST], local_names: set[str], params: set[str]
) -> tuple[dict[str, frozenset[str]], frozenset[Leave]]:
    """`nodes`: a function's own nodes (nested scopes not entered); `params`: its parameters
    (objects it was given: what is stored on them outlives the call)."""
    owned = local_names - params
    flows: dict[str, set[str]] = {}
    leaving: set[Leave] = set()
    line = 0

    def leave(sources: set[str], bare: bool = False) -> None:
        leaving.update((name, line, bare) for name in sources)

    def names(node: ast.AST | None) -> set[str]:
        if node is None:
            return set()
        return {n.id for n in walk(node) if isinstance(n, ast.Name) and n.id in local_names}

    def store(target: ast.AST, sources: set[str]) -> None:
        if not sources:
            return
        if isinstance(target, (ast.Name, ast.Starred, ast.Tuple, ast.List)):
            for name in names(target):
                flows.setdefault(name, set()).update(sources)
            return
        root = _root_name(target)
        if root is not None and root in owned:
            flows.setdefault(root, set()).update(sources)  # `out[k] = row`: into a local
        else:
            leave(sources)  # `self.row = row`, `CACHE[k] = row`

    for node in nodes:
        if node.__class__ not in _FLOWING:
            continue
        line = node.lineno  # where a value leaves: the statement or expression it leaves by
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                store(target, names(node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            store(node.target, names(node.iter))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    store(item.optional_vars, names(item.context_expr))
        elif isinstance(node, (ast.Return, ast.YieldFrom)):
            leave(names(node.value))
        elif isinstance(node, ast.Yield):
            leave(names(node.value), bare=isinstance(node.value, ast.Name))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if node.func.attr in _KEEPING_METHODS:
                store(node.func.value, set().union(*map(names, arguments)))
            receiver = _root_name(node.func.value)
            if receiver in local_names:
                # `db.add(user)`, `db.refresh(user)`: the object is now the session's.
                for argument in arguments:
                    if isinstance(argument, ast.Name) and argument.id in local_names:
                        flows.setdefault(argument.id, set()).add(receiver)
        elif isinstance(node, _NESTED):
            leave(names(node))  # a closure may run after the function returned
    return {name: frozenset(sources) for name, sources in flows.items()}, frozenset(leaving)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
