"""`sessionlint clean`: remove the caches of the projects some paths belong to."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from sessionlint.cache.store import DEFAULT_DIRECTORY, is_cache_directory
from sessionlint.settings.config import DEFAULT_EXCLUDES
from sessionlint.settings.configuration import Configuration

# Folders never searched for caches: they hold no project code (the cache folder itself is
# what is looked for).
_SKIPPED = frozenset(DEFAULT_EXCLUDES) - {DEFAULT_DIRECTORY}


def caches_of(paths: Sequence[Path], configuration: Configuration, cache_dir: Path | None) -> list[Path]:
    """The cache folder of each path's project (at its configuration's folder, as a run puts
    it; `cache_dir` instead when given), and the cache folders below the paths (earlier
    versions wrote one wherever the command ran)."""
    found: dict[str, Path] = {}
    for path in paths:
        folder = cache_dir or configuration.settings_for(path).root / DEFAULT_DIRECTORY
        found.setdefault(os.path.abspath(folder), folder)
        if path.is_dir():
            for below in _below(path):
                found.setdefault(os.path.abspath(below), below)
    return [folder for folder in found.values() if folder.is_dir()]


def _below(top: Path) -> list[Path]:
    caches = []
    for directory, folders, _ in os.walk(top):
        if DEFAULT_DIRECTORY in folders:
            caches.append(Path(directory) / DEFAULT_DIRECTORY)
        folders[:] = [name for name in folders if name not in DEFAULT_EXCLUDES and name not in _SKIPPED]
    return caches


def remove(folder: Path) -> int | None:
    """Remove a cache folder; how many files it held, or None when it holds anything
    sessionlint does not write (then nothing is removed)."""
    if not is_cache_directory(folder):
        return None
    count = len(os.listdir(folder))
    shutil.rmtree(folder)
    return count
