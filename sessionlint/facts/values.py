"""A small symbolic language for "what is bound to this name".

The fact pass (stdlib `ast`) and the rules (LibCST) both describe expressions with these
plain, picklable values; `ProjectFacts` later decides what a value *is* (a session, a
factory, an engine, ...) once every module of the project is known.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, TypeVar, Union

_T = TypeVar("_T")


def fact(cls: type[_T] | None = None, *, frozen: bool = True) -> Any:
    """A dataclass for facts: plain, picklable, and light.

    Facts of a large project are millions of these small objects: without a `__dict__`
    each, they take half the memory (slotted frozen dataclasses pickle from Python 3.11
    on). They pickle as their constructor's arguments: the default for slotted dataclasses
    goes through Python-level `__getstate__` / `__setstate__`, 3-4x slower both ways, and
    facts travel between processes and to the cache.
    """

    def make(cls: type[_T]) -> type[_T]:
        if sys.version_info < (3, 11):
            return dataclass(frozen=frozen)(cls)
        cls = dataclass(frozen=frozen, slots=True)(cls)
        names = [field.name for field in fields(cls)]  # type: ignore[arg-type]
        if len(names) > 1:
            values = attrgetter(*names)
            cls.__reduce__ = lambda self: (type(self), values(self))  # type: ignore[method-assign]
        else:  # attrgetter of one name gives the value itself, of none fails
            cls.__reduce__ = lambda self: (type(self), tuple(getattr(self, name) for name in names))  # type: ignore[method-assign]
        return cls

    return make if cls is None else make(cls)


@fact
class Ref:
    """A global name, fully qualified: `sqlalchemy.orm.sessionmaker`, `app.db.SessionLocal`."""

    qualname: str


@fact
class Local:
    """A name bound in the enclosing function (parameter or assignment)."""

    name: str


@fact
class Attr:
    """An attribute of a value that is not a plain global name (`factory().begin`)."""

    base: Value
    name: str


@fact
class CallOf:
    """The result of calling `func`."""

    func: Value
    args: tuple[Value | None, ...] = ()
    kwargs: tuple[tuple[str, Value | None], ...] = ()
    has_star_kwargs: bool = False

    def keyword(self, name: str) -> Value | None:
        return next((value for key, value in self.kwargs if key == name), None)

    def has_keyword(self, name: str) -> bool:
        return any(key == name for key, _ in self.kwargs)

    def may_set(self, name: str) -> bool:
        """The call passes keyword `name`, or `**kwargs` that may hold it: it decides that
        option itself, whatever a rule would suggest."""
        return self.has_star_kwargs or self.has_keyword(name)


@fact
class Awaited:
    """`await value`."""

    value: Value


@fact
class SubscriptOf:
    """`base[items]`: `Annotated[...]`, `Optional[...]`."""

    base: Value
    items: tuple[Value | None, ...]


@fact
class UnionOf:
    """`A | B`."""

    options: tuple[Value | None, ...]


@fact
class Text:
    """A string literal (or the literal head of an f-string); only its start is kept."""

    prefix: str


@fact
class NoneValue:
    """The `None` constant."""


@fact
class ItemOf:
    """An item of iterating `value`: the target of `for x in value` (`async for` when `is_async`)."""

    value: Value
    is_async: bool


Value = Union[Ref, Local, Attr, CallOf, Awaited, SubscriptOf, UnionOf, Text, NoneValue, ItemOf]

TEXT_PREFIX_LENGTH = 32


def with_attribute(base: Value | None, name: str) -> Value | None:
    """`base.name`, folding attribute access on global names into the qualified name."""
    if base is None:
        return None
    if isinstance(base, Ref):
        return Ref(f"{base.qualname}.{name}")
    return Attr(base, name)


class Kind(enum.Enum):
    """What a value is, as far as the rules care."""

    SYNC_SESSION = "sync session"
    ASYNC_SESSION = "async session"
    SYNC_FACTORY = "sync session factory"
    ASYNC_FACTORY = "async session factory"
    SYNC_REGISTRY = "scoped_session registry"
    ASYNC_REGISTRY = "async_scoped_session registry"
    ENGINE = "engine"
    APP = "FastAPI app"
    ROUTER = "APIRouter"
    BACKGROUND_TASKS = "BackgroundTasks"

    @property
    def is_session(self) -> bool:
        return self in (Kind.SYNC_SESSION, Kind.ASYNC_SESSION)

    @property
    def is_factory(self) -> bool:
        return self in _FACTORIES

    @property
    def is_async(self) -> bool:
        return self in (Kind.ASYNC_SESSION, Kind.ASYNC_FACTORY, Kind.ASYNC_REGISTRY)


_FACTORIES = frozenset({Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY, Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY})

# Calling a factory of this kind gives a session of that kind.
SESSION_FROM_FACTORY = {
    Kind.SYNC_FACTORY: Kind.SYNC_SESSION,
    Kind.ASYNC_FACTORY: Kind.ASYNC_SESSION,
    Kind.SYNC_REGISTRY: Kind.SYNC_SESSION,
    Kind.ASYNC_REGISTRY: Kind.ASYNC_SESSION,
}
