"""`check --show-settings`: the settings a file is checked with, and where each came from."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sessionlint.read.sources import display_path
from sessionlint.settings.config import SETTING_FIELDS, Settings
from sessionlint.settings.configuration import Configuration

# The options that replace a setting, and those that add to it.
_REPLACING = {"select": "--select", "exclude": "--exclude"}
_EXTENDING = {"ignore": "--ignore", "extend_select": "--extend-select", "extend_exclude": "--extend-exclude"}


def render_settings(configuration: Configuration, path: Path) -> str:
    """The settings of `path` (a file, or the files of a folder), one key a line, each with
    its origin: the configuration file, a command-line option, or the default."""
    config_file = configuration.config_file_for_dir(_folder(path))
    settings = configuration.settings_of(config_file)
    table = configuration.table(config_file)
    where = display_path(config_file) if config_file is not None else None
    lines = [
        f"Settings for {display_path(path)}",
        f"  configuration file: {where or 'none (the defaults)'}",
        f"  root: {display_path(settings.root)}  (per-file-ignores and excludes are relative to it)",
    ]
    for key, field_name in SETTING_FIELDS.items():
        value = getattr(settings, field_name)
        shown = dict(value) if field_name == "per_file_ignores" else list(value)
        lines.append(
            f"  {key} = {json.dumps(shown)}  # {_origin(key, field_name, table, where, configuration)}"
        )
    return "\n".join(lines) + "\n"


def configuration_summary(settings: Settings) -> list[str]:
    """`--verbose`: the configuration files a run used (with how many files each)."""
    if settings.per_file is None:
        return [_named(settings.config_file)]
    counts: dict[Path | None, int] = {}
    for own in settings.per_file.values():
        counts[own.config_file] = counts.get(own.config_file, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: str(item[0]))
    return [f"{_named(config_file)} ({count} files)" for config_file, count in ordered]


def _named(config_file: Path | None) -> str:
    if config_file is None:
        return "configuration: none found, the defaults"
    return f"configuration: {display_path(config_file)}"


def _origin(
    key: str, field_name: str, table: dict[str, object], where: str | None, configuration: Configuration
) -> str:
    given = configuration.overrides.get(field_name) is not None
    from_file = key in table and where is not None
    base = where if from_file else "default"
    if given and field_name in _REPLACING:
        return _REPLACING[field_name]
    if given and field_name in _EXTENDING:
        return f"{base} + {_EXTENDING[field_name]}"
    return base


def _folder(path: Path) -> str:
    absolute = os.path.abspath(path)
    return absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
