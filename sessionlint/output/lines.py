"""The text of a reported line, for formats that quote it or count bytes on it.

Read back from the file the finding names (relative to the working folder, as the paths
are printed). A file that cannot be read again gives None: the caller falls back to
what the diagnostic alone says.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=64)
def _lines(path: str) -> tuple[str, ...] | None:
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return tuple(handle.read().splitlines())
    except (OSError, ValueError):
        return None


def line_text(path: str, row: int) -> str | None:
    """Line `row` (1-based) of `path`, without its line ending."""
    lines = _lines(path)
    if lines is None or not 1 <= row <= len(lines):
        return None
    return lines[row - 1]


def forget() -> None:
    """Drop what was read (a fix may have rewritten the files since)."""
    _lines.cache_clear()
