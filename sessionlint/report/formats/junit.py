"""JUnit XML, the test report most CI systems show (GitLab `reports: junit`, Jenkins, Azure).

One `<testsuite>` per file with findings, one failed `<testcase>` per finding; a run with
no findings is one passing test case, so that a CI page shows the check ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree

from sessionlint.report.diagnostics import Diagnostic

SUITES = "sessionlint"


def _case(diagnostic: Diagnostic) -> ElementTree.Element:
    row, column = diagnostic.location.row, diagnostic.location.column
    case = ElementTree.Element(
        "testcase",
        name=f"{diagnostic.code} {diagnostic.name} ({diagnostic.path}:{row}:{column})",
        classname=diagnostic.path,
        file=diagnostic.path,
        line=str(row),
    )
    failure = ElementTree.SubElement(case, "failure", message=diagnostic.message, type=diagnostic.code)
    failure.text = (
        f"{diagnostic.path}:{row}:{column}: {diagnostic.code} {diagnostic.message}\n{diagnostic.url}"
    )
    return case


def render(diagnostics: Sequence[Diagnostic]) -> str:
    by_file: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        by_file.setdefault(diagnostic.path, []).append(diagnostic)
    root = ElementTree.Element(
        "testsuites", name=SUITES, tests=str(max(len(diagnostics), 1)), failures=str(len(diagnostics))
    )
    if not by_file:
        suite = ElementTree.SubElement(root, "testsuite", name=SUITES, tests="1", failures="0", errors="0")
        ElementTree.SubElement(suite, "testcase", name="no problems found", classname=SUITES)
    for path, found in by_file.items():
        suite = ElementTree.SubElement(
            root, "testsuite", name=path, tests=str(len(found)), failures=str(len(found)), errors="0"
        )
        suite.extend(_case(d) for d in found)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
