"""sessionlint: finds and fixes database-session anti-patterns in FastAPI + SQLAlchemy code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "check_source"]

if TYPE_CHECKING:
    from sessionlint.entry.run import check_source


def __getattr__(name: str) -> Any:
    # Imported on first use: `import sessionlint` stays cheap for the command line.
    if name == "check_source":
        from sessionlint.entry.run import check_source

        return check_source
    raise AttributeError(f"module 'sessionlint' has no attribute {name!r}")
