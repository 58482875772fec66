"""One module's part in the whole-project indexes: what an edit of it can change in them.

An edit that other files could see only through the whole-project indexes (a new import,
function or module-level call under names no other file spells: `quickedit.visible_edit`)
leaves every other module's part of each index as it was. Those modules spell none of the
names it changed, so each name they spell resolves as before, and what an index asks of
their functions (a dependency? an endpoint? a startup hook? what does it call?) is
answered from their own facts, those names and the indexes it is built on. The same holds
for the edited module's functions whose facts did not change: none of them refers to a
changed name either. Each index is then those unchanged parts together with the part of
the edited module's changed functions and module-level code: when that part is the same
before and after the edit, and so are the indexes it is computed from, so is the index.

`same_indexes` compares those parts index by index, in the order the indexes are built on
each other (the callers and dependencies; lifespans and scripts; one-shot code; code that
runs once; who disposes and removes what, who uses registries, shutdown hooks), so that a
part is computed over indexes already shown equal: the edited project is handed the old
indexes, kept only when every part is equal. A part may say more than its index needs (a
lifecycle call's object with whether it runs on the event loop): equal parts still mean
equal indexes, and a different one only that the indexes must be built and compared.

What the parts leave out, and why it cannot matter:

- a changed function no index root reaches (no endpoint, dependency or middleware) adds
  nothing to `registry_users`: nothing calls it (its name is spelled nowhere else), so the
  requests' call graph reaches it only as a root;
- a changed function neither a root of, nor excluded from, one-shot or run-once code, and
  calling no project function, is in no edge of the call graph: those indexes never see it.

A `<x>.state.<name> = value` assignment in a changed function (or a class with a changed
method) is read by other modules' lifecycle calls: no part covers it, so `same_indexes`
answers False.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sessionlint.facts.facts import ModuleFacts
from sessionlint.project import contexts, lifecycle
from sessionlint.project.callers import certain, uncertain
from sessionlint.project.index import ProjectFacts
from sessionlint.project.resolution import Function

__all__ = ["PARTS", "changed_functions", "parts", "same_indexes"]

Part = Callable[[ProjectFacts, ModuleFacts, Collection[str]], object]


def changed_functions(old: ModuleFacts, new: ModuleFacts) -> set[str]:
    """The qualnames of the functions added, removed or changed in any way."""
    return {
        qualname
        for qualname in old.functions.keys() | new.functions.keys()
        if old.functions.get(qualname) != new.functions.get(qualname)
    }


def same_indexes(
    old_project: ProjectFacts, old: ModuleFacts, new_project: ProjectFacts, new: ModuleFacts
) -> bool:
    """Every whole-project index of `new_project` (the project with `new` in place of `old`,
    handed `old_project`'s indexes) is what building it would give: the module's parts
    are equal, in the order the indexes are built on each other."""
    changed = changed_functions(old, new)
    tops = {qualname.split(".")[0].split("#")[0] for qualname in changed}
    if any(slot.scope.split(".")[0].split("#")[0] in tops for slot in (*old.state_slots, *new.state_slots)):
        return False
    return all(part(old_project, old, changed) == part(new_project, new, changed) for part in PARTS.values())


def parts(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> dict[str, object]:
    """Every part, by index name (for tests)."""
    return {name: part(project, module, changed) for name, part in PARTS.items()}


def _functions(module: ModuleFacts, changed: Collection[str]) -> list[Function]:
    return [Function(module, module.functions[name]) for name in sorted(changed) if name in module.functions]


def _scripts(project: ProjectFacts) -> set[str]:
    return {key for key, _ in project.script_modules}


def _called(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return project.called_in(module, certain)


def _uncertain(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return project.called_in(module, uncertain)


def _dependency(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return project.dependency_targets_in(module)


def _lifespan(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return project.lifespan_targets_in(module)


def _script(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return contexts.imported_scripts(project, module, contexts.script_candidates(project))


def _one_shot(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    """The call graph's edges from the changed functions and module-level code, and the
    changed functions' roles in one-shot code."""
    scripts = _scripts(project)
    functions = [name for name in changed if name in module.functions]
    edges = frozenset(contexts.call_edges(project, module, scripts, functions))
    roles = {
        function.facts.qualname: contexts.one_shot_role(project, function, scripts)
        for function in _functions(module, changed)
    }
    return edges, _roles(roles)


def _once(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    roles = {
        function.facts.qualname: contexts.once_role(project, function)
        for function in _functions(module, changed)
    }
    return _roles(roles)


def _roles(roles: dict[str, tuple[bool, bool]]) -> dict[str, tuple[bool, bool]]:
    """A function with no role is no node of the graph that matters (see the docstring)."""
    return {name: role for name, role in roles.items() if any(role)}


def _lifecycle(method: str) -> Part:
    def part(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
        # Every call of the module: an unchanged method's `self.engine` reads its class's others.
        return frozenset(
            (ref, call.is_async) for ref, call in lifecycle.application_calls_in(project, module, method)
        )

    return part


def _registry_users(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    """What the changed functions that handle requests themselves call and use."""
    roots = lifecycle.request_roots(
        project, module, [name for name in sorted(changed) if name in module.functions]
    )
    return {
        function.facts.qualname: (
            frozenset(ref for ref, _ in lifecycle.request_callees(project, function)),
            lifecycle.registries_used(project, function, True),
        )
        for function in roots
    }


def _shutdown(project: ProjectFacts, module: ModuleFacts, changed: Collection[str]) -> object:
    return set(
        lifecycle.shutdown_handlers(project, module, [name for name in changed if name in module.functions])
    )


# By index name, in the order the indexes are built on each other.
PARTS: dict[str, Part] = {
    "called": _called,
    "uncertain": _uncertain,
    "dependency": _dependency,
    "lifespan": _lifespan,
    "script": _script,
    "one_shot": _one_shot,
    "once": _once,
    "disposed": _lifecycle(lifecycle.DISPOSE),
    "removed": _lifecycle(lifecycle.REMOVE),
    "registry_users": _registry_users,
    "shutdown": _shutdown,
}
