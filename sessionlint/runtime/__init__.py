"""Reference session dependencies for FastAPI + SQLAlchemy, and helpers to test them.

The patterns here are the single source of truth for sessionlint's fixes (SL001 rewrites a
dependency that returns its session into the body of one of these), and they are usable on
their own::

    from sessionlint.runtime import session_dependency

    get_db = session_dependency(SessionLocal)

Importing this package does not import SQLAlchemy or FastAPI.
"""

from __future__ import annotations

from sessionlint.runtime.dependencies import (
    async_session_dependency,
    async_transactional_session_dependency,
    session_dependency,
    transactional_session_dependency,
)
from sessionlint.runtime.testing import assert_pool_returned, pool_returned

__all__ = [
    "assert_pool_returned",
    "async_session_dependency",
    "async_transactional_session_dependency",
    "pool_returned",
    "session_dependency",
    "transactional_session_dependency",
]
