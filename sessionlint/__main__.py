"""`python -m sessionlint`."""

from __future__ import annotations

from sessionlint.cli import main

main(prog_name="sessionlint")
