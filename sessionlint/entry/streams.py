"""Writing to standard output when it may be closed (`>&-`) or full (`> /dev/full`).

Either way the report is lost: the run ends with one clear line on standard error and
exit code 2 (`OutputUnavailable`, handled in `cli`), not an internal error. A reader that
goes away (`sessionlint check | head`) is not this: click ends such runs quietly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

import click


class OutputUnavailable(Exception):
    """Standard output cannot take the report."""


def echo(message: str | bytes, *, nl: bool = True, err: bool = False) -> None:
    """`click.echo`, raising `OutputUnavailable` where click would drop the text silently
    (no standard output at all) or fail with an OSError other than a closed pipe."""
    if err:
        click.echo(message, nl=nl, err=True)
        return
    if sys.stdout is None:
        raise OutputUnavailable("it is closed")
    try:
        click.echo(message, nl=nl)
    except OSError as error:
        raise _unavailable(error) from None


def write_bytes(data: bytes) -> None:
    """Bytes as they are (a fixed file for an editor), flushed."""
    if sys.stdout is None:
        raise OutputUnavailable("it is closed")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except OSError as error:
        raise _unavailable(error) from None


def is_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def _unavailable(error: OSError) -> OSError | OutputUnavailable:
    if error.errno == errno.EPIPE:
        return error  # click's own handling of a reader gone away
    return OutputUnavailable(error.strerror or str(error))


def abandon_stdout() -> None:
    """Point standard output at the null device: what is left in its buffer would fail
    again when the interpreter flushes it at exit, with a message of its own."""
    if sys.stdout is None:
        return
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


_LEAVE_AT_ONCE = [False]  # set by a command whose process may end at once (`leave_at_once`)


def leave_at_once() -> None:
    """The command running may end its process without freeing what it built (`exit_now`):
    `check`, whose every file written is closed, whose workers are gone, and no thread of
    which holds work (the language server's process ends the usual way)."""
    _LEAVE_AT_ONCE[0] = True


def exit_now(code: object) -> None:
    """End the process at once with `code` (a `SystemExit`'s), standard output and error
    flushed first, if the command allowed it (`leave_at_once`). The interpreter's own exit
    would free every object the run made before ending: after a run that parsed with LibCST
    or built the facts of a large tree, 0.2-0.4 s no one waits for (mypy's `fast_exit` does
    the same). Returns, leaving the exit to Python, when the code is not a number or a
    stream cannot be flushed: Python then says so as always."""
    if not _LEAVE_AT_ONCE[0]:
        return
    if code is None:
        code = 0
    if not isinstance(code, int):
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a reader gone away, a stream closed: Python reports it
        return
    os._exit(code)
