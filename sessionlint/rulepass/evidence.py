"""Evidence: the facts a finding stands on, as places with a short message.

The rules decide with `ProjectFacts`; this module says *why* in the same terms, following
the same chains through the facts (a parameter's `Depends`, an `Annotated` alias, the
dependency's yielded value, the factory it calls, the engine that factory is bound to)
and answering each step with where the fact pass saw it (`ModuleFacts.binding_spans`,
`FunctionFacts.span`, `ModuleFacts.dependency_spans`). Nothing is re-derived by spelling:
every step is a resolution of the project index, so the modules it reads are recorded as
the finding's lookups and a cached finding is checked again when one of them changes.

Rules ask through `FileSemantics.evidence` and pass the result as `report(..., related=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionlint.facts.facts import NO_SPAN, FunctionFacts, ModuleFacts, ParamFacts, Span
from sessionlint.facts.values import (
    Attr,
    Awaited,
    CallOf,
    ItemOf,
    Kind,
    Local,
    NoneValue,
    Ref,
    SubscriptOf,
    Text,
    UnionOf,
    Value,
)
from sessionlint.project.index import ProjectFacts
from sessionlint.project.resolution import Binding, External, Function
from sessionlint.report.diagnostics import Location, Related

# A chain is a handful of steps; a longer one is cut (the first steps explain the most).
_MAX_DEPTH = 12
_MAX_FACTS = 8
_DESCRIBE_LIMIT = 60


def describe(value: Value | None) -> str:
    """A value as a reader would write it: `sessionmaker(bind=engine)`, `Annotated[Session,
    Depends(get_db)]` (global names by their last part); long ones summarised."""
    text = _describe(value)
    if len(text) <= _DESCRIBE_LIMIT:
        return text
    if isinstance(value, CallOf):
        return f"{_describe(value.func)}(...)"
    if isinstance(value, SubscriptOf):
        return f"{_describe(value.base)}[...]"
    return text[: _DESCRIBE_LIMIT - 3] + "..."


def _describe(value: Value | None) -> str:
    if isinstance(value, Ref):
        return value.qualname.rpartition(".")[2]
    if isinstance(value, Local):
        return value.name
    if isinstance(value, Attr):
        return f"{_describe(value.base)}.{value.name}"
    if isinstance(value, CallOf):
        parts = [_describe(arg) for arg in value.args]
        parts += [f"{name}={_describe(arg)}" for name, arg in value.kwargs]
        parts += ["**..."] if value.has_star_kwargs else []
        return f"{_describe(value.func)}({', '.join(parts)})"
    if isinstance(value, Awaited):
        return f"await {_describe(value.value)}"
    if isinstance(value, SubscriptOf):
        return f"{_describe(value.base)}[{', '.join(_describe(item) for item in value.items)}]"
    if isinstance(value, UnionOf):
        return " | ".join(_describe(option) for option in value.options)
    if isinstance(value, Text):
        return repr(value.prefix)
    if isinstance(value, NoneValue):
        return "None"
    if isinstance(value, ItemOf):
        return f"an item of {_describe(value.value)}"
    return "..."


def _article(kind: Kind) -> str:
    return f"an {kind.value}" if kind.value[0] in "aeiou" else f"a {kind.value}"


class Evidence:
    """Builds one finding's related locations from the project index."""

    def __init__(self, project: ProjectFacts) -> None:
        self.project = project
        # The bindings and functions one question has explained already: each once, and a
        # recursive function or a cycle of aliases is not walked again.
        self._seen: set[tuple[str, str]] = set()

    def _first_visit(self, module: ModuleFacts, name: str) -> bool:
        key = (module.key, name)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    # -- places ---------------------------------------------------------------------------

    def at(self, module: ModuleFacts, span: Span, message: str) -> Related | None:
        """A fact at a span of a module (None where the fact pass recorded no position)."""
        if span == NO_SPAN:
            return None
        line, column, end_line, end_column = span
        return Related(message, module.path, Location(line, column), Location(end_line, end_column))

    def defined(self, function: Function, message: str) -> Related | None:
        """A fact about a function, at its `def`."""
        return self.at(function.module, function.facts.span, message)

    def bound(self, module: ModuleFacts, name: str, message: str) -> Related | None:
        """A fact about a module-level (or class-level) name, where it is bound."""
        return self.at(module, module.binding_spans.get(name, NO_SPAN), message)

    # -- why a value is what it is --------------------------------------------------------

    def of_value(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None = None
    ) -> list[Related]:
        """Why `value` (in `function` of `module`) has the kind the project index gives it:
        the bindings, dependencies and factories its kind was decided through."""
        found: list[Related] = []
        self._seen = set()
        self._value(value, module, function, found, 0)
        return _unique(found)

    def of_param(self, param: ParamFacts, module: ModuleFacts) -> list[Related]:
        """What fills a parameter: its `Depends` (also through an `Annotated` alias), the
        dependency and what that dependency yields, down to the factory and engine."""
        found: list[Related] = []
        self._seen = set()
        self._param(param, module, found, 0)
        return _unique(found)

    def of_function(self, function: Function) -> list[Related]:
        """What a function gives its caller, and why (its returned or yielded values)."""
        found: list[Related] = []
        self._seen = set()
        self._gives(function, found, 0)
        return _unique(found)

    def _value(
        self,
        value: Value | None,
        module: ModuleFacts,
        function: FunctionFacts | None,
        found: list[Related],
        depth: int,
    ) -> None:
        if value is None or depth > _MAX_DEPTH or len(found) >= _MAX_FACTS:
            return
        if isinstance(value, Awaited):
            self._value(value.value, module, function, found, depth)
        elif isinstance(value, Local) and function is not None:
            self._local(value.name, module, function, found, depth)
        elif isinstance(value, Ref):
            self._global(value, module, found, depth)
        elif isinstance(value, CallOf):
            self._call(value, module, function, found, depth)
        elif isinstance(value, Attr):
            self._value(value.base, module, function, found, depth)
        elif isinstance(value, SubscriptOf):
            for item in value.items:
                self._value(item, module, function, found, depth + 1)
        elif isinstance(value, ItemOf):
            self._value(value.value, module, function, found, depth)

    def _local(
        self, name: str, module: ModuleFacts, function: FunctionFacts, found: list[Related], depth: int
    ) -> None:
        param = function.param(name)
        if param is not None:
            self._param(param, module, found, depth)
        for bound in function.locals.get(name, ()):
            if not isinstance(bound, NoneValue):
                self._value(bound, module, function, found, depth + 1)

    def _param(self, param: ParamFacts, module: ModuleFacts, found: list[Related], depth: int) -> None:
        for part in (param.default, param.annotation):
            self._value(part, module, None, found, depth + 1)

    def _global(self, value: Ref, module: ModuleFacts, found: list[Related], depth: int) -> None:
        target = self.project.resolve(value.qualname, module.root)
        # The binding itself, or its `begin()` (a factory's session in a transaction): an
        # attribute of anything else is not what the binding's kind says.
        if (
            isinstance(target, Binding)
            and target.rest in ((), ("begin",))
            and self._first_visit(target.module, target.name)
        ):
            bound = target.module.bindings.get(target.name)
            if bound is None:
                return
            kind = self.project.value_kind(bound, target.module) or self.project.annotation_kind(
                bound, target.module
            )
            what = f", {_article(kind)}" if kind is not None else ""
            name = target.name.rpartition(".")[2]
            _add(found, self.bound(target.module, target.name, f"`{name}` is `{describe(bound)}`{what}"))
            self._value(bound, target.module, None, found, depth + 1)

    def _call(
        self,
        call: CallOf,
        module: ModuleFacts,
        function: FunctionFacts | None,
        found: list[Related],
        depth: int,
    ) -> None:
        project = self.project
        if project.is_depends_call(call, module.root):
            dependency = project.function_of(project.depends_target(call), module)
            if dependency is not None:
                self._gives(dependency, found, depth + 1)
            return
        func = call.func
        callee = project.function_of(func, module)
        if callee is not None:
            self._gives(callee, found, depth + 1)
            return
        target = project.resolve(func.qualname, module.root) if isinstance(func, Ref) else None
        if isinstance(target, External):
            # A library constructor: what its arguments bring (the engine a factory is bound
            # to, the session class an async factory makes).
            for argument in (call.keyword("bind"), call.keyword("class_"), *call.args[:1]):
                if argument is not None and project.value_kind(argument, module, function) is not None:
                    self._value(argument, module, function, found, depth + 1)
            return
        self._value(func, module, function, found, depth)

    def _gives(self, function: Function, found: list[Related], depth: int) -> None:
        """`get_db` yields `db`, a sync session: at its `def`, then why."""
        if depth > _MAX_DEPTH or len(found) >= _MAX_FACTS:
            return
        if not self._first_visit(function.module, function.facts.qualname + "()"):
            return
        facts = function.facts
        project = self.project
        values = facts.yields if facts.is_generator else facts.returns
        kind = project.provided_kind(function)
        verb = "yields" if facts.is_generator else "returns"
        shown = ", ".join(f"`{describe(value)}`" for value in values[:2] if value is not None)
        if kind is None:
            return  # what it gives is not known to be anything the rules care about
        what = f"{verb} {shown}, {_article(kind)}" if shown else f"{verb} {_article(kind)}"
        if not values and kind is not None:
            what += " (its return annotation)"
        _add(found, self.defined(function, f"`{facts.name}` {what}"))
        for value in values:
            self._value(value, function.module, facts, found, depth + 1)

    # -- how a function is used -----------------------------------------------------------

    def dependency_site(self, function: Function) -> Related | None:
        """Where a `Depends(...)` names the function (the first one found), if any."""
        project = self.project
        # The scan reads every module: only the site found is what the finding rests on
        # (its resolution is done again below, recorded), not every module looked at.
        lookups, project.lookups = project.lookups, None
        try:
            site = self._find_site(function)
        finally:
            project.lookups = lookups
        if site is None:
            return None
        module, call, span = site
        project.module_named(module.module, module.root)
        project.function_of(project.depends_target(call), module)
        return self.at(module, span, f"`{function.facts.name}` is used through `{describe(call)}`")

    def _find_site(self, function: Function) -> tuple[ModuleFacts, CallOf, Span] | None:
        """The first site by path and position (the same whatever order the modules came in:
        a cached run and a clean one name the same)."""
        project = self.project
        wanted = (function.module.key, function.facts.qualname)
        best: tuple[ModuleFacts, CallOf, Span] | None = None
        for module in project.modules.values():
            for call, span in zip(module.dependency_calls, module.dependency_spans):
                if not isinstance(call, CallOf) or not project.is_depends_call(call, module.root):
                    continue
                target = project.function_of(project.depends_target(call), module)
                if target is None or (target.module.key, target.facts.qualname) != wanted:
                    continue
                if best is None or (module.path, span) < (best[0].path, best[2]):
                    best = (module, call, span)
        return best

    def no_direct_caller(self, function: Function) -> Related | None:
        """ "nothing in the checked tree calls `get_db` directly", at its `def`: what a fix or
        a decision that is safe only so rests on (ask only when `knows_every_use` said so)."""
        return self.defined(function, f"nothing in the checked tree calls `{function.facts.name}` directly")

    def dependency_use(self, function: Function) -> list[Related]:
        """Why the function counts as a dependency: a `Depends` naming it, or its name
        (`dependency-names`) with nothing calling it directly."""
        site = self.dependency_site(function) if self.project.is_dependency(function) else None
        if site is not None:
            return [site]
        if function.facts.name in self.project.dependency_names:
            named = self.defined(
                function,
                f"`{function.facts.name}` is a dependency by its name (`dependency-names`) "
                "and nothing in the checked tree calls it directly",
            )
            return [named] if named is not None else []
        return []


def _add(found: list[Related], fact: Related | None) -> None:
    if fact is not None and len(found) < _MAX_FACTS:
        found.append(fact)


def _unique(facts: Iterable[Related]) -> list[Related]:
    """Each fact once, in the order met (the nearest step first)."""
    seen: set[tuple[str, int, str]] = set()
    unique = []
    for fact in facts:
        key = (fact.path, fact.location.row, fact.message)
        if key not in seen:
            seen.add(key)
            unique.append(fact)
    return unique
