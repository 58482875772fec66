"""GitLab Code Quality report (`artifacts: reports: codequality:`).

A JSON array of issues in the subset of the Code Climate spec GitLab reads: `description`,
`check_name`, `fingerprint`, `severity`, `location.path` and `location.lines.begin`.
GitLab matches issues between the base and the head of a merge request by fingerprint,
so the fingerprint must survive unrelated edits: it is made of the path, the code and the
text of the reported line (not its number), plus the occurrence of that triple in the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sessionlint.report.diagnostics import Diagnostic
from sessionlint.report.formats.lines import SourceLines

# Every finding is a bug that pages someone under load, not a style nit.
SEVERITY = "major"


def _fingerprints(diagnostics: Sequence[Diagnostic]) -> list[str]:
    lines = SourceLines()
    seen: dict[tuple[str, str, str], int] = {}
    fingerprints = []
    for diagnostic in diagnostics:
        text = lines.text(diagnostic.path, diagnostic.location.row)
        anchor = text.strip() if text is not None else f"line {diagnostic.location.row}"
        key = (diagnostic.path, diagnostic.code, anchor)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        payload = "\0".join((*key, str(occurrence))).encode("utf-8", "surrogateescape")
        fingerprints.append(hashlib.sha256(payload).hexdigest()[:32])
    return fingerprints


def as_issue(diagnostic: Diagnostic, fingerprint: str) -> dict[str, Any]:
    return {
        "type": "issue",
        "check_name": diagnostic.code,
        "description": f"{diagnostic.code} {diagnostic.message}",
        "categories": ["Bug Risk"],
        "severity": SEVERITY,
        "fingerprint": fingerprint,
        "location": {
            "path": diagnostic.path.replace("\\", "/"),
            "lines": {"begin": diagnostic.location.row, "end": diagnostic.end_location.row},
        },
    }


def render(diagnostics: Sequence[Diagnostic]) -> str:
    issues = [as_issue(d, f) for d, f in zip(diagnostics, _fingerprints(diagnostics))]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
