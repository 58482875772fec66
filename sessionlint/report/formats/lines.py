"""The text of reported lines, for formats that quote it or count bytes on it.

Read back from the file a finding names (relative to the working folder, as paths are
printed), once per file for one report. Nothing is kept between reports: a library user
or an editor renders again after the files changed. A file that cannot be read again
gives None, and the caller falls back to what the diagnostic alone says.
"""

from __future__ import annotations


class SourceLines:
    """The lines of the files one report names."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, ...] | None] = {}

    def text(self, path: str, row: int) -> str | None:
        """Line `row` (1-based) of `path`, without its line ending."""
        if path not in self._files:
            self._files[path] = _read_lines(path)
        lines = self._files[path]
        if lines is None or not 1 <= row <= len(lines):
            return None
        return lines[row - 1]


def _read_lines(path: str) -> tuple[str, ...] | None:
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return tuple(handle.read().splitlines())
    except (OSError, ValueError):
        return None
