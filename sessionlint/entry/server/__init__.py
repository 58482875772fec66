"""`sessionlint server`: a language server (LSP over stdio) on the workspace API.

Needs the `server` extra (pygls, lsprotocol): `pip install 'sessionlint[server]'`.
"""

from __future__ import annotations

import importlib

REQUIRED = ("pygls", "lsprotocol")
INSTALL_HINT = "pip install 'sessionlint[server]'"


def missing_dependencies() -> list[str]:
    """The server extra's packages that cannot be imported."""
    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def serve() -> None:
    """Serve one client over stdin and stdout until it says `exit`."""
    from sessionlint.entry.server.features import build_server

    build_server().start_io()
