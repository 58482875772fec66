"""Which settings apply to which file: each file takes the nearest `pyproject.toml` with a
`[tool.sessionlint]` table above it, as ruff does (the nearest wins whole; tables are not
merged), or `--config` for every file; the command line's options apply on top.

A run over files of several configurations builds one model of the code: the names that
describe it (`dependency-names`, `session-factories`, `engine-constructors`) are those of
every configuration that applies, while what is reported (select, ignore, per-file-ignores)
stays each file's own (`run_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sessionlint.read.hashing import digest
from sessionlint.settings.config import (
    CONFIG_FILE_NAME,
    ConfigError,
    Settings,
    read_table,
    settings_from_table,
    with_overrides,
)

# A file's findings depend on its settings; a run's on every file's (see `run_settings`).
Overrides = Mapping[str, "tuple[str, ...] | None"]


class Configuration:
    """The configuration files of a run and the settings of each folder, found once per folder."""

    def __init__(
        self,
        known_codes: Iterable[str],
        *,
        config_file: Path | None = None,
        overrides: Overrides | None = None,
        default_root: Path | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.known_codes = frozenset(known_codes)
        self.forced = config_file.absolute() if config_file is not None else None
        self.overrides = dict(overrides or {})
        self.default_root = (default_root or Path.cwd()).absolute()
        self._fixed = settings
        self._config_by_dir: dict[str, Path | None] = {}
        self._settings: dict[Path | None, Settings] = {}
        self._tables: dict[Path, dict[str, Any] | None] = {}

    @classmethod
    def of(cls, settings: Settings) -> Configuration:
        """One `Settings` for every file, no configuration file looked for (library use)."""
        return cls((), settings=settings, default_root=settings.root)

    # -- per folder ----------------------------------------------------------------------

    def config_file_for_dir(self, directory: str) -> Path | None:
        """The configuration file that applies in this absolute folder (None: defaults)."""
        if self._fixed is not None:
            return self._fixed.config_file
        if self.forced is not None:
            return self.forced
        found = self._config_by_dir.get(directory, ...)
        if found is not ...:
            return found  # type: ignore[return-value]
        # Upwards until a folder already known or a configuration file; all folders on the way
        # share the answer (one `stat` per folder of the run, a TOML parse per pyproject.toml).
        visited = []
        current = os.path.normpath(directory)
        answer: Path | None = None
        while True:
            known = self._config_by_dir.get(current, ...)
            if known is not ...:
                answer = known  # type: ignore[assignment]
                break
            visited.append(current)
            candidate = os.path.join(current, CONFIG_FILE_NAME)
            if os.path.isfile(candidate) and self._table(Path(candidate)) is not None:
                answer = Path(candidate)
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for folder in (directory, *visited):
            self._config_by_dir[folder] = answer
        return answer

    def settings_for_dir(self, directory: str) -> Settings:
        """The settings of the files in this absolute folder."""
        if self._fixed is not None:
            return self._fixed
        return self.settings_of(self.config_file_for_dir(directory))

    def settings_for(self, path: str | os.PathLike[str]) -> Settings:
        """The settings of one file (or of the files in a folder, for a folder)."""
        absolute = os.path.abspath(path)
        return self.settings_for_dir(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))

    def settings_of(self, config_file: Path | None) -> Settings:
        """The settings a configuration file (None: none) gives, with the command line's."""
        if self._fixed is not None:
            return self._fixed
        cached = self._settings.get(config_file)
        if cached is not None:
            return cached
        if config_file is None:
            settings = Settings(root=self.default_root)
        else:
            table = self._table(config_file)
            if table is None:
                table = {}  # `--config` naming a file without the table: the defaults
            settings = settings_from_table(
                table,
                source=str(config_file),
                root=config_file.parent,
                known_codes=self.known_codes,
                config_file=config_file,
            )
        settings = with_overrides(settings, **self.overrides)
        self._settings[config_file] = settings
        return settings

    def table(self, config_file: Path | None) -> dict[str, Any]:
        """The `[tool.sessionlint]` table of a configuration file ({} for none)."""
        return (self._table(config_file) if config_file is not None else None) or {}

    def _table(self, path: Path) -> dict[str, Any] | None:
        if path not in self._tables:
            self._tables[path] = read_table(path, required=path == self.forced)
        return self._tables[path]

    # -- per run -------------------------------------------------------------------------

    def run_settings(self, files: Sequence[tuple[str, str]], facts_only: Iterable[str] = ()) -> Settings:
        """The settings of a run over `files` ((path, display) pairs): each file's own when
        they differ (`Settings.per_file`), and `facts_only`, the displays of files excluded
        from the findings that still inform the model (see `files.discover`)."""
        cwd = os.getcwd()
        # Looked up per folder (as spelled), not per file: this runs on every warm run.
        by_folder: dict[str, Settings] = {}
        of_file = []
        for path, _ in files:
            folder = path.rpartition(os.sep)[0]
            settings = by_folder.get(folder)
            if settings is None:
                settings = self.settings_for_dir(os.path.normpath(os.path.join(cwd, folder)))
                by_folder[folder] = settings
            of_file.append(settings)
        distinct = list({id(settings): settings for settings in by_folder.values()}.values())
        hidden = frozenset(facts_only)
        if len(distinct) <= 1:
            settings = distinct[0] if distinct else self.settings_for_dir(str(self.default_root))
            return replace(settings, facts_only=hidden) if hidden else settings
        by_display = {display: settings for (_, display), settings in zip(files, of_file)}
        return _merged(distinct, by_display, hidden, self.known_codes, self.project_root(distinct))

    def project_root(self, used: Sequence[Settings]) -> Path:
        """Where the run's cache lives: the folder of the configuration that applies, or the
        common folder of all that apply (and of the checked paths, for files under none)."""
        folders = {str(settings.root) for settings in used}
        if not folders:
            return self.default_root
        return Path(os.path.commonpath(sorted(folders))) if len(folders) > 1 else Path(folders.pop())


def default_root_of(paths: Sequence[Path]) -> Path:
    """The common folder of the checked paths (a file's folder for a file)."""
    folders = []
    for path in paths:
        absolute = os.path.abspath(path)
        folders.append(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


def _merged(
    distinct: Sequence[Settings],
    by_display: dict[str, Settings],
    facts_only: frozenset[str],
    known_codes: frozenset[str],
    root: Path,
) -> Settings:
    """One model's settings over files of several configurations (see the module's docstring)."""
    selected = sorted(code for code in known_codes if any(s.is_selected(code) for s in distinct))
    # Which folder takes which configuration changes findings: it is part of the cache key.
    keys = {id(settings): f"{settings.fingerprint()}@{settings.root}" for settings in distinct}
    pairs = sorted(f"{display}={keys[id(settings)]}" for display, settings in by_display.items())
    scope = digest("\0".join(pairs).encode("utf-8", "surrogateescape"), 8)
    return Settings(
        select=tuple(selected),
        dependency_names=_union(s.dependency_names for s in distinct),
        session_factories=_union(s.session_factories for s in distinct),
        engine_constructors=_union(s.engine_constructors for s in distinct),
        root=root,
        per_file=by_display,
        facts_only=facts_only,
        scope=scope,
    )


def _union(lists: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for names in lists for name in names))


__all__ = ["ConfigError", "Configuration", "default_root_of"]
