"""The project index's questions about FastAPI dependencies: which function `Depends(...)`
calls to fill a parameter, which functions are dependencies, and which inject a
request-scoped session.

A mixin of `ProjectFacts` (see `project`): it asks the other questions of the same object.
"""

from __future__ import annotations

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import ModuleFacts, ParamFacts
from sessionlint.facts.values import Attr, CallOf, Kind, Local, Ref, SubscriptOf, Value
from sessionlint.project import contexts
from sessionlint.project.resolution import Binding, External, Function, FunctionRef

_MAX_DEPTH = 24


class DependencyQuestions:
    """`Depends` targets and session dependencies."""

    # -- dependencies -------------------------------------------------------------------------

    def dependency_of(self, param: ParamFacts, module: ModuleFacts) -> Function | None:
        """The project function FastAPI calls to fill this parameter, if any."""
        for value in (param.default, param.annotation):
            found = self._dependency_in(value, module, 0)
            if found is not None:
                return found
        return None

    def _dependency_in(self, value: Value | None, module: ModuleFacts, depth: int) -> Function | None:
        if value is None or depth > _MAX_DEPTH:
            return None
        if isinstance(value, CallOf) and self.is_depends_call(value, module.root):
            return self.function_of(self.depends_target(value), module)
        if isinstance(value, SubscriptOf) and isinstance(value.base, Ref):
            base = self.resolve(value.base.qualname, module.root)
            if isinstance(base, External) and base.qualname in vocab.ANNOTATED:
                for item in value.items[1:]:
                    found = self._dependency_in(item, module, depth + 1)
                    if found is not None:
                        return found
            return None
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, module.root)
            if isinstance(target, Binding) and not target.rest:
                return self._dependency_in(target.module.bindings[target.name], target.module, depth + 1)
        return None

    def is_depends_call(self, call: CallOf, root: str = "") -> bool:
        if not isinstance(call.func, Ref):
            return False
        target = self.resolve(call.func.qualname, root)
        return isinstance(target, External) and target.qualname in vocab.DEPENDS

    @staticmethod
    def depends_target(call: CallOf) -> Value | None:
        return call.args[0] if call.args else call.keyword("dependency")

    def _collect_dependency_targets(self) -> frozenset[FunctionRef]:
        targets: set[FunctionRef] = set()
        for module in self.modules.values():
            targets |= self.dependency_targets_in(module)
        return frozenset(targets)

    def dependency_targets_in(self, module: ModuleFacts) -> set[FunctionRef]:
        """The functions one module's `Depends` calls name (an edit's `footprint` compares them)."""
        targets = set()
        for call in module.dependency_calls:
            if isinstance(call, CallOf) and self.is_depends_call(call, module.root):
                function = self.function_of(self.depends_target(call), module)
                if function is not None:
                    targets.add((function.module.key, function.facts.qualname))
        return targets

    def request_session_kind(self, param: ParamFacts, module: ModuleFacts, depth: int = 0) -> Kind | None:
        """The kind of request-scoped session FastAPI fills this parameter with, if any.

        Filled through `Depends` by a session dependency (one that creates the session it
        injects), or by a dependency that passes on such a session from its own parameter.
        A factory, an engine or a module-level session is not request-scoped.
        """
        dependency = self.dependency_of(param, module)
        if dependency is None or depth > _MAX_DEPTH:
            return None
        kind = self.provided_kind(dependency)
        if kind is None or not kind.is_session:
            return None
        if self.is_session_dependency(dependency):
            return kind
        facts = dependency.facts
        values = facts.yields if facts.is_generator else facts.returns
        for value in values:
            if self._is_request_state(value, dependency):
                continue  # `request.state.db`: opened and closed around the request
            forwarded = facts.param(value.name) if isinstance(value, Local) else None
            if (
                forwarded is None
                or value.name in facts.locals
                or self.request_session_kind(forwarded, dependency.module, depth + 1) != kind
            ):
                return None
        return kind if values else None

    def _is_request_state(self, value: Value | None, function: Function) -> bool:
        """`request.state.<name>` of the function's own `Request` parameter (never rebound):
        state a middleware sets for the one request."""
        if not (isinstance(value, Attr) and isinstance(value.base, Attr) and value.base.name == "state"):
            return False
        request = value.base.base
        facts = function.facts
        if not isinstance(request, Local) or request.name in facts.locals:
            return False
        param = facts.param(request.name)
        return param is not None and self.external_name(param.annotation) in vocab.REQUESTS

    def is_dependency(self, function: Function) -> bool:
        """Used through `Depends` / `Security` somewhere in the tree."""
        return self._member("dependency", function, self.dependency_targets)

    def is_session_dependency(self, function: Function) -> bool:
        """A function that creates a session and that FastAPI calls as a dependency."""
        if self.creates_session(function) is None:
            return False
        if self.is_dependency(function):
            return True
        # By name only for module-level functions: calls of a method (`self.get_db()`) or of a
        # nested function are not tracked, so "nothing calls it directly" cannot be known.
        # Never in a migration: Alembic runs it, FastAPI never does.
        facts = function.facts
        return (
            facts.qualname == facts.name
            and facts.name in self.dependency_names
            and not self.is_called_directly(function)
            and not contexts.is_migration_module(function.module)
        )
