"""`sessionlint server`: a language server (LSP over stdio) on the workspace API.

Needs the `server` extra (pygls, lsprotocol): `pip install 'sessionlint[server]'`.
"""

from __future__ import annotations

import importlib.util

REQUIRED = ("pygls", "lsprotocol")
INSTALL_HINT = "pip install 'sessionlint[server]'"


def missing_dependencies() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def serve() -> None:
    """Serve one client over stdin and stdout until it says `exit`."""
    from sessionlint.server.features import build_server

    build_server().start_io()
