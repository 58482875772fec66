"""`python -m sessionlint`, and the `sessionlint` command (`run`)."""

from __future__ import annotations

import sys


def run() -> None:
    """The command line. Ctrl-C while it starts (importing click and the tool take a
    moment) ends it as Ctrl-C later does: exit 130, no traceback."""
    try:
        from sessionlint.entry.cli import EXIT_INTERRUPTED, main
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        main(prog_name="sessionlint")
    except KeyboardInterrupt:  # outside a command (click's own start-up)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    run()
