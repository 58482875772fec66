"""Formatters: one module per output format, each a `render(diagnostics, ...) -> str`."""

from __future__ import annotations

FORMATS = ("text", "full", "json", "sarif", "github", "gitlab", "junit", "rdjson")


def render_report(
    output_format: str,
    report,  # type: ignore[no-untyped-def]  # RunReport; imported lazily to keep this module light
    *,
    color: bool,
    statistics: bool,
    quiet: bool,
    unsafe_fixes: bool,
    fixed: int,
    show_fixes: str | None = None,
) -> str:
    """The report in the chosen format; `show_fixes` ("applied" or "available") adds the
    `--show-fixes` section to the text format."""
    diagnostics = report.diagnostics
    if statistics:
        from sessionlint.report.formats import text

        if output_format == "json":
            from sessionlint.report.formats import json

            return json.render_statistics(text.counts(diagnostics))
        # A table per rule, then the summary line of a run (ruff's shape).
        table = text.statistics(diagnostics)
        lines = [table] if table else []
        if not quiet:
            lines.append(
                text.summary(diagnostics, fixed=fixed, unsafe_fixes=unsafe_fixes, baselined=report.baselined)
            )
        return "\n".join(lines) + ("\n" if lines else "")
    if output_format == "json":
        from sessionlint.report.formats import json

        return json.render(diagnostics)
    if output_format == "sarif":
        from sessionlint.report.formats import sarif

        return sarif.render(diagnostics, internal_errors=report.internal_errors)
    if output_format in ("github", "gitlab", "junit", "rdjson"):
        import importlib

        return importlib.import_module(f"sessionlint.report.formats.{output_format}").render(diagnostics)
    from sessionlint.report.formats import text

    # `full` is `text` with each finding's source, evidence and fix shown below its line.
    if output_format == "full":
        from sessionlint.report.formats import full as lines_format
    else:
        lines_format = text
    rendered = lines_format.render(
        diagnostics,
        color=color,
        show_summary=not quiet and not show_fixes,
        fixed=fixed,
        unsafe_fixes=unsafe_fixes,
        baselined=report.baselined,
    )
    if not show_fixes:
        return rendered
    from sessionlint.report.formats import fixes

    # Between the findings and the summary, as ruff prints it.
    section = (
        fixes.applied(report.fixed_files)
        if show_fixes == "applied"
        else fixes.available(diagnostics, unsafe_fixes=unsafe_fixes)
    )
    lines = [rendered.rstrip("\n")] if rendered else []
    lines.append(section)
    if not quiet:
        lines.append(
            text.summary(diagnostics, fixed=fixed, unsafe_fixes=unsafe_fixes, baselined=report.baselined)
        )
    return "\n".join(lines) + "\n"
