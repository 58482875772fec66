"""Baselines: today's findings recorded once, then hidden, so only new ones are reported.

A finding is recorded as its path (relative to the baseline file's folder, `/`-separated:
the project root where the file usually sits; unlike the run's root, it is the same for a
run over the whole tree, over a few files named by pre-commit, or over one service of a
monorepo), its code,
a fingerprint of its line's text (stripped) and of the qualified name of the function or
class around it, and its index among the findings of that file with the same code and
fingerprint (in position order). Lines added or removed elsewhere in the file move a
finding without changing any of these; editing its own line, or moving it into another
function, makes it new.

The file (`--write-baseline FILE`) is JSON:

    {
      "sessionlint-baseline": 1,
      "findings": [
        {"path": "app/db.py", "code": "SL005", "fingerprint": "9c1d2e3f4a5b6c7d",
         "index": 0, "line": 12, "message": "..."}
      ]
    }

`line` and `message` are for the reader (and for a review of the file's diff): matching
uses `path`, `code`, `fingerprint` and `index` only.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sessionlint.read.limits import parsing_as_cpython
from sessionlint.read.sources import SourceFile, UnreadableSource, decode
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.settings.config import ConfigError, Settings

FORMAT_KEY = "sessionlint-baseline"
FORMAT_VERSION = 1
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

Key = tuple[str, str, str, int]  # path, code, fingerprint, index


def keys(diagnostics: Sequence[Diagnostic], root: Path) -> list[Key]:
    """Each finding's baseline key, in the order given."""
    files: dict[str, _FileView] = {}
    seen: Counter[tuple[str, str, str]] = Counter()
    result = []
    for diagnostic in diagnostics:
        view = files.get(diagnostic.path)
        if view is None:
            view = files[diagnostic.path] = _FileView(diagnostic.path)
        path = _relative(diagnostic.path, root)
        fingerprint = view.fingerprint(diagnostic.code, diagnostic.location.row)
        group = (path, diagnostic.code, fingerprint)
        result.append((*group, seen[group]))
        seen[group] += 1
    return result


def write(path: Path, diagnostics: Sequence[Diagnostic], root: Path) -> int:
    """Record `diagnostics` in `path`; how many."""
    entries = [
        {
            "path": key[0],
            "code": key[1],
            "fingerprint": key[2],
            "index": key[3],
            "line": diagnostic.location.row,
            "message": diagnostic.message,
        }
        for key, diagnostic in zip(keys(diagnostics, root), diagnostics)
    ]
    entries.sort(key=lambda entry: (entry["path"], entry["line"], entry["code"], entry["index"]))
    data = json.dumps({FORMAT_KEY: FORMAT_VERSION, "findings": entries}, indent=2) + "\n"
    try:
        path.write_text(data, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the baseline: {error.strerror or error}") from None
    return len(entries)


def load(path: Path) -> set[Key]:
    """The keys a baseline file records; a missing or malformed file is a `ConfigError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found (write one with --write-baseline)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the baseline: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a baseline file: not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get(FORMAT_KEY) != FORMAT_VERSION:
        raise ConfigError(f"{path}: not a baseline file of this version (`{FORMAT_KEY}: {FORMAT_VERSION}`)")
    findings = document.get("findings")
    if not isinstance(findings, list):
        raise ConfigError(f"{path}: not a baseline file: `findings` must be a list")
    recorded = set()
    for number, entry in enumerate(findings):
        try:
            key = (entry["path"], entry["code"], entry["fingerprint"], entry["index"])
        except (TypeError, KeyError):
            raise ConfigError(
                f"{path}: finding {number}: needs `path`, `code`, `fingerprint` and `index`"
            ) from None
        if not all(isinstance(part, str) for part in key[:3]) or type(key[3]) is not int:
            raise ConfigError(f"{path}: finding {number}: wrong types (strings and an integer index)")
        recorded.add(key)
    return recorded


def hide(diagnostics: Sequence[Diagnostic], recorded: set[Key], root: Path) -> tuple[list[Diagnostic], int]:
    """The findings the baseline does not record, and how many it hid."""
    kept = [d for d, key in zip(diagnostics, keys(diagnostics, root)) if key not in recorded]
    return kept, len(diagnostics) - len(kept)


def configured(settings: Settings) -> Path | None:
    """The `baseline` of the run's configuration (one, when the run spans several)."""
    own = settings.per_file.values() if settings.per_file is not None else [settings]
    found = {s.baseline for s in own if s.baseline is not None}
    if len(found) > 1:
        listed = ", ".join(sorted(str(path) for path in found))
        raise ConfigError(
            f"the checked files' configurations name several baselines ({listed}): use --baseline"
        )
    return found.pop() if found else None


def _relative(display: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.realpath(display), os.path.realpath(root))).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(display).as_posix()


class _FileView:
    """A reported file's lines and the scopes around them, read once."""

    def __init__(self, display: str) -> None:
        try:
            text = decode(SourceFile(Path(display), display, Path(display).read_bytes()))
        except (OSError, UnreadableSource):
            text = ""  # stdin, or gone: the code and the path still count
        self.lines = _LINE.findall(text)
        self.scopes = _scopes(text)

    def fingerprint(self, code: str, row: int) -> str:
        line = self.lines[row - 1].strip() if 0 < row <= len(self.lines) else ""
        scope = ""
        for first, last, name in self.scopes:  # outermost first: the last match is innermost
            if first <= row <= last:
                scope = name
        payload = "\0".join((code, scope, line)).encode("utf-8", "surrogateescape")
        # Imported here: hashlib loads OpenSSL, and every run loads this module (a run
        # without a baseline asks only whether one is configured).
        import hashlib

        return hashlib.sha256(payload).hexdigest()[:16]


def _scopes(text: str) -> list[tuple[int, int, str]]:
    """(first row, last row, qualified name) of every function and class, outer ones first;
    a decorated one starts at its first decorator."""
    try:
        with parsing_as_cpython():  # no SyntaxWarning printed for the user's code
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    try:
        visit(tree, "")
    except RecursionError:
        return []
    return found
