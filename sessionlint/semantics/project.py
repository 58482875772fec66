"""The project index: cross-module resolution and what every value *is*.

Built once per run from every module's facts. It follows imports and re-exports between
the checked modules, and answers for a symbolic value whether it is a session, a factory,
an engine, an app or router; for a function whether it is a session dependency or an
endpoint. Unknown answers are None / False: the rules never guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar

from sessionlint.roots import ModuleIdentity
from sessionlint.semantics import contexts, lifecycle, tasks
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.facts import FunctionFacts, ModuleFacts, ParamFacts
from sessionlint.semantics.resolution import (
    Ambiguous,
    Binding,
    External,
    Function,
    Lookup,
    ModuleIndex,
    Resolver,
    Target,
)
from sessionlint.semantics.values import (
    SESSION_FROM_FACTORY,
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

_MAX_DEPTH = 24
# Stands for a module's body where a question about a function is asked of a module.
_MODULE_BODY = FunctionFacts("", "", 0, False, False, False, (), (), (), ())


__all__ = ["Binding", "External", "Function", "FunctionRef", "ProjectFacts", "Target"]

FunctionRef = tuple[str, str]  # (module key, function qualname): see `ModuleFacts.key`

_SESSION_CLASS_KINDS = {
    **dict.fromkeys(vocab.SYNC_SESSION_CLASSES, Kind.SYNC_SESSION),
    **dict.fromkeys(vocab.ASYNC_SESSION_CLASSES, Kind.ASYNC_SESSION),
}
_CONSTRUCTED_KINDS = {
    **dict.fromkeys(vocab.ENGINE_CONSTRUCTORS, Kind.ENGINE),
    **dict.fromkeys(vocab.ASYNC_SESSIONMAKERS, Kind.ASYNC_FACTORY),
    **dict.fromkeys(vocab.SCOPED_SESSIONS, Kind.SYNC_REGISTRY),
    **dict.fromkeys(vocab.ASYNC_SCOPED_SESSIONS, Kind.ASYNC_REGISTRY),
    **dict.fromkeys(vocab.FASTAPI_APPS, Kind.APP),
    **dict.fromkeys(vocab.FASTAPI_ROUTERS, Kind.ROUTER),
    **_SESSION_CLASS_KINDS,
}
# Annotations naming a factory class: calling what they annotate makes a session.
_FACTORY_CLASS_KINDS = {
    **dict.fromkeys(vocab.SESSIONMAKERS, Kind.SYNC_FACTORY),
    **dict.fromkeys(vocab.ASYNC_SESSIONMAKERS, Kind.ASYNC_FACTORY),
}
_VOCABULARY = frozenset(_CONSTRUCTED_KINDS) | vocab.SESSIONMAKERS | vocab.DEPENDS | vocab.BACKGROUND_TASKS


class ProjectFacts:
    """Cross-module answers over every checked module's facts."""

    def __init__(
        self,
        modules: Iterable[ModuleFacts] | Mapping[str, ModuleFacts],
        *,
        dependency_names: Iterable[str] = vocab.DEFAULT_DEPENDENCY_NAMES,
        session_factories: Iterable[str] = (),
        engine_constructors: Iterable[str] = (),
        identities: Mapping[str, ModuleIdentity] | None = None,
        indexes: Mapping[str, frozenset[FunctionRef]] | None = None,
        complete: bool | Callable[[], bool] = False,
    ) -> None:
        """`modules`: their facts, or a mapping from module key (`ModuleFacts.key`) to facts
        with their `identities` beside it, so that facts kept elsewhere (an incremental
        run's stored ones) are only loaded when looked up. `indexes`: whole-project indexes
        already known for exactly these modules (see `known_indexes`). `complete`: these are
        every module of the project (see `sessionlint.scope`); only then can an absence (no
        direct call anywhere) be known; a callable is asked on first use only."""
        if isinstance(modules, Mapping):
            self.modules = modules
            known = dict(identities or {})
        else:
            self.modules = {}
            known = {}
            for facts in modules:
                if self.modules.setdefault(facts.key, facts) is facts:
                    identity = ModuleIdentity(facts.root, facts.module, facts.is_package, facts.aliases)
                    known[facts.key] = identity
        self.dependency_names = frozenset(dependency_names)
        self.extra_factories = frozenset(session_factories)
        self.extra_engines = frozenset(engine_constructors)
        self.resolver = Resolver(
            self.modules, ModuleIndex(known.items()), _VOCABULARY | self.extra_factories | self.extra_engines
        )
        self._kind_cache: dict[tuple[object, ...], Kind | None] = {}
        # Memoized answers of `tasks` (SL010), dropped with the kinds'; with what is being computed.
        self.task_answers: dict[tuple[str, ...], object] = {}
        self.task_progress: set[tuple[str, ...]] = set()
        # Return annotations count as evidence (`declared_kind`): off while asking what a
        # function owns, which only the values it really makes can prove.
        self._declarations = True
        self._in_progress: set[tuple[object, ...]] = set()
        self._indexes: dict[str, frozenset[FunctionRef]] = dict(indexes or {})
        self.answers: dict[tuple[str, str, str], bool] | None = None
        self._complete = complete

    @property
    def complete(self) -> bool:
        """Every module of the project is known to this run (see `__init__`)."""
        if not isinstance(self._complete, bool):
            self._complete = bool(self._complete())
        return self._complete

    @property
    def lookups(self) -> dict[Lookup, str | None] | None:
        """While a file's check is recorded: every module lookup its resolutions made, with
        what it found (see `Resolver.token`)."""
        return self.resolver.lookups

    @lookups.setter
    def lookups(self, value: dict[Lookup, str | None] | None) -> None:
        self.resolver.lookups = value

    def with_module(self, facts: ModuleFacts) -> ProjectFacts:
        """The same project with one module's facts replaced (after a fix rewrote it)."""
        modules = [m for m in self.modules.values() if m.path != facts.path] + [facts]
        return ProjectFacts(
            modules,
            dependency_names=self.dependency_names,
            session_factories=self.extra_factories,
            engine_constructors=self.extra_engines,
            complete=self.complete,
        )

    # -- resolution ---------------------------------------------------------------------

    def module_named(self, name: str, root: str = "") -> ModuleFacts | None:
        """The module `name` is, imported from a module under source root `root` (None when
        no module read has it, or several could be it)."""
        return self.resolver.find(name, root)

    def resolve(self, qualname: str, root: str = "") -> Target:
        """What a qualified name, written in a module under `root`, refers to: imports and
        re-exports followed (see `resolution`). An ambiguous name refers to nothing."""
        target = self.resolver.resolve(qualname, root)
        return None if isinstance(target, Ambiguous) else target

    def possible_targets(self, qualname: str, root: str = "") -> tuple[Target, ...]:
        """Everything a name may refer to: its target, or each one of an ambiguous name."""
        target = self.resolver.resolve(qualname, root)
        return target.targets if isinstance(target, Ambiguous) else (target,)

    def external_name(self, value: Value | None, root: str = "") -> str | None:
        """The qualified name of the library object a value names (`sqlalchemy.pool.NullPool`)."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, root)
            if isinstance(target, External):
                return target.qualname
        return None

    def constant_value(self, value: Value | None, root: str = "") -> Value | None:
        """What a module-level constant is bound to (through imports); other values as they are."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, root)
            if isinstance(target, Binding) and not target.rest:
                return target.module.bindings.get(target.name)
        return value

    # -- what a call's arguments decide -------------------------------------------------

    def opts_out_of_pre_ping(self, call: CallOf, root: str = "") -> bool:
        """An engine constructor call that needs no `pool_pre_ping=True` (SL005): it decides
        itself (`pool_pre_ping=` of any value, `**kwargs`, a ready-made `pool=`), pools
        nothing that goes stale (`poolclass=NullPool`, ...), or opens SQLite (a URL starting with `sqlite`, directly
        or through a module-level constant)."""
        if call.may_set("pool_pre_ping"):
            return True
        if call.has_keyword("pool"):
            # A pool built by the caller: its own `pre_ping` decides, and `create_engine`
            # rejects `pool_pre_ping=` beside it (a TypeError), so the fix cannot apply.
            return True
        if self.external_name(call.keyword("poolclass"), root) in vocab.NON_POOLING_POOLS:
            return True
        url = call.keyword("url") if call.has_keyword("url") else (call.args[0] if call.args else None)
        text = self.constant_value(url, root)
        return isinstance(text, Text) and text.prefix.startswith("sqlite")

    def holds_no_pool_connection(
        self, call: Value | None, module: ModuleFacts, function: FunctionFacts | None
    ) -> bool:
        """A session call that cannot keep one of the engine pool's connections checked out
        (SL002): bound to something not known to be an engine (`Session(connection)`: closing
        the session would not return that connection, its owner does; `**kwargs`: unsure), or
        a session class called without any bind (`Session()`: it cannot connect at all)."""
        if not isinstance(call, CallOf):
            return False
        if call.has_star_kwargs:
            return True
        if call.has_keyword("bind") or call.args:
            bind = call.keyword("bind") if call.has_keyword("bind") else call.args[0]
            return self.value_kind(bind, module, function) != Kind.ENGINE
        session_class = self.external_name(call.func, module.root)
        return session_class in _SESSION_CLASS_KINDS and not call.has_keyword("binds")

    def creates_pooled_session(self, function: Function, value: Value | None) -> bool:
        """`value`, assigned in `function`, is a new session that can keep a pool connection
        checked out: what SL002 follows to its `close()`."""
        module, facts = function.module, function.facts
        return self.created_session_kind(
            value, module, facts
        ) is not None and not self.holds_no_pool_connection(value, module, facts)

    def function_of(self, value: Value | None, module: ModuleFacts) -> Function | None:
        """The project function a value names (`get_db`, `deps.get_db`), if any."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, module.root)
            if isinstance(target, Function) and not target.rest:
                return target
            if isinstance(target, Binding) and not target.rest:
                # `get_db = make_dependency` style aliases of a function.
                bound = target.module.bindings.get(target.name)
                if isinstance(bound, Ref) and bound != value:
                    return self.function_of(bound, target.module)
        return None

    # -- kinds of values ----------------------------------------------------------------

    def value_kind(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None = None
    ) -> Kind | None:
        """What a value is at run time (a session, a factory, an engine, ...)."""
        if value is None:
            return None
        key = ("value", value, module.key, function.qualname if function else None, self._declarations)
        return self._memo(key, lambda: self._value_kind(value, module, function))

    def _memo(self, key: tuple[object, ...], compute) -> Kind | None:  # type: ignore[no-untyped-def]
        if key in self._kind_cache:
            return self._kind_cache[key]
        if key in self._in_progress:
            return None
        self._in_progress.add(key)
        try:
            result = compute()
        finally:
            self._in_progress.discard(key)
        self._kind_cache[key] = result
        return result

    def _value_kind(self, value: Value, module: ModuleFacts, function: FunctionFacts | None) -> Kind | None:
        if isinstance(value, Ref):
            return self._global_kind(value.qualname, module.root)
        if isinstance(value, Local):
            return self.local_kind(value.name, module, function) if function else None
        if isinstance(value, CallOf):
            return self._call_kind(value, module, function, awaited=False)
        if isinstance(value, Awaited) and isinstance(value.value, CallOf):
            return self._call_kind(value.value, module, function, awaited=True)
        if isinstance(value, ItemOf):
            return self._item_kind(value, module)
        if isinstance(value, Attr) and isinstance(value.base, Local) and function is not None:
            return self.self_attribute_kind(value.base.name, value.name, module, function)
        return None

    def _item_kind(self, item: ItemOf, module: ModuleFacts) -> Kind | None:
        """`async for db in get_db():` iterates a project generator: what it yields (a
        dependency used by hand)."""
        call = item.value
        if not isinstance(call, CallOf):
            return None
        function = self.function_of(call.func, module)
        if function is None or not function.facts.is_generator or function.facts.is_async != item.is_async:
            return None
        if self.is_context_manager(function):
            return None  # iterating a context manager is not iterating the generator
        return self._agreed_kind(function.facts.yields, function, awaited=True)

    def self_attribute_kind(
        self, name: str, attribute: str, module: ModuleFacts, method: FunctionFacts
    ) -> Kind | None:
        """`self.session` in a method: what the class's `__init__` assigns to it (from a
        typed parameter or a factory), when no other method of the class assigns it too."""
        first = method.params[0].name if method.is_method and method.params else None
        if name != first or name in method.locals:
            return None
        owner, _, _ = method.qualname.rpartition(".")
        init = module.functions.get(f"{owner}.__init__")
        if init is None or not init.self_attributes.get(attribute):
            return None
        prefix = f"{owner}."
        for qualname, other in module.functions.items():
            if qualname.startswith(prefix) and other is not init and attribute in other.self_attributes:
                return None  # assigned elsewhere too: which value a use sees is not known
        kinds = {self.value_kind(value, module, init) for value in init.self_attributes[attribute]}
        kind = kinds.pop() if len(kinds) == 1 else None
        return kind if kind is not None and (kind.is_session or kind.is_factory) else None

    def _global_kind(self, qualname: str, root: str) -> Kind | None:
        target = self.resolve(qualname, root)
        if isinstance(target, External):
            if target.qualname in _SESSION_CLASS_KINDS:
                return (
                    Kind.ASYNC_FACTORY
                    if _SESSION_CLASS_KINDS[target.qualname].is_async
                    else Kind.SYNC_FACTORY
                )
            if target.qualname in self.extra_factories:
                return Kind.SYNC_FACTORY
            return None
        if isinstance(target, Binding) and not target.rest:
            return self.value_kind(target.module.bindings[target.name], target.module)
        return None

    def local_kind(self, name: str, module: ModuleFacts, function: FunctionFacts) -> Kind | None:
        """The kind of a function-local name: every binding of it must agree. A `None`
        placeholder (`session = None` before `session = factory()` in a `try`) only makes the
        name exist: the real bindings decide."""
        kinds: set[Kind | None] = set()
        param = function.param(name)
        if param is not None and not (_is_placeholder_param(param) and function.locals.get(name)):
            kinds.add(self.param_kind(param, module))
        kinds.update(
            self.value_kind(value, module, function)
            for value in function.locals.get(name, ())
            if not isinstance(value, NoneValue)
        )
        return kinds.pop() if len(kinds) == 1 else None

    def _call_kind(
        self, call: CallOf, module: ModuleFacts, function: FunctionFacts | None, *, awaited: bool
    ) -> Kind | None:
        func = call.func
        if isinstance(func, Ref):
            target = self.resolve(func.qualname, module.root)
            if isinstance(target, External):
                return self._constructed_kind(target.qualname, call, module, function)
            if isinstance(target, Function) and not target.rest:
                return self.call_result_kind(target, awaited=awaited)
            if isinstance(target, Binding) and target.rest == ("begin",):
                # `SessionLocal.begin()` gives a session (in a transaction) as a context manager.
                factory = self.value_kind(target.module.bindings[target.name], target.module)
                return SESSION_FROM_FACTORY.get(factory)
        elif isinstance(func, Attr) and func.name == "begin":
            return SESSION_FROM_FACTORY.get(self.value_kind(func.base, module, function))
        return SESSION_FROM_FACTORY.get(self.value_kind(func, module, function))

    def _constructed_kind(
        self, qualname: str, call: CallOf, module: ModuleFacts, function: FunctionFacts | None
    ) -> Kind | None:
        if qualname in vocab.SESSIONMAKERS:
            session_class = call.keyword("class_")
            if (
                session_class is not None
                and self.value_kind(session_class, module, function) == Kind.ASYNC_FACTORY
            ):
                return Kind.ASYNC_FACTORY
            return Kind.SYNC_FACTORY
        if qualname in self.extra_engines:
            return Kind.ENGINE
        if qualname in self.extra_factories:
            return Kind.SYNC_SESSION
        return _CONSTRUCTED_KINDS.get(qualname)

    # -- kinds of annotations -----------------------------------------------------------

    def annotation_kind(self, value: Value | None, module: ModuleFacts) -> Kind | None:
        """The kind of object an annotation declares (`Session`, `Annotated[AsyncSession, ...]`, an alias)."""
        if value is None:
            return None
        return self._memo(("annotation", value, module.key), lambda: self._annotation_kind(value, module))

    def _annotation_kind(self, value: Value, module: ModuleFacts) -> Kind | None:
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, module.root)
            if isinstance(target, External):
                if target.qualname in vocab.BACKGROUND_TASKS:
                    return Kind.BACKGROUND_TASKS
                return _SESSION_CLASS_KINDS.get(target.qualname) or _FACTORY_CLASS_KINDS.get(target.qualname)
            if isinstance(target, Binding) and not target.rest:
                return self.annotation_kind(target.module.bindings[target.name], target.module)
            return None
        if isinstance(value, SubscriptOf) and isinstance(value.base, Ref) and value.items:
            base = self.resolve(value.base.qualname, module.root)
            base_name = base.qualname if isinstance(base, External) else None
            if base_name in vocab.ANNOTATED or base_name in vocab.OPTIONAL:
                return self.annotation_kind(value.items[0], module)
            if base_name in vocab.UNION:
                return self._union_kind(value.items, module)
            # `sessionmaker[Session]`, `async_sessionmaker[AsyncSession]`: a factory.
            return _FACTORY_CLASS_KINDS.get(base_name) if base_name else None
        if isinstance(value, UnionOf):
            return self._union_kind(value.options, module)
        return None

    def _union_kind(self, options: tuple[Value | None, ...], module: ModuleFacts) -> Kind | None:
        kinds = {
            self.annotation_kind(option, module) for option in options if not isinstance(option, NoneValue)
        }
        return kinds.pop() if len(kinds) == 1 else None

    # -- dependencies -------------------------------------------------------------------

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
        targets = set()
        for module in self.modules.values():
            for call in module.dependency_calls:
                if isinstance(call, CallOf) and self.is_depends_call(call, module.root):
                    function = self.function_of(self.depends_target(call), module)
                    if function is not None:
                        targets.add((function.module.key, function.facts.qualname))
        return frozenset(targets)

    # Whole-project indexes, built on first use: the fact pass builds a project after each
    # round only to ask what names lead to a trigger, which needs neither.
    @property
    def dependency_targets(self) -> frozenset[FunctionRef]:
        return self._index("dependency", self._collect_dependency_targets)

    @property
    def called_functions(self) -> frozenset[FunctionRef]:
        return self._index("called", self._collect_called_functions)

    @property
    def uncertain_callers(self) -> frozenset[FunctionRef]:
        return self._index("uncertain", self._collect_uncertain_callers)

    def _index(self, name: str, build: Callable[[], frozenset[FunctionRef]]) -> frozenset[FunctionRef]:
        found = self._indexes.get(name)
        if found is None:
            # An index over every module is no lookup of the file being checked, and the
            # questions it asks of every function are not that file's answers.
            lookups, answers, self.lookups, self.answers = self.lookups, self.answers, None, None
            try:
                found = self._indexes[name] = build()
            finally:
                self.lookups, self.answers = lookups, answers
        return found

    def build_indexes(self) -> None:
        """Build the whole-project indexes now (before forking workers, which would each
        build their own)."""
        _ = self.dependency_targets, self.called_functions, self.uncertain_callers, self.lifespan_targets

    def known_indexes(self) -> dict[str, frozenset[FunctionRef]]:
        """The whole-project indexes built so far (an incremental run reuses them)."""
        return dict(self._indexes)

    def _collect_called_functions(self) -> frozenset[FunctionRef]:
        return self._called(lambda targets: len(targets) == 1)

    def _collect_uncertain_callers(self) -> frozenset[FunctionRef]:
        """Functions a call of an ambiguous name may be calling."""
        return self._called(lambda targets: len(targets) > 1)

    def _called(self, wanted: Callable[[tuple[Target, ...]], bool]) -> frozenset[FunctionRef]:
        called = set()
        for module in self.modules.values():
            for qualname in module.calls:
                targets = self.possible_targets(qualname, module.root)
                if wanted(targets):
                    called.update(
                        (target.module.key, target.facts.qualname)
                        for target in targets
                        if isinstance(target, Function) and not target.rest
                    )
        return frozenset(called)

    # -- functions ----------------------------------------------------------------------

    def param_kind(self, param: ParamFacts, module: ModuleFacts) -> Kind | None:
        """What a parameter holds: what its dependency provides, else what its annotation says."""
        dependency = self.dependency_of(param, module)
        if dependency is not None:
            provided = self.provided_kind(dependency)
            if provided is not None:
                return provided
        return self.annotation_kind(param.annotation, module)

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

    def provided_kind(self, function: Function) -> Kind | None:
        """What FastAPI injects when this function is a dependency (yielded, or returned and awaited)."""
        facts = function.facts
        values = facts.yields if facts.is_generator else facts.returns
        return self._agreed_kind(values, function, awaited=facts.is_async)

    def call_result_kind(self, function: Function, *, awaited: bool) -> Kind | None:
        """What calling the function gives the caller (a `@contextmanager` gives what it yields)."""
        facts = function.facts
        if facts.is_async and not awaited and not self.is_context_manager(function):
            return None
        if facts.is_generator:
            if not self.is_context_manager(function):
                return None
            return self._agreed_kind(facts.yields, function, awaited=True)
        return self._agreed_kind(facts.returns, function, awaited=True)

    def _agreed_kind(
        self, values: tuple[Value | None, ...], function: Function, *, awaited: bool
    ) -> Kind | None:
        """The one kind every given value has. Where none of them is known, the return
        annotation tells (`-> Session`, `-> Iterator[Session]`); a known value that
        contradicts the annotation wins over it."""
        kinds = set()
        for value in values:
            if awaited and isinstance(value, CallOf):
                value = Awaited(value)
            kinds.add(self.value_kind(value, function.module, function.facts))
        if kinds <= {None}:
            return self.declared_kind(function) if self._declarations else None
        return kinds.pop() if len(kinds) == 1 else None

    def declared_kind(self, function: Function) -> Kind | None:
        """What the return annotation says the function gives: the item type for a generator
        (`Iterator[Session]`, `AsyncGenerator[AsyncSession, None]`), else the annotation."""
        facts = function.facts
        annotation = facts.returns_annotation
        if facts.is_generator:
            if not isinstance(annotation, SubscriptOf) or not annotation.items:
                return None
            base = self.external_name(annotation.base)
            if base not in vocab.GENERATOR_TYPES:
                return None
            annotation = annotation.items[0]
        kind = self.annotation_kind(annotation, function.module)
        return kind if kind is not None and kind.is_session else None

    def is_context_manager(self, function: Function) -> bool:
        return any(self._decorator_names(function) & vocab.CONTEXT_MANAGER_DECORATORS)

    def session_generator(self, call: Value | None, module: ModuleFacts) -> Function | None:
        """The project function `call` calls when it is a session generator (SL013): a plain
        generator (not a `@contextmanager`) that creates a session and yields that session.
        Its `finally` or `with` block is what closes the session."""
        if not isinstance(call, CallOf):
            return None
        function = self.function_of(call.func, module)
        if function is None or not function.facts.is_generator or self.is_context_manager(function):
            return None
        created = self.creates_session(function)
        return function if created is not None and self.provided_kind(function) == created else None

    def creates_session(self, function: Function) -> Kind | None:
        """The kind of session the function's own body creates (a factory call), if any.

        Proven by the values only: a helper whose return annotation alone says `Session`
        may hand on a session someone else owns (`return request.state.db`)."""
        facts = function.facts
        declarations, self._declarations = self._declarations, False
        try:
            for values in (*facts.locals.values(), facts.returns, facts.yields):
                for value in values:
                    if isinstance(value, (CallOf, Awaited)):
                        kind = self.value_kind(value, function.module, facts)
                        if kind is not None and kind.is_session:
                            return kind
            return None
        finally:
            self._declarations = declarations

    def created_session_kind(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None
    ) -> Kind | None:
        """The kind of session a value is when the code holding it created it with a bare call.

        A call of a session factory (`SessionLocal()`, `Session(engine)`, `sessionmaker(...)()`),
        or of a project function that returns such a new session; or a local name bound only
        to such calls (not a parameter, not a `with ... as` target: the `with` closes it; not
        handed to other code, which may own it: `registry.add(sess)`). A `scoped_session`
        registry's session is not: the registry owns it (`remove()`).
        """
        if value is None:
            return None
        key = ("created", value, module.key, function.qualname if function else None)
        return self._memo(key, lambda: self._created_session_kind(value, module, function))

    def _created_session_kind(
        self, value: Value, module: ModuleFacts, function: FunctionFacts | None
    ) -> Kind | None:
        if isinstance(value, Local):
            if (
                function is None
                or function.param(value.name) is not None
                or value.name in function.with_targets
                or value.name in function.declared_globals
                or value.name in function.shared_names
            ):
                return None  # not (only) this function's: a parameter, closed, or handed on
            bound = function.locals.get(value.name, ())
            kinds = {self.created_session_kind(v, module, function) for v in bound}
            return kinds.pop() if len(kinds) == 1 else None
        awaited = isinstance(value, Awaited)
        call = value.value if isinstance(value, Awaited) else value
        if not isinstance(call, CallOf):
            return None
        factory = self.value_kind(call.func, module, function)
        if factory in (Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY):
            return None if awaited else SESSION_FROM_FACTORY[factory]
        maker = self.function_of(call.func, module)
        if maker is None:
            return None
        facts = maker.facts
        if facts.is_generator or facts.is_async != awaited or not facts.returns:
            return None
        kinds = {self.created_session_kind(v, maker.module, facts) for v in facts.returns}
        return kinds.pop() if len(kinds) == 1 else None

    def only_uses_param(self, function: Function, name: str) -> bool:
        """The function uses its parameter `name` without taking it over: never closes it
        (`close()`, `with`), hands it on (stores, aliases, passes to code that keeps it),
        returns or yields it, or rebinds it. A session passed in stays the caller's to close."""
        facts = function.facts
        if facts.param(name) is None or facts.is_generator or name in facts.locals:
            return False
        if name in facts.closed_names or name in facts.shared_names or name in facts.with_targets:
            return False
        return Local(name) not in facts.returns

    def uses_param_as_session(self, function: Function, name: str) -> bool:
        """The coroutine function awaits methods on its parameter `name`, itself or through
        the project coroutines it passes it to (SL010; see `tasks`)."""
        return tasks.uses_param_as_session(self, function, name)

    def gathered_through(self, function: Function, name: str) -> tasks.Chain:
        """Where the coroutine function hands its parameter `name` to `asyncio.gather` with
        another coroutine that uses it (SL010; see `tasks.gathered_through`)."""
        return tasks.gathered_through(self, function, name)

    def is_dependency(self, function: Function) -> bool:
        """Used through `Depends` / `Security` somewhere in the tree."""
        return self._member("dependency", function, self.dependency_targets)

    def is_called_directly(self, function: Function) -> bool:
        """Called directly somewhere, or perhaps: see `callers_known`. Every "nothing calls it
        directly" decision (a dependency by name alone, a fix that makes it a generator)
        asks this, so an unknown answer never reads as "no caller"."""
        return self.has_known_caller(function) or not self.callers_known(function)

    def has_known_caller(self, function: Function) -> bool:
        """A direct call of this function is known (others may be unknown: `callers_known`)."""
        return self._member("called", function, self.called_functions)

    def callers_known(self, function: Function) -> bool:
        """Every call of this function in the checked modules is known: no call of an
        ambiguous name (`app.db.get_db` where two source roots have an `app.db`) may be one.

        False means "unknown": a rule must then neither conclude that nothing calls the
        function (no finding resting on that) nor offer a fix that is safe only if so."""
        return not self._member("uncertain", function, self.uncertain_callers)

    def knows_every_use(self, function: Function) -> bool:
        """Every use of the function in the project is known: the run knows every module,
        no call of a name several modules may be can be a call of it (`callers_known`),
        and the function is one
        whose uses are tracked (a module-level function; calls through `self` or of a
        nested function are not). Only then does "nothing calls it directly" mean
        something."""
        if self.answers is not None:
            self.answers[("complete", "", "")] = self.complete
        facts = function.facts
        # `callers_known`: a call through a name two source roots share (two services'
        # `app.db`) resolves to neither, and may be a call of this function.
        return self.complete and facts.qualname == facts.name and self.callers_known(function)

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
        targets = set()
        for module in self.modules.values():
            for call in module.lifespan_refs:
                if isinstance(call, CallOf) and self.value_kind(call, module) in (Kind.APP, Kind.ROUTER):
                    lifespan = self.function_of(call.keyword("lifespan"), module)
                    if lifespan is not None:
                        targets.add((lifespan.module.key, lifespan.facts.qualname))
        return frozenset(targets)

    # -- what a file's result depended on (the cache's validity check) --------------------

    def _member(self, question: str, function: Function, members: frozenset[FunctionRef]) -> bool:
        key = (function.module.key, function.facts.qualname)
        answer = key in members
        if self.answers is not None:
            self.answers[(question, *key)] = answer
        return answer

    def forget_answers(self) -> None:
        """Drop memoized answers (the whole-project indexes stay)."""
        self._kind_cache = {}
        self.task_answers = {}

    def record_answers(self) -> None:
        """Start noting what one file's check consults: every module looked up (with the
        digest found, or None) and every whole-project question asked. Memoized answers are
        dropped first, so that nothing computed for another file goes unrecorded."""
        self.forget_answers()
        self.answers = {}
        self.lookups = {}

    def recorded_answers(self) -> dict[tuple[str, str, str], bool]:
        answers, self.answers = self.answers or {}, None
        return answers

    def recorded_lookups(self) -> dict[str, str | None]:
        lookups, self.lookups = self.lookups or {}, None
        return lookups

    def answers_still_hold(self, answers: dict[tuple[str, str, str], bool]) -> bool:
        members = {
            "dependency": self.dependency_targets,
            "called": self.called_functions,
            "uncertain": self.uncertain_callers,
            "lifespan": self.lifespan_targets,
            "script": self.script_modules,
            "one_shot": self.one_shot_functions,
            "once": self.once_functions,
        }

        def members_of(question: str) -> frozenset[FunctionRef]:
            if question in self._LIFECYCLE_INDEXES:  # built only when a finding asked
                return self._lifecycle_index(question)
            return members[question]

        return all(
            (self.complete if question == "complete" else (module, qualname) in members_of(question))
            == answer
            for (question, module, qualname), answer in answers.items()
        )

    def lookups_still_hold(self, lookups: dict[Lookup, str | None]) -> bool:
        return all(self.resolver.token(lookup) == token for lookup, token in lookups.items())

    # -- who disposes engines and removes registries (`lifecycle`) -----------------------

    _LIFECYCLE_INDEXES: ClassVar[dict[str, Callable[[ProjectFacts], frozenset[FunctionRef]]]] = {
        "disposed": lifecycle.disposed_objects,
        "removed": lifecycle.removed_objects,
        "registry_users": lifecycle.registry_users,
        "shutdown": lifecycle.shutdown_hooks,
    }

    def _lifecycle_index(self, question: str) -> frozenset[FunctionRef]:
        return self._index(question, lambda: self._LIFECYCLE_INDEXES[question](self))

    def lifecycle_answer(self, question: str, key: str, name: str) -> bool:
        """Whether `(key, name)` is in one of the `lifecycle` indexes (`disposed`, `removed`,
        `registry_users`, `shutdown`), noted as an answer the file's findings rest on."""
        answer = (key, name) in self._lifecycle_index(question)
        if self.answers is not None:
            self.answers[(question, key, name)] = answer
        return answer

    def knows_whole_project(self) -> bool:
        """Every module of the project is known to this run (noted as an answer)."""
        if self.answers is not None:
            self.answers[("complete", "", "")] = self.complete
        return self.complete

    # -- where code runs (`contexts`) ----------------------------------------------------

    @property
    def script_modules(self) -> frozenset[FunctionRef]:
        return self._index("script", lambda: contexts.script_modules(self))

    @property
    def one_shot_functions(self) -> frozenset[FunctionRef]:
        return self._index("one_shot", lambda: contexts.one_shot_functions(self))

    @property
    def once_functions(self) -> frozenset[FunctionRef]:
        return self._index("once", lambda: contexts.once_functions(self))

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

    def function_in(self, module: ModuleFacts, qualname: str) -> Function | None:
        facts = module.functions.get(qualname)
        return Function(module, facts) if facts is not None else None


def _is_placeholder_param(param: ParamFacts) -> bool:
    """`db=None`, unannotated: only makes the name exist until the body binds it
    (`db = db or SessionLocal()`, `if db is None: db = SessionLocal()`)."""
    return param.annotation is None and isinstance(param.default, NoneValue)
