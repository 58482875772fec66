"""`check` options for adopting sessionlint on an existing codebase: `--add-noqa`,
`--baseline` / `--write-baseline`, `--show-fixes`, `--show-files`. The command's plumbing
for them lives here, to keep `cli` small; the work is in `add_noqa` and `baseline`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from sessionlint.entry import streams
from sessionlint.report.run import RunReport
from sessionlint.settings.config import ConfigError
from sessionlint.settings.configuration import Configuration

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(path_type=Path, dir_okay=False)
_OPTIONS = (
    click.option(
        "--add-noqa",
        is_flag=True,
        help="Add `# noqa: SLxxx` to every line with a finding (merged into an existing `# noqa:`).",
    ),
    click.option(
        "--baseline",
        type=_FILE,
        help="Hide the findings this baseline file records (default: `baseline` in the configuration).",
    ),
    click.option("--write-baseline", type=_FILE, help="Record today's findings in this file, and exit 0."),
    click.option("--show-fixes", is_flag=True, help="List the fixes applied (with --fix) or available."),
    click.option("--show-files", is_flag=True, help="List the files a run would check, and exit 0."),
)


def adoption_options(function: F) -> F:
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


@dataclass(frozen=True)
class Adoption:
    add_noqa: bool = False
    baseline: Path | None = None
    write_baseline: Path | None = None
    show_fixes: bool = False
    show_files: bool = False

    def check_usage(self, *, fix: bool, diff: bool, stdin: bool) -> None:
        """Combinations that make no sense are usage errors (exit 2)."""
        if self.add_noqa and (fix or diff):
            raise ConfigError("--add-noqa cannot be combined with --fix or --diff")
        if stdin and (self.add_noqa or self.write_baseline or self.show_files):
            raise ConfigError("--add-noqa, --write-baseline and --show-files need files, not stdin")
        if self.write_baseline is not None and (fix or diff or self.add_noqa):
            raise ConfigError(
                "--write-baseline records findings: it cannot be combined with --fix, --diff or --add-noqa"
            )


def show_files(paths: Sequence[Path], configuration: Configuration, *, force_exclude: bool) -> None:
    """Print the files a check of `paths` would report on, one a line, sorted."""
    from sessionlint.read.inputs import find_files

    files, _, _, facts_only = find_files(paths, configuration, force_exclude=force_exclude)
    shown = sorted(file.display for file in files if file.display not in facts_only)
    streams.echo("".join(f"{display}\n" for display in shown), nl=False)


def after_run(report: RunReport, adoption: Adoption, stdin: bool = False) -> int | None:
    """Act on the run's findings: add the noqa comments or write the baseline (then the
    command ends with the exit code returned), or hide what the baseline records (None:
    the report goes on)."""
    from sessionlint.report import baseline

    settings = report.settings
    if adoption.add_noqa:
        return _add_noqa(report)
    if adoption.write_baseline is not None:
        root = adoption.write_baseline.absolute().parent
        count = baseline.write(adoption.write_baseline, report.diagnostics, root)
        click.echo(f"Wrote {count} finding(s) to the baseline {adoption.write_baseline}.", err=True)
        return 0
    path = adoption.baseline or (baseline.configured(settings) if settings is not None else None)
    if path is not None:
        recorded = baseline.load(path)
        root = path.absolute().parent
        report.diagnostics, report.baselined = baseline.hide(report.diagnostics, recorded, root)
    return None


def _add_noqa(report: RunReport) -> int:
    from sessionlint.fixes.add_noqa import add_noqa

    outcome = add_noqa(report.diagnostics)
    for line in outcome.skipped:
        click.echo(f"{line}: no `# noqa` added", err=True)
    for line in outcome.errors:
        click.echo(f"error: {line}", err=True)
    noun = "code" if outcome.added == 1 else "codes"
    click.echo(f"Added {outcome.added} noqa {noun} in {outcome.files} file(s).", err=True)
    if outcome.errors:
        return 2
    return 1 if outcome.skipped else 0
