"""The project a run belongs to, and whether the run knows all of it.

Some fixes are safe only if nothing else in the project does something (calls a dependency
directly, awaits it): a run can vouch for that only when it knows every module. The project
is every Python file under its root, found with the run's own excludes; the root is the
folder of the configuration file that applies, else the deepest folder holding every
checked path. A module is known when this run read it, or when the cache holds its facts
for its current content.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from sessionlint.discover.files import discover
from sessionlint.settings.config import Settings


def project_root(paths: Sequence[Path], settings: Settings) -> Path:
    """The configuration file's folder, else the common folder of the checked paths."""
    if settings.config_file is not None:
        return _normal(settings.config_file.parent)
    folders = [str(_normal(path) if path.is_dir() else _normal(path).parent) for path in paths]
    if not folders:
        return Path.cwd()
    return Path(os.path.commonpath(folders))


def files_outside(paths: Sequence[Path], settings: Settings, read: Collection[str]) -> set[str]:
    """The project's Python files (absolute paths) this run did not read (`read`: the
    absolute paths it did)."""
    if names_root(paths, settings):
        return set()  # the run walked the whole project itself, with the same excludes
    found = discover([project_root(paths, settings)], settings).files
    return {os.path.abspath(file) for file in found} - {os.path.abspath(path) for path in read}


def names_root(paths: Sequence[Path], settings: Settings) -> bool:
    """The run checks the project's root folder itself: a file added anywhere in the
    project is then one of its inputs."""
    root = project_root(paths, settings)
    return any(path.is_dir() and _normal(path) == root for path in paths)


def _normal(path: Path) -> Path:
    """The absolute path with `..` and `.` folded, so `check ../app` names the same root as
    `check /abs/app`; symlinks are kept as named (the walk does not follow them either)."""
    return Path(os.path.abspath(path))
