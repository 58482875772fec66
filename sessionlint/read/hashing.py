"""Digests of file contents and run inputs (what the cache compares)."""

from __future__ import annotations

try:
    # hashlib would load OpenSSL first (2-3 ms of every run, a no-change run takes ~60):
    # BLAKE2 is built into CPython itself.
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without the builtin module
    from hashlib import blake2b


def digest(data: bytes, size: int = 16) -> str:
    return blake2b(data, digest_size=size).hexdigest()
