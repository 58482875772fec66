"""Reference FastAPI session dependencies: one session per request, always closed.

These four factories are the patterns sessionlint's fixes rewrite code into. The autofix reads
*this file's source* and uses the body of each inner ``get_session`` function as its template,
so the inner functions must keep their exact shape: named ``get_session``, the session variable
named ``session``, the factory parameter named ``factory``, and no docstring or comment inside.

SQLAlchemy is imported for type checking only, so ``sessionlint.runtime`` imports without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

__all__ = [
    "async_session_dependency",
    "async_transactional_session_dependency",
    "session_dependency",
    "transactional_session_dependency",
]


def session_dependency(factory: Callable[[], Session]) -> Callable[[], Iterator[Session]]:
    """Build a FastAPI dependency that yields one sync session per request and always closes it.

    Use it for every endpoint that takes a sync ``Session``. The session is created when the
    request needs it and closed when FastAPI finishes the dependency, whether the endpoint
    returned or raised, so its connection always goes back to the pool. Transactions are
    left to the endpoint: call ``db.commit()`` yourself; anything not committed is rolled
    back when the session closes.

    A dependency that ``return``s ``SessionLocal()`` instead is never closed: each request
    keeps a connection checked out until the garbage collector happens to free the session,
    and under load the pool runs dry (``TimeoutError: QueuePool limit ... reached``).

    Example::

        from fastapi import Depends, FastAPI
        from sqlalchemy.orm import Session

        from sessionlint.runtime import session_dependency

        get_db = session_dependency(SessionLocal)  # SessionLocal = sessionmaker(engine)
        app = FastAPI()

        @app.get("/items")
        def list_items(db: Session = Depends(get_db)):
            return db.scalars(select(Item)).all()

    FastAPI calls the dependency at most once per request, so every sub-dependency that
    depends on ``get_db`` shares the same session.

    Args:
        factory: a zero-argument callable returning a new ``Session``, typically a
            ``sessionmaker`` (or ``Session`` bound with ``functools.partial``).

    Returns:
        A generator function to pass to ``Depends``.
    """

    def get_session() -> Iterator[Session]:
        session = factory()
        try:
            yield session
        finally:
            session.close()

    return get_session


def transactional_session_dependency(
    factory: Callable[[], Session],
) -> Callable[[], Iterator[Session]]:
    """Build a sync session dependency that commits on success and rolls back on error.

    Use it when one request should be one unit of work: the endpoint only adds and changes
    objects, and the dependency commits after the endpoint returned. If the endpoint or a
    later dependency raises (``HTTPException`` included), the transaction is rolled back
    and nothing is committed. The session is closed in every case.

    Timing: in FastAPI 0.118 and later the code after ``yield`` of a request-scoped
    dependency runs after the response has been sent, so a failing commit can no longer
    turn the response into an error. When the client must only see success after the
    commit, declare ``Depends(get_db, scope="function")`` (FastAPI 0.121+), which runs the
    exit code before the response is sent, or commit explicitly in the endpoint.

    Example::

        get_db = transactional_session_dependency(SessionLocal)

        @app.post("/items")
        def create_item(name: str, db: Session = Depends(get_db)):
            db.add(Item(name=name))
            # committed when the endpoint returns; rolled back if it raises

    Args:
        factory: a zero-argument callable returning a new ``Session``.

    Returns:
        A generator function to pass to ``Depends``.
    """

    def get_session() -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    return get_session


def async_session_dependency(
    factory: Callable[[], AsyncSession],
) -> Callable[[], AsyncIterator[AsyncSession]]:
    """Build a FastAPI dependency that yields one ``AsyncSession`` per request and closes it.

    The async counterpart of :func:`session_dependency`, for ``async def`` endpoints over an
    async engine (``create_async_engine``). ``async with`` closes the session, and so
    returns its connection to the pool, whether the endpoint returned or raised.
    Transactions are left to the endpoint (``await db.commit()``).

    Create the factory with ``async_sessionmaker(engine, expire_on_commit=False)``: with the
    default ``expire_on_commit=True`` every attribute access after ``await db.commit()``
    lazy-loads, which under asyncio raises ``MissingGreenlet``.

    Example::

        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

        from sessionlint.runtime import async_session_dependency

        AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
        get_db = async_session_dependency(AsyncSessionLocal)

        @app.get("/items")
        async def list_items(db: AsyncSession = Depends(get_db)):
            return (await db.scalars(select(Item))).all()

    Args:
        factory: a zero-argument callable returning a new ``AsyncSession``, typically an
            ``async_sessionmaker``.

    Returns:
        An async generator function to pass to ``Depends``.
    """

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with factory() as session:
            yield session

    return get_session


def async_transactional_session_dependency(
    factory: Callable[[], AsyncSession],
) -> Callable[[], AsyncIterator[AsyncSession]]:
    """Build an ``AsyncSession`` dependency that commits on success and rolls back on error.

    The async counterpart of :func:`transactional_session_dependency`: the endpoint only
    adds and changes objects; the dependency awaits ``commit()`` after the endpoint
    returned, or ``rollback()`` if anything raised (``HTTPException`` included), and the
    session is closed in every case. The same note on timing applies: in FastAPI 0.118+
    the commit runs after the response was sent unless the dependency is declared with
    ``Depends(get_db, scope="function")``.

    Example::

        AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
        get_db = async_transactional_session_dependency(AsyncSessionLocal)

        @app.post("/items")
        async def create_item(name: str, db: AsyncSession = Depends(get_db)):
            db.add(Item(name=name))

    Args:
        factory: a zero-argument callable returning a new ``AsyncSession``.

    Returns:
        An async generator function to pass to ``Depends``.
    """

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    return get_session
