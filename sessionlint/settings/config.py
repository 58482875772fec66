"""`[tool.sessionlint]` in the nearest pyproject.toml, validated into frozen `Settings`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

from sessionlint.facts.vocabulary import DEFAULT_DEPENDENCY_NAMES
from sessionlint.read.hashing import digest
from sessionlint.settings.codes import OPT_IN_CODES

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "build",
    "dist",
    "node_modules",
    "__pycache__",
    "site-packages",
    ".sessionlint_cache",
)
PARSE_ERROR_CODE = "SL000"
_FAMILY = "SL"
CONFIG_FILE_NAME = "pyproject.toml"


class ConfigError(Exception):
    """Bad configuration or usage: reported with exit code 2."""


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("SL",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    dependency_names: tuple[str, ...] = DEFAULT_DEPENDENCY_NAMES
    session_factories: tuple[str, ...] = ()
    engine_constructors: tuple[str, ...] = ()
    # Source roots (globs relative to `root`), as ruff's `src`: see `roots`.
    src: tuple[str, ...] = ()
    root: Path = field(default_factory=Path.cwd, compare=False)
    config_file: Path | None = field(default=None, compare=False)
    # A run over files of several configurations (`configuration.Configuration.run_settings`):
    # each file's own settings by display path, and a digest of that mapping.
    per_file: Mapping[str, Settings] | None = field(default=None, compare=False, repr=False)
    scope: str = ""
    # Files excluded from the findings that still inform the model (`files.discover`).
    facts_only: frozenset[str] = frozenset()
    # `baseline = "..."`, relative to the configuration's folder (see `sessionlint.report.baseline`):
    # it hides findings from the report, never changes them.
    baseline: Path | None = field(default=None, compare=False)

    def is_selected(self, code: str, path: str | None = None) -> bool:
        """Selected unless a more specific (or equally specific) ignore matches."""
        if path is not None:
            if path in self.facts_only:
                return False
            own = self.per_file.get(path) if self.per_file is not None else None
            if own is not None:
                return own.is_selected(code, path)
        ignores = list(self.ignore)
        if path is not None:
            ignores += self.ignored_codes_for(path)
        selectors: Iterable[str] = (*self.select, *self.extend_select)
        if code in OPT_IN_CODES:
            selectors = [s for s in selectors if s == "ALL" or len(s) > len(_FAMILY)]
        chosen = _best_match(code, selectors)
        if chosen is None:
            return code == PARSE_ERROR_CODE and _best_match(code, ignores) is None
        ignored = _best_match(code, ignores)
        return ignored is None or len(ignored) < len(chosen)

    def ignored_codes_for(self, path: str) -> list[str]:
        relative = _relative_posix(Path(path), self.root)
        codes: list[str] = []
        for pattern, pattern_codes in self.per_file_ignores:
            if _glob_matches(relative, pattern):
                codes.extend(pattern_codes)
        return codes

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return self.exclude + self.extend_exclude

    def fingerprint(self) -> str:
        """A digest of everything that changes results (the cache key's settings part),
        the project root included: `per-file-ignores` patterns are relative to it, and
        facts cached for one project must never answer for another's files."""
        data = {
            name: getattr(self, name)
            for name in (f.name for f in fields(self))
            if name not in ("root", "config_file", "per_file", "facts_only", "baseline")
        }
        data["facts_only"] = sorted(self.facts_only)
        data["root"] = str(_resolved(self.root))
        return digest(json.dumps(data, sort_keys=True, default=str).encode("utf-8", "surrogateescape"), 8)


def _best_match(code: str, selectors: Iterable[str]) -> str | None:
    matches = [s for s in selectors if s == "ALL" or code.startswith(s)]
    return max(matches, key=lambda s: 0 if s == "ALL" else len(s), default=None)


def _relative_posix(path: Path, root: Path) -> str:
    try:
        return _resolved(path).relative_to(_resolved(root)).as_posix()
    except ValueError:
        return path.as_posix()


def _resolved(path: Path) -> Path:
    """`path.resolve()`, or its absolute form where links loop (its SL000 says so)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _glob_matches(relative: str, pattern: str) -> bool:
    if "/" not in pattern.rstrip("/"):
        return fnmatch(PurePosixPath(relative).name, pattern) or fnmatch(relative, pattern)
    return fnmatch(relative, pattern.lstrip("./")) or PurePosixPath(relative).match(pattern)


# -- loading ------------------------------------------------------------------------------

_LIST_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "extend-select": "extend_select",
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "dependency-names": "dependency_names",
    "session-factories": "session_factories",
    "engine-constructors": "engine_constructors",
    "src": "src",
}
_CODE_KEYS = ("select", "ignore", "extend-select")
_KNOWN_KEYS = (*_LIST_KEYS, "per-file-ignores", "baseline")
# Every key of `[tool.sessionlint]` and the `Settings` field it sets.
SETTING_FIELDS = {**_LIST_KEYS, "per-file-ignores": "per_file_ignores"}


def find_config_file(paths: Sequence[Path]) -> Path | None:
    """The nearest pyproject.toml with a `[tool.sessionlint]` table above the first path
    (a run finds one per folder: `configuration.Configuration`)."""
    start = _resolved(paths[0] if paths else Path.cwd())
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if candidate.is_file() and read_table(candidate) is not None:
            return candidate
    return None


def read_table(path: Path, *, required: bool = False) -> dict[str, Any] | None:
    """The `[tool.sessionlint]` table of a pyproject.toml; None when it has none. A file that
    does not name the tool is not parsed (most pyproject.toml files of a tree); `required`
    (for `--config`) parses it anyway, and reports it when it cannot be read."""
    if not required:
        try:
            with path.open("rb") as handle:
                if b"sessionlint" not in handle.read():
                    return None
        except OSError:
            return None
    tool = _tool_table(_read_toml(path), path)
    if "sessionlint" not in tool:
        return None
    table = tool["sessionlint"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.sessionlint] must be a table")
    return table


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported when there is a file to read: most folders a run starts from hold none.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11 only
        import tomli as tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not valid TOML: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except (RecursionError, MemoryError):
        # Valid TOML can nest deeper than the parser's recursion (a 100 000-deep array).
        raise ConfigError(f"{path}: cannot read: its TOML nests too deeply") from None


def _tool_table(document: dict[str, Any], path: Path) -> dict[str, Any]:
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table, got {type(tool).__name__}")
    return tool


def load_settings(paths: Sequence[Path], config_file: Path | None, known_codes: Iterable[str]) -> Settings:
    """Settings from `--config` or the nearest pyproject.toml, or the defaults."""
    path = config_file or find_config_file(paths)
    if path is None:
        return Settings()
    table = read_table(path, required=True) or {}
    return settings_from_table(
        table,
        source=str(path),
        root=path.parent,
        known_codes=frozenset(known_codes),
        config_file=path,
    )


def settings_from_table(
    table: dict[str, Any],
    *,
    source: str,
    root: Path,
    known_codes: frozenset[str],
    config_file: Path | None = None,
) -> Settings:
    values: dict[str, Any] = {"root": root, "config_file": config_file}
    for key, value in table.items():
        if key not in _KNOWN_KEYS:
            raise ConfigError(
                f"{source}: unknown key `{key}` in [tool.sessionlint] (known: {', '.join(_KNOWN_KEYS)})"
            )
        if key == "per-file-ignores":
            values["per_file_ignores"] = _per_file_ignores(value, source, known_codes)
            continue
        if key == "baseline":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{source}: `baseline` must be a file path, got {value!r}")
            values["baseline"] = root / value
            continue
        items = _string_list(value, key, source)
        if key in _CODE_KEYS:
            items = normalized_codes(items)
            validate_codes(items, f"{source}: `{key}`", known_codes)
        if key == "src" and not all(item.strip() for item in items):
            raise ConfigError(f"{source}: `src` entries must be folder paths or globs, got {value!r}")
        values[_LIST_KEYS[key]] = tuple(items)
    return Settings(**values)


def _string_list(value: Any, key: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{source}: `{key}` must be a list of strings, got {type(value).__name__}: {value!r}"
        )
    return value


def _per_file_ignores(
    value: Any, source: str, known_codes: frozenset[str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: `per-file-ignores` must be a table of glob = [codes]")
    entries = []
    for pattern, codes in value.items():
        items = normalized_codes(_string_list(codes, f"per-file-ignores.{pattern}", source))
        validate_codes(items, f"{source}: `per-file-ignores.{pattern}`", known_codes)
        entries.append((pattern, tuple(items)))
    return tuple(entries)


def normalized_codes(selectors: Iterable[str]) -> list[str]:
    """Codes and prefixes as written in any case (`sl002`, `Sl`): rule codes are upper case."""
    return [selector.strip().upper() for selector in selectors]


def validate_codes(selectors: Iterable[str], where: str, known_codes: frozenset[str]) -> None:
    for selector in selectors:
        if selector != "ALL" and not any(code.startswith(selector) for code in known_codes):
            raise ConfigError(f"{where}: unknown rule code or prefix `{selector}`")


def with_overrides(settings: Settings, **overrides: tuple[str, ...] | None) -> Settings:
    """Command-line options replace (select, exclude) or extend (ignore, extend-*) the file's."""
    changes: dict[str, tuple[str, ...]] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("ignore", "extend_select", "extend_exclude"):
            changes[key] = getattr(settings, key) + value
        else:
            changes[key] = value
    return replace(settings, **changes)
