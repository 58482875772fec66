"""Finding the files to check: directories walked, excludes and `.gitignore` applied."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import translate as fnmatch_translate
from pathlib import Path

from sessionlint.config import Settings

PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class FileError:
    """A path that could not be walked (reported as SL000, the run goes on)."""

    path: str
    reason: str


@dataclass(frozen=True)
class _IgnoreRule:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


class GitIgnore:
    """The patterns of one `.gitignore`, matched against paths relative to its folder."""

    def __init__(self, base: str, lines: Sequence[str]) -> None:
        self.base = base  # an absolute folder path
        self.rules = [rule for line in lines if (rule := _parse_ignore_line(line)) is not None]

    @classmethod
    def load(cls, directory: str) -> GitIgnore | None:
        try:
            with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as handle:
                return cls(directory, handle.read().splitlines())
        except OSError:
            return None

    def ignores(self, absolute: str, is_dir: bool) -> bool | None:
        """True / False when a pattern decides, None when none matches."""
        if not absolute.startswith(self.base + os.sep):
            return None
        relative = absolute[len(self.base) + 1 :].replace(os.sep, "/")
        verdict = None
        for rule in self.rules:
            if rule.directory_only and not is_dir:
                continue
            if rule.regex.fullmatch(relative):
                verdict = not rule.negated
        return verdict


def _parse_ignore_line(line: str) -> _IgnoreRule | None:
    line = line.rstrip()
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    pattern = line[1:] if negated else line
    directory_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    regex = _glob_to_regex(pattern)
    if not anchored:
        regex = f"(?:.*/)?{regex}"
    return _IgnoreRule(re.compile(regex), negated, directory_only)


def _glob_to_regex(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        index += 1
    return "".join(out)


class _Excludes:
    """An exclude pattern matches the file or folder name, or its path below the root."""

    def __init__(self, settings: Settings) -> None:
        self.pattern = _exclude_pattern(settings.all_excludes)
        self.root = os.path.abspath(settings.root)

    def match(self, name: str, reached: str, absolute: str) -> bool:
        if self.pattern.match(name):
            return True
        under_root = absolute.startswith(self.root + os.sep)
        relative = absolute[len(self.root) + 1 :] if under_root else reached
        return self.pattern.match(relative.replace(os.sep, "/")) is not None


@functools.lru_cache(maxsize=16)
def _exclude_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(fnmatch_translate(p.rstrip("/")) for p in patterns))


def discover(paths: Sequence[Path], settings: Settings) -> tuple[list[str], list[FileError]]:
    """Python files under `paths`, sorted, as paths relative to the working folder where
    they were named so. Files named explicitly are always checked.

    Symbolic links met while walking a folder are not followed: one inside the tree leads
    to files the walk reaches anyway, one outside leads out of what was asked for (and a
    fix must never write there), and a loop leads nowhere. A file reached twice (named
    twice, or by two spellings) is checked once: fixing it twice would race with itself.
    """
    found: dict[str, str] = {}  # real path -> the path as reached
    errors: list[FileError] = []
    excludes = _Excludes(settings)
    for path in paths:
        if path.is_dir():
            top = os.path.normpath(path)
            # No link below `top` is followed: the real path of a file found there is the
            # real path of `top` joined with the rest of its path.
            real_top = os.path.realpath(top)
            for file in _walk(top, excludes, errors):
                found.setdefault(real_top + file[len(top) :], file)
        elif path.exists():
            found.setdefault(os.path.realpath(path), os.fspath(path))
        else:
            errors.append(FileError(str(path), "No such file or directory"))
    # Normalized as `Path` would show them (`./app.py` is `app.py`), in that order: paths,
    # not `Path`s, since a run with nothing changed needs no more.
    ordered = sorted(os.path.normpath(reached) for reached in found.values())
    return ordered, errors


def _walk(top: str, excludes: _Excludes, errors: list[FileError]) -> list[str]:
    ignores = [ignore for ignore in _ancestor_gitignores(top) if ignore is not None]
    found: list[str] = []
    _walk_dir(top, os.path.abspath(top), excludes, ignores, errors, set(), found)
    return found


def _ancestor_gitignores(top: str) -> list[GitIgnore | None]:
    """`.gitignore` files between the repository root and `top` (inclusive of top)."""
    directory = Path(os.path.abspath(top))
    chain = [directory, *directory.parents]
    for index, candidate in enumerate(chain):
        if (candidate / ".git").exists():
            return [GitIgnore.load(str(d)) for d in reversed(chain[: index + 1])]
    return [GitIgnore.load(str(directory))]


def _walk_dir(
    directory: str,
    absolute: str,
    excludes: _Excludes,
    ignores: list[GitIgnore],
    errors: list[FileError],
    seen: set[tuple[int, int]],
    found: list[str],
) -> None:
    """Strings, not `Path`s, into one list (sorted by the caller), not through nested
    generators: the walk runs over every file on every run, and a warm run does little else."""
    try:
        stat = os.stat(directory)
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            return  # a symlink loop, or a folder reached twice through links
        seen.add(key)
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError as error:
        errors.append(FileError(str(Path(directory)), error.strerror or str(error)))
        return
    if any(entry.name == ".gitignore" for entry in entries):
        local = GitIgnore.load(absolute)
        if local is not None and all(ignore.base != local.base for ignore in ignores):
            ignores = [*ignores, local]
    prefix = absolute if absolute.endswith(os.sep) else absolute + os.sep
    for entry in entries:
        name = entry.name
        try:
            if entry.is_symlink():
                continue  # see `discover`
            is_dir = entry.is_dir()
            if not is_dir and not (name.endswith(PYTHON_SUFFIXES) and entry.is_file()):
                continue
        except OSError:
            continue
        entry_absolute = prefix + name
        if excludes.match(name, entry.path, entry_absolute) or _git_ignored(entry_absolute, is_dir, ignores):
            continue
        if is_dir:
            _walk_dir(entry.path, entry_absolute, excludes, ignores, errors, seen, found)
        else:
            found.append(entry.path)


def _git_ignored(absolute: str, is_dir: bool, ignores: list[GitIgnore]) -> bool:
    verdict = False
    for ignore in ignores:
        decided = ignore.ignores(absolute, is_dir)
        if decided is not None:
            verdict = decided
    return verdict
