"""The project index's questions about a function's role and where code runs: endpoints,
route decorators, startup hooks and lifespans, app factories, scripts and one-shot code
(see `contexts`), decorators.

A mixin of `ProjectFacts` (see `project`): it asks the other questions of the same object.
"""

from __future__ import annotations

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import FunctionFacts, ModuleFacts
from sessionlint.facts.values import CallOf, Kind, Ref, Value
from sessionlint.project import contexts
from sessionlint.project.resolution import External, Function, FunctionRef

# Stands for a module's body where a question about a function is asked of a module.
_MODULE_BODY = FunctionFacts("", "", 0, False, False, False, (), (), (), ())


class RoleQuestions:
    """What a function is for (endpoint, startup hook, ...) and where code runs."""

    # -- endpoints and startup hooks ----------------------------------------------------------

    def is_endpoint(self, function: Function) -> bool:
        return any(
            self._is_route_decorator(d, {Kind.APP, Kind.ROUTER}, vocab.ROUTE_METHODS, function.module.root)
            for d in function.facts.decorators
        )

    def is_route_decorator(
        self, decorator: Value | None, methods: frozenset[str] = vocab.ROUTE_METHODS, root: str = ""
    ) -> bool:
        """`@app.get(...)`, `@router.post(...)`: a FastAPI route decorator of one of `methods`."""
        return self._is_route_decorator(decorator, {Kind.APP, Kind.ROUTER}, methods, root)

    def is_startup_hook(self, function: Function) -> bool:
        """A lifespan function or an `on_event` handler: runs once per process."""
        if any(
            self._is_route_decorator(d, {Kind.APP, Kind.ROUTER}, vocab.STARTUP_HOOKS, function.module.root)
            for d in function.facts.decorators
        ):
            return True
        return self._member("lifespan", function, self.lifespan_targets)

    @property
    def lifespan_targets(self) -> frozenset[FunctionRef]:
        """Functions passed as `lifespan=` to a FastAPI app or router anywhere in the tree."""
        return self._index("lifespan", self._collect_lifespan_targets)

    def _collect_lifespan_targets(self) -> frozenset[FunctionRef]:
        targets: set[FunctionRef] = set()
        for module in self.modules.values():
            targets |= self.lifespan_targets_in(module)
        return frozenset(targets)

    def lifespan_targets_in(self, module: ModuleFacts) -> set[FunctionRef]:
        """The lifespans one module's apps are given (an edit's `footprint` compares them)."""
        targets = set()
        for call in module.lifespan_refs:
            if isinstance(call, CallOf) and self.value_kind(call, module) in (Kind.APP, Kind.ROUTER):
                lifespan = self.function_of(call.keyword("lifespan"), module)
                if lifespan is not None:
                    targets.add((lifespan.module.key, lifespan.facts.qualname))
        return targets

    # -- where code runs (`contexts`) ---------------------------------------------------------

    @property
    def script_modules(self) -> frozenset[FunctionRef]:
        return self._index("script", lambda: contexts.script_modules(self))

    @property
    def one_shot_functions(self) -> frozenset[FunctionRef]:
        return self._index("one_shot", lambda: contexts.one_shot_functions(self))

    @property
    def once_functions(self) -> frozenset[FunctionRef]:
        return self._index("once", lambda: contexts.once_functions(self))

    def build_context_indexes(self) -> None:
        """Build the indexes of where code runs now: before forking workers that would
        each build their own (a run over one file builds them only if a rule asks)."""
        _ = self.script_modules, self.one_shot_functions, self.once_functions

    def is_script_module(self, module: ModuleFacts) -> bool:
        """Under a `scripts/` folder, and imported by no application module."""
        if not contexts.in_script_folder(module):
            return False
        return self._member("script", Function(module, _MODULE_BODY), self.script_modules)

    def is_one_shot(self, function: Function) -> bool:
        """Runs in a short process: a CLI command, a script, what only they call."""
        return self._member("one_shot", function, self.one_shot_functions)

    def runs_once(self, function: Function) -> bool:
        """Runs once per process: lifespan, app factory, `main`, CLI, what only they call."""
        return self._member("once", function, self.once_functions)

    @staticmethod
    def is_migration_module(module: ModuleFacts) -> bool:
        return contexts.is_migration_module(module)

    def is_app_factory(self, function: Function) -> bool:
        """A function that builds the FastAPI app (runs once per process)."""
        for qualname in function.facts.calls:
            target = self.resolve(qualname, function.module.root)
            if isinstance(target, External) and target.qualname in vocab.FASTAPI_APPS:
                return True
        return False

    # -- decorators ---------------------------------------------------------------------------

    def decorator_names(self, function: Function) -> frozenset[str]:
        """Qualified names of the function's decorators (`functools.cache`, `pytest.fixture`)."""
        return frozenset(self._decorator_names(function))

    def _decorator_names(self, function: Function) -> set[str]:
        names = set()
        for decorator in function.facts.decorators:
            if isinstance(decorator, CallOf):
                decorator = decorator.func
            if isinstance(decorator, Ref):
                target = self.resolve(decorator.qualname, function.module.root)
                if isinstance(target, External):
                    names.add(target.qualname)
        return names

    def _is_route_decorator(
        self, decorator: Value | None, owners: set[Kind], methods: frozenset[str], root: str
    ) -> bool:
        if not isinstance(decorator, CallOf):
            return False
        func = decorator.func
        if isinstance(func, Ref):
            owner_name, _, method = func.qualname.rpartition(".")
            return method in methods and self._global_kind(owner_name, root) in owners
        return False

    def is_context_manager(self, function: Function) -> bool:
        return any(self._decorator_names(function) & vocab.CONTEXT_MANAGER_DECORATORS)
