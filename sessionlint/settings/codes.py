"""Every code sessionlint can report, without importing the rules (or LibCST).

Configuration and `--select` are validated against this table on every run, including
fully cached runs that never load a rule; a test keeps it equal to `rules.ALL_RULES`.
"""

from __future__ import annotations

PARSE_ERROR = "SL000"

RULE_NAMES = {
    "SL001": "session-dependency-returns",
    "SL002": "session-not-closed",
    "SL003": "engine-in-function",
    "SL004": "sync-session-in-async",
    "SL005": "engine-without-pre-ping",
    "SL006": "async-session-expire-on-commit",
    "SL007": "session-in-background-task",
    "SL008": "module-level-session",
    "SL009": "async-session-not-awaited",
    "SL010": "async-session-concurrent-use",
    "SL011": "scoped-session-not-removed",
    "SL012": "async-engine-not-disposed",
    "SL013": "dependency-called-by-hand",
    "SL100": "unused-noqa",
}

UNUSED_NOQA = "SL100"
# Codes a family prefix (`SL`, the default selection) does not select: only a selector
# naming them more closely (`SL1`, `SL100`) or `ALL` does, as ruff's RUF100 is opt-in.
OPT_IN_CODES = frozenset({UNUSED_NOQA})

KNOWN_CODES = frozenset({PARSE_ERROR, *RULE_NAMES})
