"""The `sessionlint` command: argument plumbing only; the work is in `run` and `output`."""

from __future__ import annotations

import errno
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from sessionlint import __version__
from sessionlint.entry import streams
from sessionlint.entry.adoption import Adoption, adoption_options, after_run, show_files
from sessionlint.entry.run import RunOptions, RunReport, check_paths, check_stdin
from sessionlint.report.formats import FORMATS
from sessionlint.settings.codes import KNOWN_CODES
from sessionlint.settings.config import ConfigError, normalized_codes, validate_codes
from sessionlint.settings.configuration import Configuration, default_root_of

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a run ended by Ctrl-C


def _codes(value: str | None, option: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    codes = tuple(normalized_codes(code for code in value.split(",") if code.strip()))
    validate_codes(codes, f"option `{option}`", KNOWN_CODES)
    return codes


def _patterns(values: Sequence[str]) -> tuple[str, ...] | None:
    patterns = tuple(p.strip() for value in values for p in value.split(",") if p.strip())
    return patterns or None


def _collect_garbage_rarely() -> None:
    """Run the cyclic garbage collector rarely: a run builds millions of small, long-lived
    objects (syntax trees, facts) and almost no cycles, so the collector's default pace
    re-scans that heap over and over. Measured on four large packages: 17 s -> 8 s, same
    peak memory. Only the command does this; the library leaves its host's collector alone."""
    gc.set_threshold(100_000, 20, 100)


class _Guarded(click.Group):
    """Any exception the run did not turn into a report (a bug) ends in one line and exit 2,
    never a raw traceback; `--verbose` adds the traceback. Per-file failures never get here:
    the engine reports them as internal errors naming the file and goes on."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)  # Ctrl-C: no traceback (click would say "Aborted!", exit 1)
        except streams.OutputUnavailable as error:
            streams.abandon_stdout()
            click.echo(f"error: cannot write to standard output: {error}", err=True)
            ctx.exit(EXIT_ERROR)
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise  # click handles a closed pipe (`sessionlint check | head`)
            self._report(ctx, error)
        except Exception as error:
            self._report(ctx, error)
        return None  # unreachable: _report exits

    @staticmethod
    def _report(ctx: click.Context, error: Exception) -> None:
        verbose = ctx.meta.get("sessionlint.verbose", False)
        click.echo(
            f"error: internal error: {error.__class__.__name__}: {error}"
            + ("" if verbose else " (run with --verbose for the traceback)"),
            err=True,
        )
        if verbose:
            import traceback  # only now: most runs never show one

            click.echo(traceback.format_exc(), err=True)
        ctx.exit(EXIT_ERROR)


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sessionlint")
def main() -> None:
    """Find and fix database-session anti-patterns in FastAPI + SQLAlchemy code."""


_CHECK_HELP = """Check PATHS (files or folders; default `.`; `-`, or no path with
`--stdin-filename`, reads stdin).

Each file is checked with the settings of the nearest pyproject.toml with a
[tool.sessionlint] table above it (`--config` gives one file for all). The cache lives in
`.sessionlint_cache/` at that file's folder (else the checked paths' common folder).

Only files that name a database library (SQLAlchemy, SQLModel, the configured names) and
spell a name the rules are about are parsed, with the files they import from: a syntax
error in any other file is not reported (it cannot hold a finding, and parsing every file
would cost every run). A file named on the command line is always parsed.
"""


@main.command(help=_CHECK_HELP)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--select", help="Comma-separated codes or prefixes to enable (replaces the configured list).")
@click.option("--extend-select", help="Comma-separated codes or prefixes to enable in addition.")
@click.option("--ignore", help="Comma-separated codes or prefixes to disable.")
@click.option(
    "--exclude",
    multiple=True,
    help="Glob patterns of files and folders to skip (replaces defaults).",
)
@click.option("--extend-exclude", multiple=True, help="Glob patterns to skip in addition to the defaults.")
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply the excludes to paths named on the command line too (for pre-commit and editors).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file for every checked file (default: each file's nearest pyproject.toml).",
)
@click.option(
    "--show-settings",
    is_flag=True,
    help="Print the settings each of PATHS is checked with, and where each came from; check nothing.",
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output-file",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report (or the diff) here.",
)
@click.option("--statistics", is_flag=True, help="Show counts per rule instead of each finding.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), help="Cache folder.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: CPU count).")
@click.option("--stdin-filename", help="Read stdin, checked as this file (its settings, its exemptions).")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show the configuration files used, the work done, and tracebacks of internal errors.",
)
@adoption_options
def check(
    paths: tuple[Path, ...],
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    force_exclude: bool,
    config_file: Path | None,
    show_settings: bool,
    output_format: str,
    output_file: Path | None,
    statistics: bool,
    exit_zero: bool,
    no_cache: bool,
    cache_dir: Path | None,
    jobs: int | None,
    stdin_filename: str | None,
    quiet: bool,
    verbose: bool,
    **adopting: Any,
) -> None:
    click.get_current_context().meta["sessionlint.verbose"] = verbose
    streams.leave_at_once()
    adoption = Adoption(**adopting)
    _collect_garbage_rarely()
    reading_stdin = paths == (Path("-"),) or (not paths and stdin_filename is not None)
    paths = paths or (Path("."),)
    try:
        if config_file is not None and not config_file.is_file():
            raise ConfigError(f"{config_file}: configuration file not found")
        configuration = Configuration(
            KNOWN_CODES,
            config_file=config_file,
            overrides={
                "select": _codes(select, "--select"),
                "extend_select": _codes(extend_select, "--extend-select"),
                "ignore": _codes(ignore, "--ignore"),
                "exclude": _patterns(exclude),
                "extend_exclude": _patterns(extend_exclude),
            },
            default_root=Path.cwd() if reading_stdin else default_root_of(paths),
        )
        if show_settings:
            from sessionlint.report.formats.settings import render_settings

            click.echo("\n".join(render_settings(configuration, path) for path in paths), nl=False)
            return
        adoption.check_usage(fix=fix, diff=diff, stdin=reading_stdin)
        if adoption.show_files:
            show_files(paths, configuration, force_exclude=force_exclude)
            return
        options = RunOptions(
            fix=fix,
            unsafe_fixes=unsafe_fixes,
            diff=diff,
            use_cache=not no_cache,
            cache_dir=cache_dir,
            jobs=jobs,
            force_exclude=force_exclude,
        )
        report_to_stderr = False
        if reading_stdin:
            settings = configuration.settings_for(stdin_filename or ".")
            report, fixed_source = check_stdin(
                sys.stdin.buffer.read(), stdin_filename or "-", settings, options
            )
            report.settings = settings
            if fix and not diff and fixed_source is not None:
                # stdout is the fixed file, byte for byte (an editor replaces its buffer with it):
                # what remains to report goes to stderr.
                streams.write_bytes(fixed_source)
                quiet = report_to_stderr = True
        else:
            report = check_paths(list(paths), configuration, options)
        finished = after_run(report, adoption)
        if finished is not None:
            sys.exit(finished)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    sys.exit(
        _emit(
            report,
            output_format,
            output_file,
            statistics,
            quiet,
            verbose,
            exit_zero,
            options,
            err=report_to_stderr,
            show_fixes=adoption.show_fixes,
        )
    )


def _emit(
    report: RunReport,
    output_format: str,
    output_file: Path | None,
    statistics: bool,
    quiet: bool,
    verbose: bool,
    exit_zero: bool,
    options: RunOptions,
    *,
    err: bool = False,
    show_fixes: bool = False,
) -> int:
    from sessionlint.report.formats import render_report

    if options.diff:
        if output_file is not None:
            _write_output(output_file, report.diff_bytes())
        else:
            streams.echo(report.diff_bytes(), nl=False)
        if not quiet:
            click.echo(
                f"Would fix {report.fixed_count} problem(s) in {len(report.fixed_files)} file(s).",
                err=True,
            )
    elif not (options.fix and report.diagnostics == [] and quiet):
        stream = sys.stderr if err else sys.stdout
        color = (
            output_file is None
            and stream is not None
            and stream.isatty()
            and output_format in ("text", "full")
        )
        text = render_report(
            output_format,
            report,
            color=color,
            statistics=statistics,
            quiet=quiet,
            unsafe_fixes=options.unsafe_fixes,
            fixed=report.fixed_count if options.fix else 0,
            show_fixes=("applied" if options.fix else "available") if show_fixes else None,
        )
        if output_file is not None:
            _write_output(output_file, text.encode("utf-8"))
        else:
            streams.echo(text, nl=False, err=err)
    report.lap("output")
    for error in report.internal_errors:
        click.echo(
            f"error: internal error in {error.rule} on {error.path}:{error.row}: {error.message}"
            + ("" if verbose else " (run with --verbose for the traceback)"),
            err=True,
        )
        if verbose:
            click.echo(error.traceback, err=True)
    for message in report.write_errors:
        click.echo(f"error: {message}", err=True)
    if verbose:
        if report.settings is not None:
            from sessionlint.report.formats.settings import configuration_summary

            for line in configuration_summary(report.settings):
                click.echo(f"sessionlint: {line}", err=True)
        click.echo(f"sessionlint: {report.work_summary()}", err=True)
        click.echo(f"sessionlint: time per phase: {report.phase_summary()}", err=True)
    if report.internal_errors or report.write_errors:
        return EXIT_ERROR
    if options.diff:
        return EXIT_FINDINGS if report.fixed_files and not exit_zero else EXIT_CLEAN
    return EXIT_FINDINGS if report.diagnostics and not exit_zero else EXIT_CLEAN


def _write_output(output_file: Path, data: bytes) -> None:
    try:
        output_file.write_bytes(data)
    except OSError as error:
        click.echo(f"error: cannot write the report to {output_file}: {error.strerror or error}", err=True)
        sys.exit(EXIT_ERROR)


@main.command("clean")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Configuration file (its folder holds the cache).",
)
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), help="Cache folder.")
def clean_command(paths: tuple[Path, ...], config_file: Path | None, cache_dir: Path | None) -> None:
    """Remove the cache of the project PATHS belong to (default `.`), and any cache below them."""
    from sessionlint.entry.clean import caches_of, remove
    from sessionlint.read.sources import display_path

    paths = paths or (Path("."),)
    try:
        configuration = Configuration(
            KNOWN_CODES, config_file=config_file, default_root=default_root_of(paths)
        )
        folders = caches_of(paths, configuration, cache_dir)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    if not folders:
        click.echo("No cache to remove.")
    for folder in folders:
        count = remove(folder)
        if count is None:
            click.echo(
                f"error: {display_path(folder)} holds files sessionlint did not write: not removed", err=True
            )
            sys.exit(EXIT_ERROR)
        click.echo(f"Removed {display_path(folder)} ({count} files)")


@main.command("rules")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def rules_command(output_format: str) -> None:
    """List the rules."""
    import shutil

    from sessionlint.report.formats.rules import render_rules

    # On a terminal, one line per rule: summaries are cut to its width.
    width = shutil.get_terminal_size().columns if streams.is_terminal() else None
    streams.echo(render_rules(output_format, width=width), nl=False)


_SERVER_HELP = """Run the language server (LSP over stdin and stdout) for editors.

An editor starts it as `sessionlint server` in a Python environment where sessionlint is
installed with its server extra (`pip install 'sessionlint[server]'`), for Python files,
with the project's folder as the workspace folder. It shows the findings as you type, with
the other modules' facts, offers the fixes and "ignore on this line" as code actions
(`source.fixAll.sessionlint` applies the safe fixes) and explains a finding on hover.
Set-ups for VS Code, Neovim, Helix and Zed: docs/integrations.md.
"""


@main.command("server", help=_SERVER_HELP)
def server_command() -> None:
    from sessionlint.entry.server import INSTALL_HINT, missing_dependencies

    missing = missing_dependencies()
    if missing:
        click.echo(f"error: `sessionlint server` needs {', '.join(missing)}: {INSTALL_HINT}", err=True)
        sys.exit(EXIT_ERROR)
    from sessionlint.entry.server import serve

    serve()


@main.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print a rule's documentation page."""
    from sessionlint.report.formats.rules import render_rule_page

    page = render_rule_page(code, color=streams.is_terminal())
    if page is None:
        raise click.UsageError(f"unknown rule `{code}` (see `sessionlint rules`)")
    streams.echo(page, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
