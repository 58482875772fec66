"""`python -m sessionlint`, and the `sessionlint` command (`run`)."""

from __future__ import annotations

import sys


def run() -> None:
    """The command line. Ctrl-C while it starts (importing click and the tool take a
    moment) ends it as Ctrl-C later does: exit 130, no traceback. Once the command is
    done, the process ends without freeing what it built (`streams.exit_now`)."""
    try:
        from sessionlint.entry.cli import EXIT_INTERRUPTED, main
        from sessionlint.entry.streams import exit_now
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        main(prog_name="sessionlint")
    except KeyboardInterrupt:  # outside a command (click's own start-up)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as done:
        exit_now(done.code)
        raise


if __name__ == "__main__":
    run()
