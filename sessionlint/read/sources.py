"""Reading source files: bytes, encoding, and SL000 when a file cannot be read or parsed."""

from __future__ import annotations

import io
import os
import stat
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sessionlint.discover.roots import ModuleIdentity
from sessionlint.read import hashing
from sessionlint.report.diagnostics import Diagnostic, Location
from sessionlint.settings.config import PARSE_ERROR_CODE

if TYPE_CHECKING:
    import ast


@dataclass
class SourceFile:
    """One file's content, decoded with its declared encoding (a BOM is kept apart)."""

    path: Path | None
    display: str
    data: bytes
    encoding: str = "utf-8"
    text: str | None = None
    identity: ModuleIdentity | None = None
    # Absolute module names its import statements name (see `factpass.import_targets`).
    import_targets: list[str] | None = None
    # What the file system said of the bytes read (None: not read from a file).
    stamp: FileStamp | None = None
    # The text's `ast` tree when the caller parsed it already (the language server does, to
    # tell half-typed code): the next analysis takes it instead of parsing again.
    tree: ast.Module | None = field(default=None, compare=False, repr=False)
    # Whether the bytes mention the vocabulary, and for which engine (`Engine.mentions_vocabulary`).
    vocabulary: tuple[object, bool] | None = field(default=None, compare=False, repr=False)

    @property
    def digest(self) -> str:
        """A hash of the bytes (the cache's notion of "unchanged")."""
        if self._digest is None:
            self._digest = hashing.digest(self.data)
        return self._digest

    _digest: str | None = None
    is_unread: bool = False

    def release(self) -> None:
        """Drop the bytes once no pass will read them again (the digest stays)."""
        _ = self.digest
        self.data = b""
        self.text = None

    @classmethod
    def unread(cls, display: str, stamp: FileStamp, digest: str) -> SourceFile:
        """A file known by its stamp and digest alone, not read: enough to tell that
        nothing changed since a recent run (a run that goes on reads it)."""
        return cls(None, display, b"", stamp=stamp, _digest=digest, is_unread=True)


# What the file system says of a file's content: size, modification and change times, inode
# and device. Equal stamps are trusted to mean equal bytes, except for files changed within
# `RACY_NS` of being read, whose next change may keep the same times (see `cache`).
FileStamp = tuple[int, int, int, int, int]


def stamp_of(status: os.stat_result) -> FileStamp:
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev)


class UnreadableSource(Exception):
    def __init__(self, reason: str, row: int = 1, column: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.column = column


def read_file(path: Path) -> tuple[bytes, FileStamp]:
    """The bytes of a file and the stamp of what was read (see `FileStamp`)."""
    # Opened without blocking and checked on the open file: a named pipe would block until a
    # writer comes, a device may never end, and nothing can swap the file in between.
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise UnreadableSource("is a directory, not a file") from None
    except OSError as error:
        raise UnreadableSource(f"cannot read file: {error.strerror or error}") from None
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise UnreadableSource("is a directory, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableSource("not a regular file (a pipe, socket or device): not read")
        return _read_all(descriptor, status.st_size), stamp_of(status)
    except OSError as error:
        raise UnreadableSource(f"cannot read file: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def _read_all(descriptor: int, size: int) -> bytes:
    """Everything up to the end of the file (it may have grown since its size was taken)."""
    first = os.read(descriptor, size + 1)
    if not first:
        return first
    chunks = [first]
    while chunk := os.read(descriptor, 1 << 20):
        chunks.append(chunk)
    return first if len(chunks) == 1 else b"".join(chunks)


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


def display_path(path: str | os.PathLike[str], cwd: str | None = None) -> str:
    """Relative to the working directory when under it, as users typed it otherwise
    (`../other/app/db.py`, `/abs/app/db.py`). A `str` or a `Path`: the walk hands over
    strings, the command line `Path`s."""
    text = os.fspath(path)
    if not os.path.isabs(text) and ".." not in text:
        return printable(text.replace(os.sep, "/"))  # already relative to the working folder
    absolute = os.path.abspath(text)
    cwd = cwd or os.getcwd()
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return printable(absolute[len(cwd.rstrip(os.sep)) + 1 :].replace(os.sep, "/"))
    return printable(os.path.normpath(text).replace(os.sep, "/"))
