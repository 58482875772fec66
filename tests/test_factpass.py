"""The fact pass's word look-up answers as the word pattern it replaced does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlint.facts.factpass import SpelledWords, names_pattern
from sessionlint.read.sources import SourceFile

TEXT = (
    b"from app.db import get_db, SessionLocal\n"
    b"x = get_dbx(SessionLocal_2)\n"
    b"caf\xc3\xa9_session = db.sessions.make()\n"
    b"# mentions Repo in a comment, s\xc3\xa9ance too\n"
)

NAMES = [
    "get_db",  # spelled
    "get_dbx",  # spelled, only as the longer word
    "SessionLocal",  # spelled
    "SessionLocal_2",
    "Session",  # inside a longer word only: not spelled
    "dbx",
    "sessions.make",  # dotted: spelled
    "sessions.mak",  # dotted, a prefix only
    "café_session",  # non-ASCII identifier
    "_session",  # after a non-ASCII byte: a word boundary for bytes patterns
    "séance",
    "Repo",
    "make",
    "db",
    "",
]


@pytest.mark.parametrize("name", NAMES)
def test_one_name_as_the_pattern_says(name: str) -> None:
    source = SourceFile(Path("m.py"), "m.py", TEXT)
    pattern = names_pattern(frozenset([name]))
    expected = pattern is not None and pattern.search(TEXT) is not None
    assert SpelledWords().spells_any(source, frozenset([name])) is expected


def test_sets_of_names_as_the_pattern_says() -> None:
    source = SourceFile(Path("m.py"), "m.py", TEXT)
    spelled = SpelledWords()
    for size in (2, 3):
        for start in range(len(NAMES) - size + 1):
            names = frozenset(NAMES[start : start + size])
            pattern = names_pattern(names)
            expected = pattern is not None and pattern.search(TEXT) is not None
            assert spelled.spells_any(source, names) is expected, names
