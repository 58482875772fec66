"""sessionlint: finds and fixes database-session anti-patterns in FastAPI + SQLAlchemy code."""

from __future__ import annotations

__version__ = "0.1.0"
