"""SARIF 2.1.0 (OASIS), the format GitHub code scanning and other SAST dashboards read.

One run: the tool's driver lists every rule (and SL000) with its documentation, each
result points at its rule by id and index, with a region and, when a fix exists, the fix
as replacements. Columns are counted in Unicode code points (`columnKind`), as the rest of
sessionlint counts them; regions end one past their last character, as SARIF wants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from sessionlint import __version__
from sessionlint.report.diagnostics import Applicability, Diagnostic, Edit, Fix, Location, Related
from sessionlint.report.formats.rules import RuleDoc, rule_docs

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/sessionlint/sessionlint"
SOURCE_ROOT = "%SRCROOT%"
LEVEL = "error"


def _descriptor(doc: RuleDoc) -> dict[str, Any]:
    full = "\n\n".join(
        body for heading, body in doc.sections() if heading in ("What it does", "Why is this bad?")
    )
    return {
        "id": doc.code,
        "name": doc.name,
        "shortDescription": {"text": doc.summary},
        "fullDescription": {"text": " ".join(full.split()) or doc.summary},
        "help": {"text": doc.plain_text(), "markdown": doc.markdown()},
        "helpUri": doc.url,
        "defaultConfiguration": {"level": LEVEL},
        "properties": {"fix": doc.fix.value},
    }


def _artifact(path: str) -> dict[str, str]:
    """Relative paths stay relative to the source root (the working directory)."""
    posix = PurePosixPath(path)
    if posix.is_absolute() or Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(posix.as_posix()), "uriBaseId": SOURCE_ROOT}


def _directory_uri(directory: Path) -> str:
    uri = directory.absolute().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _region(start: Location, end: Location) -> dict[str, int]:
    return {
        "startLine": start.row,
        "startColumn": start.column,
        "endLine": end.row,
        "endColumn": end.column,
    }


def _replacement(edit: Edit) -> dict[str, Any]:
    return {
        "deletedRegion": _region(edit.location, edit.end_location),
        "insertedContent": {"text": edit.content},
    }


def _fix(fix: Fix, path: str) -> dict[str, Any]:
    safety = "safe" if fix.applicability is Applicability.SAFE else "unsafe"
    return {
        "description": {"text": f"{fix.title} ({safety} fix)" if fix.title else f"{safety} fix"},
        "artifactChanges": [
            {
                "artifactLocation": _artifact(path),
                "replacements": [_replacement(edit) for edit in fix.edits],
            }
        ],
        "properties": {"applicability": fix.applicability.value},
    }


def _related(related: Related, number: int) -> dict[str, Any]:
    """A fact the result stands on (`relatedLocations`: ids unique within the result)."""
    return {
        "id": number,
        "physicalLocation": {
            "artifactLocation": _artifact(related.path),
            "region": _region(related.location, related.end_location),
        },
        "message": {"text": related.message},
    }


def _result(diagnostic: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "level": LEVEL,
        "message": {"text": diagnostic.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact(diagnostic.path),
                    "region": _region(diagnostic.location, diagnostic.end_location),
                }
            }
        ],
        "relatedLocations": [_related(related, number) for number, related in enumerate(diagnostic.related)],
    }
    if diagnostic.code in index:
        result["ruleIndex"] = index[diagnostic.code]
    if diagnostic.fix is not None and diagnostic.fix.edits:
        result["fixes"] = [_fix(diagnostic.fix, diagnostic.path)]
    return result


def render(diagnostics: Sequence[Diagnostic], *, internal_errors: Sequence[Any] = ()) -> str:
    """The SARIF log; `internal_errors` (rules that crashed) become tool notifications."""
    docs = rule_docs()
    index = {doc.code: position for position, doc in enumerate(docs)}
    invocation: dict[str, Any] = {"executionSuccessful": not internal_errors}
    if internal_errors:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error",
                "message": {"text": f"internal error in {error.rule}: {error.message}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": _artifact(error.path),
                            "region": {"startLine": max(error.row, 1)},
                        }
                    }
                ],
            }
            for error in internal_errors
        ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sessionlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_descriptor(doc) for doc in docs],
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {SOURCE_ROOT: {"uri": _directory_uri(Path.cwd())}},
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, index) for d in diagnostics],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
