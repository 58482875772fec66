"""Qualified names the rules are about.

Every name a rule matches lives here, fully qualified, under each public path it is
importable from. The byte pre-filter is derived from these sets as well, so a rule
cannot match a name the pre-filter does not know about.
"""

from __future__ import annotations


def _paths(*names: str) -> frozenset[str]:
    return frozenset(names)


SYNC_ENGINE_CONSTRUCTORS = _paths(
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.create_engine",
    "sqlalchemy.engine.create.create_engine",
    "sqlmodel.create_engine",
    "sqlmodel.main.create_engine",
    "sqlmodel.engine.create.create_engine",
)
ASYNC_ENGINE_CONSTRUCTORS = _paths(
    "sqlalchemy.ext.asyncio.create_async_engine",
    "sqlalchemy.ext.asyncio.engine.create_async_engine",
)
# Engines built from a configuration mapping: the pool options live in that mapping.
CONFIG_ENGINE_CONSTRUCTORS = _paths(
    "sqlalchemy.engine_from_config",
    "sqlalchemy.engine.engine_from_config",
    "sqlalchemy.engine.create.engine_from_config",
    "sqlalchemy.ext.asyncio.async_engine_from_config",
    "sqlalchemy.ext.asyncio.engine.async_engine_from_config",
)
# Every way to make an `AsyncEngine` (SL012).
ASYNC_ENGINE_MAKERS = ASYNC_ENGINE_CONSTRUCTORS | _paths(
    "sqlalchemy.ext.asyncio.async_engine_from_config",
    "sqlalchemy.ext.asyncio.engine.async_engine_from_config",
)
ENGINE_CONSTRUCTORS = SYNC_ENGINE_CONSTRUCTORS | ASYNC_ENGINE_CONSTRUCTORS | CONFIG_ENGINE_CONSTRUCTORS

SESSIONMAKERS = _paths("sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker")
ASYNC_SESSIONMAKERS = _paths(
    "sqlalchemy.ext.asyncio.async_sessionmaker",
    "sqlalchemy.ext.asyncio.session.async_sessionmaker",
)
SCOPED_SESSIONS = _paths("sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session")
ASYNC_SCOPED_SESSIONS = _paths(
    "sqlalchemy.ext.asyncio.async_scoped_session",
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
)
SYNC_SESSION_CLASSES = _paths(
    "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.Session",
    "sqlmodel.Session",
    "sqlmodel.orm.session.Session",
)
ASYNC_SESSION_CLASSES = _paths(
    "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.ext.asyncio.session.AsyncSession",
)

# Calls the fact pass keeps with their arguments (`ModuleFacts.constructor_calls`): the
# triage judges their pool and expiry options (SL005, SL006) from the facts.
CONSTRUCTORS = ENGINE_CONSTRUCTORS | SESSIONMAKERS | ASYNC_SESSIONMAKERS | ASYNC_SESSION_CLASSES

DEPENDS = _paths(
    "fastapi.Depends",
    "fastapi.params.Depends",
    "fastapi.param_functions.Depends",
    "fastapi.Security",
    "fastapi.params.Security",
    "fastapi.param_functions.Security",
)
ANNOTATED = _paths("typing.Annotated", "typing_extensions.Annotated")
OPTIONAL = _paths("typing.Optional", "typing_extensions.Optional")
UNION = _paths("typing.Union", "typing_extensions.Union")
FASTAPI_APPS = _paths("fastapi.FastAPI", "fastapi.applications.FastAPI")
FASTAPI_ROUTERS = _paths("fastapi.APIRouter", "fastapi.routing.APIRouter")
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route", "websocket"}
)
STARTUP_HOOKS = frozenset({"on_event"})
MIDDLEWARE_DECORATORS = frozenset({"middleware"})
BACKGROUND_TASKS = _paths(
    "fastapi.BackgroundTasks",
    "fastapi.background.BackgroundTasks",
    "starlette.background.BackgroundTasks",
)

# Pools that hold no idle connections (or one that is never stale): pre-ping buys nothing.
NON_POOLING_POOLS = _paths(
    *(
        f"{module}.{pool}"
        for module in ("sqlalchemy.pool", "sqlalchemy.pool.impl", "sqlalchemy")
        for pool in ("NullPool", "StaticPool", "SingletonThreadPool", "AssertionPool")
    )
)
# Open one SQLite connection (a local file, no server): an engine whose `creator=` /
# `async_creator=` returns these opens SQLite, whatever its URL says.
SQLITE_CONNECTORS = _paths(
    *(
        f"{module}.{name}"
        for module in (
            "sqlite3",
            "sqlite3.dbapi2",
            "pysqlite3",
            "pysqlite3.dbapi2",
            "sqlean",
            "sqlean.dbapi2",
        )
        for name in ("connect", "Connection")
    ),
    "aiosqlite.connect",
    "aiosqlite.Connection",
    "aiosqlite.core.connect",
    "aiosqlite.core.Connection",
)
# Parse a database URL into a `URL` (whose `get_backend_name()` / `drivername` a guard tests).
MAKE_URL = _paths("sqlalchemy.make_url", "sqlalchemy.engine.make_url", "sqlalchemy.engine.url.make_url")
CACHE_DECORATORS = _paths("functools.cache", "functools.lru_cache")
CONTEXT_MANAGER_DECORATORS = _paths("contextlib.contextmanager", "contextlib.asynccontextmanager")
PYTEST_FIXTURES = _paths("pytest.fixture", "pytest_asyncio.fixture")
PARTIAL = _paths("functools.partial")
# Run a sync callable in a worker thread: a session handed to them blocks no event loop.
THREAD_POOL_HELPERS = _paths(
    "fastapi.concurrency.run_in_threadpool",
    "starlette.concurrency.run_in_threadpool",
    "asyncio.to_thread",
    "asyncio.threads.to_thread",
    "anyio.to_thread.run_sync",
)
# The request object FastAPI / Starlette hand to endpoints and dependencies.
REQUESTS = _paths("fastapi.Request", "fastapi.requests.Request", "starlette.requests.Request")
# `loop.run_in_executor(...)` where `loop` is one of these calls' result.
EVENT_LOOP_GETTERS = _paths("asyncio.get_running_loop", "asyncio.get_event_loop")
# Handing a session to these transfers the duty to close it.
OWNERSHIP_TAKERS = _paths("contextlib.closing")
# `ExitStack` / `AsyncExitStack` methods that take over closing what they are given.
EXIT_STACK_METHODS = frozenset(
    {"enter_context", "enter_async_context", "callback", "push", "push_async_callback"}
)
# Methods that store their argument in a container (`sessions.append(db)`).
CONTAINER_STORE_METHODS = frozenset(
    {"append", "appendleft", "add", "insert", "extend", "setdefault", "put", "put_nowait"}
)
# Return annotations a generator dependency is written with (`Iterator[Session]`).
ITERATOR_TYPES = _paths("collections.abc.Iterator", "typing.Iterator")
ASYNC_ITERATOR_TYPES = _paths("collections.abc.AsyncIterator", "typing.AsyncIterator")
GENERATOR_TYPES = (
    ITERATOR_TYPES
    | ASYNC_ITERATOR_TYPES
    | _paths(
        "collections.abc.Generator",
        "typing.Generator",
        "collections.abc.AsyncGenerator",
        "typing.AsyncGenerator",
        "collections.abc.Iterable",
        "typing.Iterable",
        "collections.abc.AsyncIterable",
        "typing.AsyncIterable",
    )
)

# AsyncSession methods that are coroutines (SQLAlchemy 2.0). `add`, `add_all`, `expunge`,
# `in_transaction`, `begin` and `begin_nested` are not: they must never be awaited.
ASYNC_SESSION_COROUTINES = frozenset(
    {
        "execute",
        "scalar",
        "scalars",
        "get",
        "get_one",
        "commit",
        "rollback",
        "refresh",
        "flush",
        "close",
        "delete",
        "merge",
        "stream",
        "stream_scalars",
        # SQLModel's AsyncSession adds `exec` (a coroutine too).
        "exec",
        "run_sync",
        "connection",
        "invalidate",
        "reset",
        # SQLAlchemy 2.1.
        "aclose",
        "delete_all",
        "merge_all",
    }
)
# Session methods that never talk to the database (the same on `Session` and
# `AsyncSession`): staging (`add` flushes nothing, the next query or commit does) and
# reading the identity map's state.
SESSION_METHODS_WITHOUT_IO = frozenset(
    {"add", "add_all", "expunge", "expunge_all", "in_transaction", "in_nested_transaction", "is_modified"}
)
# What an `async_scoped_session` registry proxies to the current AsyncSession, as coroutines
# too, plus its own `remove()`; `run_sync` (and SQLModel's `exec`) are not proxied.
ASYNC_SCOPED_SESSION_COROUTINES = (ASYNC_SESSION_COROUTINES - {"run_sync", "exec"}) | {"remove"}

# What starts coroutines running at the same time (SL010): `gather` of coroutines, a task
# created from one, and the task groups whose `create_task` / `start_soon` methods do.
TASK_GATHERERS = _paths("asyncio.gather", "asyncio.tasks.gather")
TASK_CREATORS = _paths(
    "asyncio.create_task", "asyncio.tasks.create_task", "asyncio.ensure_future", "asyncio.tasks.ensure_future"
)
TASK_GROUPS = _paths("asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup", "anyio.create_task_group")
TASK_GROUP_METHODS = frozenset({"create_task", "start_soon"})

DEFAULT_DEPENDENCY_NAMES = (
    "get_db",
    "get_session",
    "get_db_session",
    "get_async_db",
    "get_async_session",
)

# Top-level packages whose mention makes a file worth parsing (the byte pre-filter). FastAPI
# is not among them: a file that only uses FastAPI can hold a finding only through a name
# defined in a file that uses SQLAlchemy or SQLModel, which the later rounds follow.
VOCABULARY_ROOTS = frozenset({"sqlalchemy", "sqlmodel"})


def last_segments(*groups: frozenset[str]) -> frozenset[str]:
    """The unqualified spellings of the given names (for cheap pre-filters only)."""
    return frozenset(name.rpartition(".")[2] for group in groups for name in group)


# However a rule's trigger is imported (`import sqlalchemy as sa; sa.orm.sessionmaker`,
# `from sqlalchemy.orm import Session as S`), the file spells one of these; a name
# re-exported under another spelling by the project is found by following imports.
TRIGGER_SPELLINGS = last_segments(
    ENGINE_CONSTRUCTORS,
    SESSIONMAKERS,
    ASYNC_SESSIONMAKERS,
    SCOPED_SESSIONS,
    ASYNC_SCOPED_SESSIONS,
    SYNC_SESSION_CLASSES,
    ASYNC_SESSION_CLASSES,
    BACKGROUND_TASKS,
)
