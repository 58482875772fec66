"""Finding the files to check: directories walked, excludes and `.gitignore` applied."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import translate as fnmatch_translate
from pathlib import Path
from typing import NamedTuple

from sessionlint.discover.roots import forget_disk
from sessionlint.settings.config import DEFAULT_EXCLUDES, Settings
from sessionlint.settings.configuration import Configuration

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


# A folder's exclude patterns: the default ones (which prune the walk), the user's (which
# keep files out of the findings), the settings' root they are relative to, and the default
# ones' names when all are plain names (see `_plain_names`).
_Patterns = tuple[re.Pattern[str], re.Pattern[str] | None, str, frozenset[str] | None]


class _Excludes:
    """Exclude patterns, each folder's from the settings that apply there. A pattern matches
    a file or folder name, or its path below the settings' root.

    The default patterns (version control, virtualenvs, build and cache folders: never the
    project's code) prune the walk. The user's (`exclude`, `extend-exclude`) keep a file out
    of the findings only: its facts still resolve the imports of the files that are checked
    (a factory in an excluded `app/db.py` is still a factory for `app/main.py`).
    """

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self._by_dir: dict[str, _Patterns] = {}
        self._hidden_dirs: dict[str, bool] = {}
        # By `id`: the configuration keeps each Settings alive for the whole run.
        self._by_settings: dict[int, _Patterns] = {}
        self.any_hidden = False  # a user pattern in the settings of some folder met so far

    def _patterns(self, directory: str) -> _Patterns:
        found = self._by_dir.get(directory)
        if found is None:
            settings = self.configuration.settings_for_dir(directory)
            found = self._by_settings.get(id(settings))
            if found is None:
                excludes = settings.all_excludes
                pruned = tuple(p for p in excludes if p in DEFAULT_EXCLUDES)
                hidden = tuple(p for p in excludes if p not in DEFAULT_EXCLUDES)
                root = os.path.abspath(settings.root)
                pattern = _exclude_pattern(pruned)
                found = (pattern, _exclude_pattern(hidden) if hidden else None, root, _plain_names(pruned))
                self._by_settings[id(settings)] = found
                self.any_hidden = self.any_hidden or bool(hidden)
            self._by_dir[directory] = found
        return found

    def match(self, name: str, reached: str, absolute: str) -> bool:
        """Whether the walk skips this entry (a default pattern matches it)."""
        # Inlined, the folder by slicing: this runs for every entry walked.
        directory = absolute[: len(absolute) - len(name) - 1] or os.sep
        pruned, _, root, names = self._by_dir.get(directory) or self._patterns(directory)
        if names is not None:
            return name in names  # plain names: the pattern matches a path only as its name
        if pruned.match(name):
            return True
        relative = absolute[len(root) + 1 :] if absolute.startswith(root + os.sep) else reached
        return pruned.match(relative.replace(os.sep, "/")) is not None

    def hides(self, absolute: str, top: str) -> bool:
        """Whether a user pattern excludes this file, or a folder it is in below `top`."""
        return self._hidden_here(absolute) or self._hidden_dir(os.path.dirname(absolute), top)

    def _hidden_here(self, absolute: str) -> bool:
        _, hidden, root, _ = self._patterns(os.path.dirname(absolute))
        return hidden is not None and _matches(hidden, os.path.basename(absolute), absolute, absolute, root)

    def _hidden_dir(self, directory: str, top: str) -> bool:
        if not directory.startswith(top + os.sep):
            return False
        known = self._hidden_dirs.get(directory)
        if known is None:
            known = self._hidden_here(directory) or self._hidden_dir(os.path.dirname(directory), top)
            self._hidden_dirs[directory] = known
        return known

    def named(self, path: Path) -> str:
        """A path named on the command line under `--force-exclude`: "pruned" when a default
        pattern matches it or a folder it is in (below its settings' root), "hidden" for a
        user pattern, "" when none does."""
        absolute = os.path.abspath(path)
        root = self._patterns(os.path.dirname(absolute))[2]
        top = root if absolute.startswith(root + os.sep) else os.path.dirname(absolute)
        current = absolute
        while current.startswith(top + os.sep):
            pruned, _, pattern_root, _ = self._patterns(os.path.dirname(current))
            if _matches(pruned, os.path.basename(current), current, current, pattern_root):
                return "pruned"
            current = os.path.dirname(current)
        return "hidden" if self.hides(absolute, top) else ""


def _matches(pattern: re.Pattern[str], name: str, reached: str, absolute: str, root: str) -> bool:
    if pattern.match(name):
        return True
    under_root = absolute.startswith(root + os.sep)
    relative = absolute[len(root) + 1 :] if under_root else reached
    return pattern.match(relative.replace(os.sep, "/")) is not None


def _plain_names(patterns: tuple[str, ...]) -> frozenset[str] | None:
    """The names, when every pattern is a plain name (the default excludes are): such a
    pattern matches an entry's path below the root only where it is the entry's own name
    (a path with no `/`), so the walk need not build that path. None for any glob or path."""
    names = [pattern.rstrip("/") for pattern in patterns]
    if any(not name or "/" in name or any(char in name for char in "*?[") for name in names):
        return None
    return frozenset(names)


@functools.lru_cache(maxsize=16)
def _exclude_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(fnmatch_translate(p.rstrip("/")) for p in patterns))


class Discovered(NamedTuple):
    files: list[str]  # sorted, as reached (relative to the working folder where named so)
    errors: list[FileError]
    facts_only: set[str]  # of `files`: excluded from the findings, read for facts


def discover(
    paths: Sequence[Path], settings: Settings | Configuration, *, force_exclude: bool = False
) -> Discovered:
    """Python files under `paths`, sorted, as paths relative to the working folder where
    they were named so. Files named explicitly are always checked, unless `force_exclude`
    (pre-commit names every file it passes: the excludes then still apply).

    Symbolic links met while walking a folder are not followed: one inside the tree leads
    to files the walk reaches anyway, one outside leads out of what was asked for (and a
    fix must never write there), and a loop leads nowhere. A file reached twice (named
    twice, or by two spellings) is checked once: fixing it twice would race with itself.
    """
    # Module names follow `__init__.py` files found on disk: not those of an earlier run in
    # this process (a library user's, a test's).
    forget_disk()
    configuration = settings if isinstance(settings, Configuration) else Configuration.of(settings)
    found: dict[str, str] = {}  # real path -> the path as reached
    hidden: set[str] = set()
    errors: list[FileError] = []
    excludes = _Excludes(configuration)
    for path in paths:
        verdict = excludes.named(path) if force_exclude and path.exists() else ""
        if verdict == "pruned":
            continue
        if path.is_dir():
            top = os.path.normpath(path)
            # No link below `top` is followed: the real path of a file found there is the
            # real path of `top` joined with the rest of its path.
            real_top = os.path.realpath(top)
            absolute_top = os.path.abspath(top)
            for file in _walk(top, excludes, errors):
                real = real_top + file[len(top) :]
                if real not in found:
                    found[real] = file
                    if verdict or (
                        excludes.any_hidden and excludes.hides(absolute_top + file[len(top) :], absolute_top)
                    ):
                        hidden.add(file)
        elif path.exists():
            real = os.path.realpath(path)
            if real not in found:
                found[real] = os.fspath(path)
                if verdict:
                    hidden.add(os.fspath(path))
        else:
            try:
                os.stat(path)
            except OSError as error:  # missing, or a link that loops or dangles
                errors.append(FileError(str(path), error.strerror or "No such file or directory"))
                continue
            found.setdefault(os.path.realpath(path), os.fspath(path))
    # Normalized as `Path` would show them (`./app.py` is `app.py`), in that order: paths,
    # not `Path`s, since a run with nothing changed needs no more.
    ordered = sorted(os.path.normpath(reached) for reached in found.values())
    facts_only = {os.path.normpath(reached) for reached in hidden}
    return Discovered(ordered, errors, facts_only)


def _walk(top: str, excludes: _Excludes, errors: list[FileError]) -> list[str]:
    ignores = [ignore for ignore in _ancestor_gitignores(top) if ignore is not None]
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    # Folders still to list, with the `.gitignore`s above them: a stack, not recursion, so
    # that no depth of folders runs out of Python's frames (1000 levels used to).
    pending = [(top, os.path.abspath(top), ignores)]
    while pending:
        directory, absolute, ignores = pending.pop()
        pending.extend(reversed(_walk_dir(directory, absolute, excludes, ignores, errors, seen, found)))
    return found


def _ancestor_gitignores(top: str) -> list[GitIgnore | None]:
    """`.gitignore` files between the repository root and `top` (inclusive of top)."""
    directory = Path(os.path.abspath(top))
    chain = [directory, *directory.parents]
    for index, candidate in enumerate(chain):
        if (candidate / ".git").exists():
            return [GitIgnore.load(str(d)) for d in reversed(chain[: index + 1])]
    return [GitIgnore.load(str(directory))]


_Folder = tuple[str, str, list[GitIgnore]]  # as reached, absolute, the `.gitignore`s that apply


def _walk_dir(
    directory: str,
    absolute: str,
    excludes: _Excludes,
    ignores: list[GitIgnore],
    errors: list[FileError],
    seen: set[tuple[int, int]],
    found: list[str],
) -> list[_Folder]:
    """The files of one folder into `found`, and its subfolders to walk (in order).

    Strings, not `Path`s, into one list (sorted by the caller), not through nested
    generators: the walk runs over every file on every run, and a warm run does little else."""
    try:
        stat = os.stat(directory)
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            return []  # a symlink loop, or a folder reached twice through links
        seen.add(key)
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError as error:
        errors.append(FileError(str(Path(directory)), error.strerror or str(error)))
        return []
    if any(entry.name == ".gitignore" for entry in entries):
        local = GitIgnore.load(absolute)
        if local is not None and all(ignore.base != local.base for ignore in ignores):
            ignores = [*ignores, local]
    prefix = absolute if absolute.endswith(os.sep) else absolute + os.sep
    folders: list[_Folder] = []
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
            folders.append((entry.path, entry_absolute, ignores))
        else:
            found.append(entry.path)
    return folders


class ProjectWalk:
    """Whether a walk of the project root reaches a file: below the root, through no
    symbolic link, with no folder or file on the way excluded or ignored by a `.gitignore`
    (what the walk decides folder by folder, asked of one path). The cache's facts of files
    outside a run count as the project's only for such files (see `passes.cached_neighbours`)."""

    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(settings.root)
        self.excludes = _Excludes(Configuration.of(settings))
        self._ignores: dict[str, list[GitIgnore]] = {
            self.root: [ignore for ignore in _ancestor_gitignores(self.root) if ignore is not None]
        }

    def reaches(self, path: str) -> bool:
        absolute = os.path.abspath(path)
        if not absolute.startswith(self.root + os.sep) or not absolute.endswith(PYTHON_SUFFIXES):
            return False
        parts = absolute[len(self.root) + 1 :].split(os.sep)
        directory = self.root
        ignores = self._ignores[directory]
        for index, name in enumerate(parts):
            entry = os.path.join(directory, name)
            is_dir = index < len(parts) - 1
            if os.path.islink(entry) or self.excludes.match(name, entry, entry):
                return False
            if _git_ignored(entry, is_dir, ignores):
                return False
            if is_dir:
                directory, ignores = entry, self._ignores_below(entry, ignores)
        return True

    def _ignores_below(self, directory: str, above: list[GitIgnore]) -> list[GitIgnore]:
        """The `.gitignore`s that apply inside `directory`: those `above` it, and its own."""
        known = self._ignores.get(directory)
        if known is None:
            local = GitIgnore.load(directory)
            known = self._ignores[directory] = [*above, local] if local is not None else above
        return known


def _git_ignored(absolute: str, is_dir: bool, ignores: list[GitIgnore]) -> bool:
    verdict = False
    for ignore in ignores:
        decided = ignore.ignores(absolute, is_dir)
        if decided is not None:
            verdict = decided
    return verdict


def package_layout(files: Sequence[str]) -> list[str]:
    """The folders holding an `__init__.py` that name these files' modules (see
    `roots.SourceRoots.identity`), for the cache's keys: one added or removed beside files named on the
    command line, or above a walked folder, is in no file list, yet renames modules.

    A warm run computes this over every file: folders are taken as the files spell them
    (the working folder is in the keys too), and one whose `__init__.py` is among the files
    needs no look at the disk. Above the spelled part, they go on as absolute paths."""
    listed = set(files)
    packages: dict[str, bool] = {}
    for folder in {file.rpartition(os.sep)[0] for file in files}:
        directory = folder
        while directory not in packages:
            init = os.path.join(directory, "__init__.py")
            is_package = packages[directory] = directory != os.sep and (
                init in listed or os.path.exists(init)
            )
            if not is_package:
                break
            parent = directory.rpartition(os.sep)[0]
            if not parent or directory == ".." or directory.endswith(os.sep + ".."):
                parent = os.path.abspath(os.path.join(directory, os.pardir))
            directory = parent
    return sorted(directory for directory, is_package in packages.items() if is_package)
