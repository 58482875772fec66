"""Source roots: the folders Python imports a project's modules from, and module names.

A module is known by its identity, (source root, dotted name), as the interpreter would
import it. The roots of a file, in the order its own imports are resolved against them:

1. its package root: the folder above its top `__init__.py` (the file's own folder for a
   module outside any package). Its name there is the module's identity;
2. every other root above it, deepest first: configured ones (`src = ["services/*/"]`),
   the folder of each `pyproject.toml` / `setup.cfg` / `setup.py` and its `src/` folder,
   and the folders named on the command line. It may be imported by its path below
   those too (namespace packages), when every part of that path is an identifier.

Two files with the same dotted name under different roots (`billing/app/db.py` and
`catalog/app/db.py`, each `app.db`) are different modules: see `ProjectFacts` for how a
name is resolved from a given root, and what an ambiguous one means.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


class ModuleIdentity(NamedTuple):
    """How a file is imported: `name` under `root`, and its other (root, name) pairs."""

    root: str  # absolute path of the source root ("" for source not read from a file)
    name: str
    is_package: bool
    others: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return module_key(self.root, self.name)

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.others)

    @property
    def roots(self) -> tuple[str, ...]:
        """Where the module's own absolute imports are looked for, in order."""
        return (self.root, *(root for root, _ in self.others))


def module_key(root: str, name: str) -> str:
    """One module's key in the project index: its root and name, never confused."""
    return f"{name}\0{root}" if root else name


class SourceRoots:
    """The roots of a run: configured, declared by project files, and the checked paths."""

    def __init__(self, checked: Iterable[Path] = (), configured: Iterable[Path] = ()) -> None:
        extra = [path if path.is_dir() else path.parent for path in (*configured, *checked)]
        self.extra = frozenset(os.path.abspath(path) for path in extra)

    def identity(self, path: Path) -> ModuleIdentity:
        absolute = os.path.abspath(path)
        directory, filename = os.path.split(absolute)
        stem = filename.rpartition(".")[0] or filename
        is_package = stem == "__init__"
        parts = [] if is_package else [stem]
        while _is_package_dir(directory):
            parts.insert(0, os.path.basename(directory))
            directory = os.path.dirname(directory)
        others = []
        for root in self._roots_above(os.path.dirname(absolute)):
            if root == directory:
                continue
            relative = os.path.relpath(absolute, root).split(os.sep)
            relative[-1] = stem
            if is_package:
                relative.pop()
            if relative and all(part.isidentifier() for part in relative):
                others.append((root, ".".join(relative)))
        return ModuleIdentity(directory, ".".join(parts), is_package, tuple(others))

    def _roots_above(self, directory: str) -> list[str]:
        """Every root at or above `directory`, deepest first."""
        found = []
        current = directory
        while True:
            if current in self.extra or _declares_project(current):
                found.append(current)
            if _declares_project(current):
                src = os.path.join(current, "src")
                if (directory + os.sep).startswith(src + os.sep) and src not in found:
                    found.insert(len(found) - 1, src)
            parent = os.path.dirname(current)
            if parent == current:
                return found
            current = parent


def configured_roots(patterns: Sequence[str], base: Path) -> list[Path]:
    """The folders the `src` setting names (globs relative to the configuration's folder)."""
    folders: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.join(glob.escape(os.fspath(base)), pattern)))
        folders += [Path(match) for match in matches if os.path.isdir(match)]
    return folders


def forget_disk() -> None:
    """Drop what was learned of folders (a later run in this process, a library user's or
    a test's, must name modules after the `__init__.py` files on disk now)."""
    _is_package_dir.cache_clear()
    _declares_project.cache_clear()


@functools.lru_cache(maxsize=8192)
def _is_package_dir(directory: str) -> bool:
    return os.path.dirname(directory) != directory and os.path.isfile(os.path.join(directory, "__init__.py"))


@functools.lru_cache(maxsize=8192)
def _declares_project(directory: str) -> bool:
    return any(os.path.isfile(os.path.join(directory, name)) for name in _PROJECT_FILES)
