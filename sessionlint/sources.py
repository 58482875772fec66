"""Reading source files: bytes, encoding, and SL000 when a file cannot be read or parsed."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

from sessionlint.config import PARSE_ERROR_CODE
from sessionlint.diagnostics import Diagnostic, Location


@dataclass
class SourceFile:
    """One file's content, decoded with its declared encoding (a BOM is kept apart)."""

    path: Path | None
    display: str
    data: bytes
    encoding: str = "utf-8"
    text: str | None = None
    identity: tuple[str, bool, tuple[str, ...]] | None = None
    # Absolute module names its import statements name (see `run._import_targets`).
    import_targets: list[str] | None = None

    @property
    def digest(self) -> str:
        """A hash of the bytes (the cache's notion of "unchanged")."""
        if self._digest is None:
            self._digest = hashlib.blake2b(self.data, digest_size=16).hexdigest()
        return self._digest

    _digest: str | None = None


class UnreadableSource(Exception):
    def __init__(self, reason: str, row: int = 1, column: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.column = column


def read_bytes(path: Path) -> bytes:
    # Opened without blocking and checked on the open file: a named pipe would block until a
    # writer comes, a device may never end, and nothing can swap the file in between.
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise UnreadableSource("is a directory, not a file") from None
    except OSError as error:
        raise UnreadableSource(f"cannot read file: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableSource("is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise UnreadableSource("not a regular file (a pipe, socket or device): not read")
        with open(descriptor, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as error:
        raise UnreadableSource(f"cannot read file: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def decode(source: SourceFile) -> str:
    """The text of a file, honouring its BOM and PEP 263 encoding cookie."""
    if source.text is not None:
        return source.text
    if b"\x00" in source.data:
        raise UnreadableSource("file contains NUL bytes (binary file?)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source.data).readline)
    except SyntaxError as error:
        raise UnreadableSource(
            f"bad encoding declaration: {error.msg if hasattr(error, 'msg') else error}"
        ) from None
    try:
        text = source.data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        position = getattr(error, "start", 0)
        row = source.data.count(b"\n", 0, position) + 1
        raise UnreadableSource(f"cannot decode file as {encoding}: {error.__class__.__name__}", row) from None
    source.encoding = encoding
    source.text = text
    return text


def encode(text: str, encoding: str) -> bytes:
    """Back to bytes in the file's own encoding (`utf-8-sig` restores the BOM)."""
    return text.encode(encoding)


def error_diagnostic(display: str, reason: str, row: int = 1, column: int = 1) -> Diagnostic:
    location = Location(max(row, 1), max(column, 1))
    return Diagnostic(PARSE_ERROR_CODE, "parse-error", reason, printable(display), location, location)


def printable(name: str) -> str:
    """A file name that can be printed: bytes that were not UTF-8 (kept by Python as lone
    surrogates, which no output stream accepts) shown as `\\xff` escapes."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name


def display_path(path: Path, cwd: str | None = None) -> str:
    """Relative to the working directory when under it, as users typed it otherwise."""
    absolute = os.path.abspath(path)
    cwd = cwd or os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return printable(absolute[len(cwd) + 1 :].replace(os.sep, "/"))
    return printable(path.as_posix())
