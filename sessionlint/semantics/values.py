"""A small symbolic language for "what is bound to this name".

The fact pass (stdlib `ast`) and the rules (LibCST) both describe expressions with these
plain, picklable values; `ProjectFacts` later decides what a value *is* (a session, a
factory, an engine, ...) once every module of the project is known.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import Any, Union

# Facts of a large project are millions of these small objects: without a `__dict__` each,
# they take half the memory. (Frozen dataclasses with slots pickle only from Python 3.11.)
SLOTS: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 11) else {}


@dataclass(frozen=True, **SLOTS)
class Ref:
    """A global name, fully qualified: `sqlalchemy.orm.sessionmaker`, `app.db.SessionLocal`."""

    qualname: str


@dataclass(frozen=True, **SLOTS)
class Local:
    """A name bound in the enclosing function (parameter or assignment)."""

    name: str


@dataclass(frozen=True, **SLOTS)
class Attr:
    """An attribute of a value that is not a plain global name (`factory().begin`)."""

    base: Value
    name: str


@dataclass(frozen=True, **SLOTS)
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


@dataclass(frozen=True, **SLOTS)
class Awaited:
    """`await value`."""

    value: Value


@dataclass(frozen=True, **SLOTS)
class SubscriptOf:
    """`base[items]`: `Annotated[...]`, `Optional[...]`."""

    base: Value
    items: tuple[Value | None, ...]


@dataclass(frozen=True, **SLOTS)
class UnionOf:
    """`A | B`."""

    options: tuple[Value | None, ...]


@dataclass(frozen=True, **SLOTS)
class Text:
    """A string literal (or the literal head of an f-string); only its start is kept."""

    prefix: str


@dataclass(frozen=True, **SLOTS)
class NoneValue:
    """The `None` constant."""


Value = Union[Ref, Local, Attr, CallOf, Awaited, SubscriptOf, UnionOf, Text, NoneValue]

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
