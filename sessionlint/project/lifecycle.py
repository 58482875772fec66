"""Who disposes which engine and removes which `scoped_session` registry (SL011, SL012).

The fact pass records every `x.dispose(...)` and zero-argument `x.remove()` call, and every
un-called `x.dispose` / `x.remove` handed on as a callback (`add_event_handler("shutdown",
engine.dispose)`), with its receiver as a symbolic value, the function it stands in and
whether that function is `async def` (it then runs on the event loop's thread). It also
records every `<x>.state.<name> = value` (`app.state.engine = engine`): a receiver
`request.app.state.engine` is whatever all of those assign.

The project then resolves each receiver to the module- or class-level object it denotes
(an `ObjectRef`: module key and binding name, `Class.attr` for class attributes): through
globals and aliases between modules, `app.state.<name>`, `self.<name>` assigned in the
class's `__init__`, and getters returning the global. A receiver it cannot resolve could
be any engine or registry: it is recorded as `UNKNOWN`, and the rules then conclude
nothing. Only calls of application code count: not tests or pytest fixtures, not scripts,
CLI commands or a script's `__main__` block, not migrations (`contexts`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import LifecycleCall, StateSlot
from sessionlint.facts.values import Attr, Awaited, CallOf, Kind, Local, Ref, Text, Value
from sessionlint.project.resolution import Binding, Function

if TYPE_CHECKING:
    from sessionlint.facts.facts import FunctionFacts, ModuleFacts
    from sessionlint.project.index import FunctionRef, ProjectFacts

DISPOSE = "dispose"
REMOVE = "remove"
ObjectRef = tuple[str, str]  # (module key, binding name): see `ModuleFacts.key`
# A call whose receiver could be any engine or registry.
UNKNOWN: ObjectRef = ("*", "*")
# Suffixes of an object's entries in the indexes (see `removed_objects`, `registry_users`).
ON_LOOP = "@loop"  # removed from `async def` code: on the event loop's thread
OTHER_USE = "@other"  # used by request code that is not a sync endpoint or dependency itself
ASYNC_USE = "@async"  # used by `async def` request code
# An object made in a function and bound to no global (`engine = create_async_engine()` in a
# lifespan, `app.state.engine = ...`): one object per function that makes one.
MADE = ".<made>"
LIFESPANS = "#lifespans"
_REGISTRIES = frozenset({Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY})
_WANTED = {DISPOSE: frozenset({Kind.ENGINE}), REMOVE: _REGISTRIES}
_MAX_DEPTH = 12
_NOT_IT = ("", "")  # a receiver known to be something else (a session, a list, ...)


def lifecycle_calls(
    nodes: Iterable[ast.AST],
    resolve: Callable[[str], Value | None],
    value_of: Callable[[ast.expr, Callable[[str], Value | None]], Value | None],
    *,
    scope: str,
    is_async: bool,
    main_nodes: frozenset[int],
) -> Iterator[LifecycleCall]:
    """The lifecycle calls among a scope's own nodes."""
    nodes = list(nodes)
    called = {id(node.func) for node in nodes if isinstance(node, ast.Call)}
    for node in nodes:
        if isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Attribute) or func.attr not in (DISPOSE, REMOVE):
                continue
            if func.attr == REMOVE and (node.args or node.keywords):
                continue  # `items.remove(x)`: a registry's `remove()` takes nothing
        elif isinstance(node, ast.Attribute) and node.attr in (DISPOSE, REMOVE) and id(node) not in called:
            func = node
        else:
            continue
        if isinstance(func.ctx, ast.Load):
            receiver = value_of(func.value, resolve)
            yield LifecycleCall(func.attr, receiver, scope, node.lineno, is_async, id(node) in main_nodes)


def state_slots(
    nodes: Iterable[ast.AST],
    resolve: Callable[[str], Value | None],
    value_of: Callable[[ast.expr, Callable[[str], Value | None]], Value | None],
    *,
    scope: str,
) -> Iterator[StateSlot]:
    """`<x>.state.<name> = value` assignments among a scope's own nodes."""
    for node in nodes:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Attribute)
                and target.value.attr == "state"
            ):
                yield StateSlot(target.attr, value_of(value, resolve), scope)


# -- the project's view ------------------------------------------------------------------


def is_application_call(project: ProjectFacts, module: ModuleFacts, scope: str, main_guard: bool) -> bool:
    """Code of the running application: not a test or a pytest fixture, not one-shot code
    (a script, a CLI command, a `__main__` block), not a migration. Unknown contexts count
    as application code: a call there may dispose the object."""
    if module.is_test_file or main_guard or project.is_migration_module(module):
        return False
    if project.is_script_module(module):
        return False
    for function in _enclosing_functions(project, module, scope):
        if project.is_one_shot(function) or project.decorator_names(function) & vocab.PYTEST_FIXTURES:
            return False
    return True


def _enclosing_functions(project: ProjectFacts, module: ModuleFacts, scope: str) -> Iterator[Function]:
    """The function `scope` names and those it is nested in."""
    parts = scope.split(".<locals>.") if scope else []
    for end in range(len(parts), 0, -1):
        function = project.function_in(module, ".<locals>.".join(parts[:end]))
        if function is not None:
            yield function


def disposed_objects(project: ProjectFacts) -> frozenset[FunctionRef]:
    """The objects application code calls `dispose()` on (`UNKNOWN`: perhaps any)."""
    return frozenset(ref for ref, _ in _application_calls(project, DISPOSE))


def removed_objects(project: ProjectFacts) -> frozenset[FunctionRef]:
    """The registries application code calls `remove()` on, each once plain and once with
    `ON_LOOP` appended when a call stands in `async def` code (`UNKNOWN`: perhaps any)."""
    found: set[ObjectRef] = set()
    for (key, name), call in _application_calls(project, REMOVE):
        found.add((key, name + ON_LOOP if call.is_async else name))
    return frozenset(found)


def _application_calls(project: ProjectFacts, method: str) -> Iterator[tuple[ObjectRef, LifecycleCall]]:
    for module in project.modules.values():
        yield from application_calls_in(project, module, method)


def application_calls_in(
    project: ProjectFacts, module: ModuleFacts, method: str
) -> Iterator[tuple[ObjectRef, LifecycleCall]]:
    """One module's calls of `method` in application code, with the object each one ends."""
    for call in module.lifecycle_calls:
        if call.method != method or not is_application_call(project, module, call.scope, call.main_guard):
            continue
        function = _function(module, call.scope)
        ref = Receivers(project, method).object_of(call.receiver, module, function)
        if ref != _NOT_IT:
            yield (ref or UNKNOWN), call


def registry_users(project: ProjectFacts) -> frozenset[FunctionRef]:
    """Registries used by request-handling code (endpoints, dependencies, middleware, and
    the functions they call): each plain; with `OTHER_USE` when a user is not itself a sync
    endpoint or dependency (which FastAPI runs in its thread pool); with `ASYNC_USE` when a
    user is `async def`."""
    found: set[ObjectRef] = set()
    for function, direct in request_functions(project):
        found |= registries_used(project, function, direct)
    return frozenset(found)


def registries_used(project: ProjectFacts, function: Function, direct: bool) -> set[ObjectRef]:
    """What one request-handling function adds to `registry_users`."""
    found: set[ObjectRef] = set()
    facts = function.facts
    for name in facts.referenced | facts.calls:
        if name.endswith("." + REMOVE):
            continue  # removing the session is no use of it
        ref = _registry_named(project, name, function.module)
        if ref is None:
            continue
        key, binding = ref
        found.add(ref)
        if not direct or facts.is_async:
            found.add((key, binding + OTHER_USE))
        if facts.is_async:
            found.add((key, binding + ASYNC_USE))
    return found


def _registry_named(
    project: ProjectFacts, qualname: str, module: ModuleFacts, depth: int = 0
) -> ObjectRef | None:
    """The module- or class-level registry a name (or an attribute of it: `Session.query`) is."""
    target = project.resolve(qualname, module.root)
    if depth > _MAX_DEPTH or not isinstance(target, Binding):
        return None
    owner, name = target.module, target.name
    bound = owner.bindings.get(name)
    if isinstance(bound, Ref):  # `Session = db.Session`
        return _registry_named(project, bound.qualname, owner, depth + 1)
    return (owner.key, name) if project.value_kind(bound, owner) in _REGISTRIES else None


def _function(module: ModuleFacts, scope: str) -> FunctionFacts | None:
    return module.functions.get(scope) if scope else None


def request_functions(project: ProjectFacts) -> Iterator[tuple[Function, bool]]:
    """Request-handling functions, and whether FastAPI calls each one itself (an endpoint,
    a dependency, a middleware) rather than through the functions it calls."""
    roots: dict[FunctionRef, Function] = {
        (module.key, function.facts.qualname): function
        for module in project.modules.values()
        for function in request_roots(project, module, module.functions)
    }
    seen = dict(roots)
    frontier = list(roots.values())
    for _ in range(_MAX_DEPTH):
        following = []
        for function in frontier:
            for ref, callee in request_callees(project, function):
                if ref not in seen:
                    seen[ref] = callee
                    following.append(callee)
        frontier = following
        if not frontier:
            break
    for ref, function in seen.items():
        yield function, ref in roots


def request_roots(project: ProjectFacts, module: ModuleFacts, qualnames: Iterable[str]) -> Iterator[Function]:
    """Those of the module's functions (`qualnames`) FastAPI calls itself."""
    if module.is_test_file:
        return
    for qualname in qualnames:
        function = Function(module, module.functions[qualname])
        handles = project.is_endpoint(function) or project.is_dependency(function)
        if handles or is_middleware(project, function):
            yield function


def request_callees(project: ProjectFacts, function: Function) -> Iterator[tuple[FunctionRef, Function]]:
    """The project functions a request-handling function calls (outside tests)."""
    for qualname in function.facts.calls:
        callee = project.function_of(Ref(qualname), function.module)
        if callee is not None and not callee.module.is_test_file:
            yield (callee.module.key, callee.facts.qualname), callee


def is_middleware(project: ProjectFacts, function: Function) -> bool:
    """`@app.middleware("http")`."""
    return any(
        project.is_route_decorator(decorator, vocab.MIDDLEWARE_DECORATORS, function.module.root)
        for decorator in function.facts.decorators
    )


def shutdown_hooks(project: ProjectFacts) -> frozenset[FunctionRef]:
    """Lifespan functions and `on_event("shutdown")` handlers; when there are any, also
    `UNKNOWN` and `(LIFESPANS, "<how many lifespans>")` (a fix needs exactly one)."""
    lifespans = project.lifespan_targets
    found: set[FunctionRef] = set(lifespans)
    for module in project.modules.values():
        found.update((module.key, name) for name in shutdown_handlers(project, module, module.functions))
    return frozenset(found | {UNKNOWN, (LIFESPANS, str(len(lifespans)))}) if found else frozenset()


def shutdown_handlers(project: ProjectFacts, module: ModuleFacts, qualnames: Iterable[str]) -> Iterator[str]:
    """Those of the module's functions (`qualnames`) that handle `on_event("shutdown")`."""
    for qualname in qualnames:
        if any(
            isinstance(decorator, CallOf)
            and project.is_route_decorator(decorator, vocab.STARTUP_HOOKS, module.root)
            and decorator.args
            and _names_shutdown(decorator.args[0])
            for decorator in module.functions[qualname].decorators
        ):
            yield qualname


def makes_async_engine(project: ProjectFacts, value: Value | None, module: ModuleFacts) -> bool:
    """A call of an async engine maker (`create_async_engine`), or of a project function
    (neither a generator nor a coroutine) each of whose returns is one: a thin wrapper."""
    if not isinstance(value, CallOf):
        return False
    if project.external_name(value.func, module.root) in vocab.ASYNC_ENGINE_MAKERS:
        return True
    maker = project.function_of(value.func, module)
    if maker is None or maker.facts.is_generator or maker.facts.is_async or not maker.facts.returns:
        return False
    return all(
        isinstance(made, CallOf)
        and project.external_name(made.func, maker.module.root) in vocab.ASYNC_ENGINE_MAKERS
        for made in maker.facts.returns
    )


def made_object(module: ModuleFacts, scope: str) -> ObjectRef:
    """The object a function (`scope`; "" for the module's body) makes and binds to no global."""
    return (module.key, scope + MADE)


def _names_shutdown(event: Value | None) -> bool:
    """`"shutdown"`; the fact pass reads a string spelling a module-level name as that name
    (a forward reference), so `"shutdown"` in a module defining `shutdown` is that `Ref`."""
    if isinstance(event, Text):
        return event.prefix == "shutdown"
    return isinstance(event, Ref) and event.qualname.rpartition(".")[2] == "shutdown"


class Receivers:
    """Resolves receivers of one method (`dispose` or `remove`) to the objects they denote."""

    def __init__(self, project: ProjectFacts, method: str) -> None:
        self.project = project
        self.wanted = _WANTED[method]

    def object_of(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None, depth: int = 0
    ) -> ObjectRef | None:
        """The object `value` denotes; `_NOT_IT` when it is known to be no object of the
        wanted kinds (a session's `remove` would be no registry's); None when unknown."""
        if value is None or depth > _MAX_DEPTH:
            return None
        kind = self.project.value_kind(value, module, function)
        if kind is not None and kind not in self.wanted:
            return _NOT_IT
        if isinstance(value, Ref):
            return self._global(value.qualname, module, depth)
        if isinstance(value, Local) and function is not None:
            if function.param(value.name) is not None or value.name in function.declared_globals:
                return None
            return self._agreed(function.locals.get(value.name, ()), module, function, depth)
        if isinstance(value, Attr):
            base = value.base
            if isinstance(base, Attr) and base.name == "state":
                return self._state(value.name, depth)
            if isinstance(base, Local) and function is not None and function.is_method:
                return self._self_attribute(value.name, module, function, depth)
            return None
        call = value.value if isinstance(value, Awaited) else value
        if (
            isinstance(call, CallOf)
            and kind in self.wanted
            and self.project.external_name(call.func, module.root)
        ):
            return made_object(module, function.qualname if function is not None else "")
        if isinstance(call, CallOf) and not call.args and not call.kwargs:
            getter = self.project.function_of(call.func, module)
            if getter is not None and not getter.facts.is_generator:
                return self._agreed(getter.facts.returns, getter.module, getter.facts, depth)
        return None

    def _agreed(
        self, values: Iterable[Value | None], module: ModuleFacts, function: FunctionFacts | None, depth: int
    ) -> ObjectRef | None:
        found = {self.object_of(value, module, function, depth + 1) for value in values}
        return found.pop() if len(found) == 1 else None

    def _global(self, qualname: str, module: ModuleFacts, depth: int) -> ObjectRef | None:
        target = self.project.resolve(qualname, module.root)
        if not isinstance(target, Binding):
            return None
        owner, name, rest = target.module, target.name, target.rest
        if len(rest) == 2 and rest[0] == "state":
            return self._state(rest[1], depth)
        if rest:
            return None
        bound = owner.bindings.get(name)
        if isinstance(bound, Ref):  # `engine = db.engine`: the same object
            found = self._global(bound.qualname, owner, depth + 1) if bound.qualname != qualname else None
            return found if found is not None else (owner.key, name)
        return (owner.key, name)

    def _state(self, slot: str, depth: int) -> ObjectRef | None:
        found = set()
        for module in self.project.modules.values():
            for assignment in module.state_slots:
                if assignment.name == slot:
                    function = _function(module, assignment.scope)
                    found.add(self.object_of(assignment.value, module, function, depth + 1))
        return found.pop() if len(found) == 1 else None

    def _self_attribute(
        self, attribute: str, module: ModuleFacts, method: FunctionFacts, depth: int
    ) -> ObjectRef | None:
        """`self.engine`: what the class's `__init__` alone assigns to it."""
        owner, _, _ = method.qualname.rpartition(".")
        init = module.functions.get(f"{owner}.__init__")
        if init is None or not init.self_attributes.get(attribute):
            return None
        for qualname, other in module.functions.items():
            if qualname.startswith(f"{owner}.") and other is not init and attribute in other.self_attributes:
                return None
        return self._agreed(init.self_attributes[attribute], module, init, depth)
