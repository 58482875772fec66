"""The flake8 plugin: `flake8 --select SL` runs sessionlint's rules on each file flake8 checks.

A thin adapter over the same workspace as `sessionlint check` (`Workspace.of_buffer`, one
file alone): same rules, codes, positions and messages.
It reports only; fixing is `sessionlint check --fix`.

flake8 hands a plugin one file at a time, so the plugin analyses each file on its own.
What the command line learns from *other* files of the checked tree is unknown here, and
unknown answers are "not flagged" wherever that keeps precision, so the plugin mostly
reports less than `sessionlint check`:

- session factories, engines and dependencies imported from another module
  (`from app.db import SessionLocal`, `from app.deps import SessionDep`): a session made
  by `SessionLocal()` in `app/deps.py` is not known to be a session, so SL001, SL002, SL004,
  SL007 and SL009 stay silent about it;
- FastAPI dependencies declared in another module (`Depends(get_db)` in `app/main.py`
  makes `get_db` in `app/db.py` a dependency): only the names in `dependency-names` (and
  `Depends` in the same file) mark a function as one;
- direct callers in other modules: a function named in `dependency-names` that another
  module calls directly is not a dependency for `sessionlint check`, but the plugin cannot
  see that caller;
- constants from other modules: `create_engine(settings.DATABASE_URL)` with a SQLite URL
  defined in `settings.py` is SL005 for the plugin (it cannot see that the URL is SQLite).

The tests list every fixture case on which the plugin and the command line differ, and why
(`tests/test_flake8_plugin.py`).

Configuration is flake8's (`setup.cfg`, `tox.ini` or `.flake8`, or the command line), not
`[tool.sessionlint]`; each option replaces sessionlint's default, like the key of the same name:

    [flake8]
    extend-select = SL
    sessionlint-dependency-names = get_db, provide_db
    sessionlint-session-factories = app.db.SessionLocal
    sessionlint-engine-constructors = app.db.make_engine

Selection (`--select`, `--extend-select`, `--ignore`, `--per-file-ignores`), `# noqa`
comments and `-j` are flake8's own: the plugin reports everything it finds and lets flake8
filter (sessionlint's own `# noqa` reading is skipped, so `--disable-noqa` shows everything).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from sessionlint import __version__
from sessionlint.facts.engine import Engine
from sessionlint.read.sources import SourceFile
from sessionlint.settings.config import Settings
from sessionlint.workspace import Workspace

Finding = tuple[int, int, str, type]

_OPTIONS = (
    ("dependency-names", "dependency_names", "Function names treated as session dependencies."),
    (
        "session-factories",
        "session_factories",
        "Qualified names of extra session factories (e.g. `app.db.SessionLocal`).",
    ),
    (
        "engine-constructors",
        "engine_constructors",
        "Qualified names of extra engine constructors (e.g. `app.db.make_engine`).",
    ),
)


class SessionLintPlugin:
    """flake8 calls `run()` once per file with its `tree`, `filename` and `lines`."""

    name = "sessionlint"
    version = __version__

    # Set once per process by `parse_options` (flake8's `-j` workers parse options too): its
    # settings, and its byte pre-filter, which skips the files no rule is about.
    _engine: ClassVar[Engine | None] = None

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        # `tree` is what makes flake8 treat this as an AST plugin; the engine parses the
        # file itself (with `ast` for the facts, LibCST for the rules), from flake8's lines.
        del tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        for option, _, help_text in _OPTIONS:
            option_manager.add_option(
                f"--sessionlint-{option}",
                default=None,
                parse_from_config=True,
                comma_separated_list=True,
                help=f"sessionlint: {help_text} Comma-separated; replaces the default.",
            )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls._engine = Engine(settings_from_flake8(options))

    @classmethod
    def engine(cls) -> Engine:
        if cls._engine is None:  # used without flake8's option parsing (e.g. in a test)
            cls._engine = Engine(Settings())
        return cls._engine

    def run(self) -> Iterator[Finding]:
        engine = self.engine()
        text = "".join(self.lines)
        source = SourceFile(None, self.filename, text.encode("utf-8", "surrogatepass"), "utf-8", text)
        # flake8 runs every plugin on every file: most files never mention SQLAlchemy,
        # FastAPI or a configured name, and cannot hold a finding on their own.
        if not engine.mentions_vocabulary(source):
            return
        workspace = Workspace.of_buffer(self.filename, text, engine.settings, noqa=False)
        result = workspace.check([self.filename])[self.filename]
        for diagnostic in result.diagnostics:
            yield (
                diagnostic.location.row,
                diagnostic.location.column - 1,
                f"{diagnostic.code} {diagnostic.message}",
                type(self),
            )
        for error in result.internal_errors:
            # A crashing rule must not take flake8 (and every other plugin's report) down.
            yield (
                error.row,
                0,
                f"SL000 internal error in {error.rule}: {error.message} (please report this)",
                type(self),
            )


def settings_from_flake8(options: Any) -> Settings:
    """sessionlint `Settings` from flake8's parsed options (defaults where not given)."""
    values = {}
    for _, attribute, _ in _OPTIONS:
        given = getattr(options, f"sessionlint_{attribute}", None)
        if given is not None:
            values[attribute] = tuple(name.strip() for name in given if name.strip())
    return Settings(**values)
