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
    """Module -> the modules it imports, with the packages above them (importing
    `sessionlint.rules.walk` runs `sessionlint/rules/__init__.py` first, unless the importer
    is inside `sessionlint.rules` itself). The top package's
    `__init__` is left out: every module imports it implicitly, and its one import
    (`check_source`, on first use) is the facade over the rest."""
    modules = module_files()
    return {
        name: {package for target in imported(path, modules) for package in _with_parents(target)}
        - {name, *_with_parents(name)}
        for name, path in modules.items()
        if name != "sessionlint"
    }


def _with_parents(module: str) -> list[str]:
    """The module and the packages it is in, the top package left out. A module's own
    packages are set up before it runs: importing from them is no dependency on their
    `__init__`."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(2, len(parts) + 1)]


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
    assert "sessionlint.facts.engine" in graph and "sessionlint.workspace" in graph  # the walk finds them
    # Importing a module of another package runs that package's `__init__` too.
    assert {"sessionlint.rules._base", "sessionlint.rules"} <= graph["sessionlint.rulepass.lint"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
