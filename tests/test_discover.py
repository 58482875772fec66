"""`sessionlint.discover.files`: the default excludes prune the walk by an entry's name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sessionlint.discover.files import _exclude_pattern, _plain_names, discover
from sessionlint.settings.config import DEFAULT_EXCLUDES, Settings


def test_default_excludes_prune_at_any_depth_by_name_alone(tmp_path: Path) -> None:
    for relative in (
        "app/main.py",
        "app/venv/lib.py",
        "app/deep/__pycache__/x.py",
        "build/out.py",
        "app/build.py",
        "app/builds/kept.py",
        "app/dist_tools/kept.py",
        "app/.git/hook.py",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x = 1\n")
    found = discover([tmp_path], Settings(root=tmp_path)).files
    assert sorted(os.path.relpath(file, tmp_path) for file in found) == [
        "app/build.py",
        "app/builds/kept.py",
        "app/dist_tools/kept.py",
        "app/main.py",
    ]


@pytest.mark.parametrize(
    "patterns",
    [DEFAULT_EXCLUDES, ("build",), ("*.egg-info",), ("bu?ld",), ("[bd]ist",), ("app/build",), ()],
)
def test_plain_names_match_as_the_patterns_do(patterns: tuple[str, ...]) -> None:
    """Names stand for the patterns only where every one is a plain name: a glob or a path
    must go through the pattern (a name set would miss `x.egg-info`, `bild`, `dist`)."""
    names = _plain_names(patterns)
    pattern = _exclude_pattern(patterns)
    entries = ["build", "dist", "bild", "x.egg-info", "app", "venv", ".git", "builds", "Build", "app/build"]
    if names is None:
        assert any(char in "".join(patterns) for char in "*?[/")
        return
    for entry in entries:
        if "/" not in entry:
            assert (entry in names) == (pattern.match(entry) is not None), entry
