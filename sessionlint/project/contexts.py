"""Where code runs, computed once per project: one-shot code, code that runs once per
process, migrations.

A pool that lives for one short process does not go stale (SL005) and cannot be rebuilt
per request (SL003); a script's failure is seen at once, not under load. The rules ask
these through `ProjectFacts` (`is_one_shot`, `runs_once`, `is_script_module`,
`is_migration_module`) and `FileSemantics` (`in_one_shot_code`, `in_test_code`,
`in_migration`); each rule's page says in which contexts it applies.

Every answer here suppresses findings: a function whose callers are not all known (a
method called through `self`, a callback passed as a value) is simply not in a context.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator
from pathlib import PurePath
from typing import TYPE_CHECKING

from sessionlint.facts.values import Ref

if TYPE_CHECKING:
    from sessionlint.facts.facts import ModuleFacts
    from sessionlint.project.index import Function, FunctionRef, ProjectFacts

_SCRIPT_FOLDERS = frozenset({"scripts"})
_COMMAND_LINE_PACKAGES = ("click.", "typer.")
_ALEMBIC_CONTEXT = "alembic.context"
# Calls are followed this many steps from the roots (`main` -> `seed` -> `load_rows`).
_MAX_ROUNDS = 16


def is_migration_module(module: ModuleFacts) -> bool:
    """Alembic's `env.py` and migration scripts: by their place, or by importing
    `alembic.context` wherever they live."""
    if module.is_migration_file:
        return True
    names = (*module.import_targets(), *module.calls)
    return any(name == _ALEMBIC_CONTEXT or name.startswith(_ALEMBIC_CONTEXT + ".") for name in names)


def in_script_folder(module: ModuleFacts) -> bool:
    return _in_script_folder(module.path)


@functools.lru_cache(maxsize=4096)
def _in_script_folder(path: str) -> bool:
    # Asked for every call SL003 meets: an editor's re-check of a large module asked it hundreds of times.
    return any(part in _SCRIPT_FOLDERS for part in PurePath(path).parts[:-1])


def is_command(project: ProjectFacts, function: Function) -> bool:
    """A `click` / `typer` command: a CLI entry point."""
    return any(name.startswith(_COMMAND_LINE_PACKAGES) for name in project.decorator_names(function))


def script_modules(project: ProjectFacts) -> frozenset[FunctionRef]:
    """Modules under a `scripts/` folder that no application module imports (as
    `(module, "")`): run as scripts, never part of the service."""
    candidates = script_candidates(project)
    if not candidates:
        return frozenset()
    imported: set[str] = set()
    for module in project.modules.values():
        imported |= imported_scripts(project, module, candidates)
    return frozenset((name, "") for name in candidates - imported)


def script_candidates(project: ProjectFacts) -> set[str]:
    """The keys of the modules under a `scripts/` folder."""
    return {module.key for module in project.modules.values() if in_script_folder(module)}


def imported_scripts(project: ProjectFacts, module: ModuleFacts, candidates: set[str]) -> set[str]:
    """The candidates one application module imports (an edit's `footprint` compares them)."""
    imported: set[str] = set()
    if module.key in candidates or module.is_test_file:
        return imported
    for target in module.import_targets():
        parts = target.split(".")
        for length in range(1, len(parts) + 1):
            found = project.module_named(".".join(parts[:length]), module.root)
            if found is not None and found.key in candidates:
                imported.add(found.key)
    return imported


# Callers that are not functions: a module's body, a script's `if __name__ == "__main__":`
# block, the body of a module under `scripts/`.
_MODULE_BODY: FunctionRef = ("", "<module>")
_MAIN_BLOCK: FunctionRef = ("", "<main>")
_SCRIPT_BODY: FunctionRef = ("", "<script>")


class _CallGraph:
    """Who calls each project function: other functions, or a module's body."""

    def __init__(self, project: ProjectFacts) -> None:
        self.project = project
        self.scripts = {module for module, _ in project.script_modules}
        self.callers: dict[FunctionRef, set[FunctionRef]] = {}
        self.functions: dict[FunctionRef, Function] = {}
        for module in project.modules.values():
            for qualname in module.functions:
                self.functions[(module.key, qualname)] = project.function_in(module, qualname)  # type: ignore[assignment]
            for callee, caller in call_edges(project, module, self.scripts, module.functions):
                self.callers.setdefault(callee, set()).add(caller)

    def closure(self, roots: set[FunctionRef], excluded: set[FunctionRef]) -> frozenset[FunctionRef]:
        """The roots, and every function all of whose known callers are in the set."""
        found = set(roots) - excluded
        for _ in range(_MAX_ROUNDS):
            added = {
                ref
                for ref, callers in self.callers.items()
                if ref not in found and ref not in excluded and callers <= found
            }
            if not added:
                break
            found |= added
        return frozenset(ref for ref in found if ref[0])


def call_edges(
    project: ProjectFacts, module: ModuleFacts, scripts: Collection[str], functions: Iterable[str]
) -> Iterator[tuple[FunctionRef, FunctionRef]]:
    """The call graph's edges (callee, caller) one module adds: from these of its functions,
    its `__main__` block and its body (an edit's `footprint` compares them)."""
    for qualname in functions:
        yield from _edges(project, module.functions[qualname].calls, (module.key, qualname), module)
    yield from _edges(project, module.main_calls, _MAIN_BLOCK, module)
    body = _SCRIPT_BODY if module.key in scripts else _MODULE_BODY
    yield from _edges(project, module.toplevel_calls - module.main_calls, body, module)


def _edges(
    project: ProjectFacts, qualnames: Iterable[str], caller: FunctionRef, module: ModuleFacts
) -> Iterator[tuple[FunctionRef, FunctionRef]]:
    for qualname in qualnames:
        target = project.function_of(Ref(qualname), module)
        if target is not None:
            yield (target.module.key, target.facts.qualname), caller


def _call_graph(project: ProjectFacts) -> _CallGraph:
    """The project's call graph, built once for both indexes below."""
    graph = project.index_parts.get("call graph")
    if not isinstance(graph, _CallGraph):
        graph = project.index_parts["call graph"] = _CallGraph(project)
    return graph


def one_shot_functions(project: ProjectFacts) -> frozenset[FunctionRef]:
    """Functions of one-shot code: CLI commands, every function of a script module, and
    the functions only a script's `if __name__ == "__main__":` block, a script module's
    body or those reach. Request-serving code (dependencies, endpoints, lifespans) never."""
    graph = _call_graph(project)
    roots = {_MAIN_BLOCK, _SCRIPT_BODY}
    excluded = set()
    for ref, function in graph.functions.items():
        root, exclude = one_shot_role(project, function, graph.scripts)
        if root:
            roots.add(ref)
        if exclude:
            excluded.add(ref)
    return graph.closure(roots, excluded)


def one_shot_role(project: ProjectFacts, function: Function, scripts: Collection[str]) -> tuple[bool, bool]:
    """Whether a function is a root of one-shot code, and whether it is excluded from it."""
    root = function.module.key in scripts or is_command(project, function)
    excluded = (
        project.is_dependency(function) or project.is_endpoint(function) or project.is_startup_hook(function)
    )
    return root, excluded


def once_functions(project: ProjectFacts) -> frozenset[FunctionRef]:
    """Functions that run once per process (what they build is built once): lifespan and
    startup hooks, app factories, `main`, CLI entry points, one-shot code, and the
    functions only module bodies and those call. Dependencies and endpoints never."""
    graph = _call_graph(project)
    roots = {_MAIN_BLOCK, _SCRIPT_BODY, _MODULE_BODY, *project.one_shot_functions}
    excluded = set()
    for ref, function in graph.functions.items():
        root, exclude = once_role(project, function)
        if root:
            roots.add(ref)
        if exclude:
            excluded.add(ref)
    return graph.closure(roots, excluded)


def once_role(project: ProjectFacts, function: Function) -> tuple[bool, bool]:
    """Whether a function is a root of code that runs once, and whether it is excluded."""
    root = (
        function.facts.name == "main"
        or is_command(project, function)
        or project.is_startup_hook(function)
        or project.is_app_factory(function)
    )
    return root, project.is_dependency(function) or project.is_endpoint(function)
