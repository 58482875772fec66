"""Answers computed once per key, with recursion through a cycle cut."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


def memoized(
    answers: dict[Hashable, T], progress: set[Hashable], key: Hashable, compute: Callable[[], T], cycle: T
) -> T:
    """`compute()` once per key (kept in `answers`); a key met again while it is computed
    (a question that leads back to itself) answers `cycle`."""
    if key in answers:
        return answers[key]
    if key in progress:
        return cycle
    progress.add(key)
    try:
        result = compute()
    finally:
        progress.discard(key)
    answers[key] = result
    return result
