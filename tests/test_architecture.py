"""The package's import graph has no cycle: each module can be read after the ones it imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import sessionlint

PACKAGE = Path(sessionlint.__file__).parent


def module_files() -> dict[str, Path]:
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def imported(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The package's modules `path` imports at run time: at the top or inside a function
    (an import deferred for speed is still a dependency), but not under `TYPE_CHECKING`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from (name if name in modules else _owner(node.module, modules) for name in names)
        elif isinstance(node, ast.Import):
            yield from (_owner(alias.name, modules) for alias in node.names)


def _owner(name: str, modules: dict[str, Path]) -> str:
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports. The package's `__init__` is left out: every module
    imports it implicitly, and its one import (`check_source`, on first use) is the facade
    over the rest."""
    modules = module_files()
    return {
        name: {target for target in imported(path, modules) if target in modules} - {name, "sessionlint"}
        for name, path in modules.items()
        if name != "sessionlint"
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules in import order, the first one repeated), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(sorted(graph[start])))] if start not in done else []
        if stack:
            path, on_path = [start], {start}
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                done.add(path.pop())
                on_path.discard(node)
            elif target in on_path:
                return [*path[path.index(target) :], target]
            elif target not in done:
                stack.append((target, iter(sorted(graph.get(target, ())))))
                path.append(target)
                on_path.add(target)
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "sessionlint.engine" in graph and "sessionlint.workspace" in graph  # the walk finds them
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
