"""The project index's questions about kinds: what a value, a parameter, an annotation or a
call's result *is* (a session, a factory, an engine, an app or router, ...).

A mixin of `ProjectFacts` (see `project`): it asks the other questions of the same object.
Unknown answers are None: the rules never guess.
"""

from __future__ import annotations

from collections.abc import Callable

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import FunctionFacts, ModuleFacts, ParamFacts
from sessionlint.facts.values import (
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
    UnionOf,
    Value,
)
from sessionlint.project.memo import memoized
from sessionlint.project.resolution import Binding, External, Function

SESSION_CLASS_KINDS = {
    **dict.fromkeys(vocab.SYNC_SESSION_CLASSES, Kind.SYNC_SESSION),
    **dict.fromkeys(vocab.ASYNC_SESSION_CLASSES, Kind.ASYNC_SESSION),
}
CONSTRUCTED_KINDS = {
    **dict.fromkeys(vocab.ENGINE_CONSTRUCTORS, Kind.ENGINE),
    **dict.fromkeys(vocab.ASYNC_SESSIONMAKERS, Kind.ASYNC_FACTORY),
    **dict.fromkeys(vocab.SCOPED_SESSIONS, Kind.SYNC_REGISTRY),
    **dict.fromkeys(vocab.ASYNC_SCOPED_SESSIONS, Kind.ASYNC_REGISTRY),
    **dict.fromkeys(vocab.FASTAPI_APPS, Kind.APP),
    **dict.fromkeys(vocab.FASTAPI_ROUTERS, Kind.ROUTER),
    **SESSION_CLASS_KINDS,
}
# Annotations naming a factory class: calling what they annotate makes a session.
_FACTORY_CLASS_KINDS = {
    **dict.fromkeys(vocab.SESSIONMAKERS, Kind.SYNC_FACTORY),
    **dict.fromkeys(vocab.ASYNC_SESSIONMAKERS, Kind.ASYNC_FACTORY),
}


class KindQuestions:
    """What values are, memoized per project (`ProjectFacts._kind_cache`)."""

    # -- kinds of values ----------------------------------------------------------------------

    def value_kind(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None = None
    ) -> Kind | None:
        """What a value is at run time (a session, a factory, an engine, ...)."""
        if value is None:
            return None
        key = ("value", value, module.key, function.qualname if function else None, self._declarations)
        return self._memo(key, lambda: self._value_kind(value, module, function))

    def _memo(self, key: tuple[object, ...], compute: Callable[[], Kind | None]) -> Kind | None:
        return memoized(self._kind_cache, self._in_progress, key, compute, None)

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
            if target.qualname in SESSION_CLASS_KINDS:
                return (
                    Kind.ASYNC_FACTORY if SESSION_CLASS_KINDS[target.qualname].is_async else Kind.SYNC_FACTORY
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
        return CONSTRUCTED_KINDS.get(qualname)

    # -- kinds of annotations -----------------------------------------------------------------

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
                return SESSION_CLASS_KINDS.get(target.qualname) or _FACTORY_CLASS_KINDS.get(target.qualname)
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

    # -- what functions give ------------------------------------------------------------------

    def param_kind(self, param: ParamFacts, module: ModuleFacts) -> Kind | None:
        """What a parameter holds: what its dependency provides, else what its annotation says."""
        dependency = self.dependency_of(param, module)
        if dependency is not None:
            provided = self.provided_kind(dependency)
            if provided is not None:
                return provided
        return self.annotation_kind(param.annotation, module)

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


def _is_placeholder_param(param: ParamFacts) -> bool:
    """`db=None`, unannotated: only makes the name exist until the body binds it
    (`db = db or SessionLocal()`, `if db is None: db = SessionLocal()`)."""
    return param.annotation is None and isinstance(param.default, NoneValue)
