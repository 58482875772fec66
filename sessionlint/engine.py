"""Per file: pre-filter -> facts -> (project index) -> LibCST rules -> diagnostics."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sessionlint.config import Settings
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import module_identity
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.collect import collect, import_bindings
from sessionlint.semantics.facts import ModuleFacts
from sessionlint.semantics.project import ProjectFacts
from sessionlint.sources import SourceFile, UnreadableSource, decode, error_diagnostic

if TYPE_CHECKING:
    import libcst as cst

    from sessionlint.cache import CacheEntry
    from sessionlint.rules import Rule


@dataclass
class InternalError:
    """A rule crashed on a file: reported (exit 2), the other rules and files still run."""

    path: str
    rule: str
    row: int
    message: str
    traceback: str


@dataclass
class FileState:
    source: SourceFile
    facts: ModuleFacts | None = None
    tree: cst.Module | None = None
    error: Diagnostic | None = None
    # The cache entry this state came from or went into (findings are cached on it).
    cached: CacheEntry | None = None


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)


def _word_pattern(words: Iterable[str]) -> re.Pattern[bytes] | None:
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in words) + rb")\b")


class Engine:
    """Checks files with the selected rules over one shared semantic model."""

    def __init__(self, settings: Settings, roots: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.roots = list(roots)
        self._rules: list[type[Rule]] | None = None
        extra_roots = {
            name.partition(".")[0]
            for name in (*settings.session_factories, *settings.engine_constructors)
        }
        self.vocabulary_pattern = _word_pattern(
            [*vocab.VOCABULARY_ROOTS, *extra_roots, *settings.dependency_names]
        )

    # -- fact pass ----------------------------------------------------------------------

    def mentions_vocabulary(self, source: SourceFile) -> bool:
        return (
            self.vocabulary_pattern is not None
            and self.vocabulary_pattern.search(source.data) is not None
        )

    def analyze(self, source: SourceFile) -> FileState:
        """Decode and parse one file with `ast`, and condense it into facts."""
        state = FileState(source)
        try:
            text = decode(source)
        except UnreadableSource as error:
            state.error = error_diagnostic(source.display, error.reason, error.row, error.column)
            return state
        name, is_package, aliases = self.identity(source)
        try:
            tree = ast.parse(text, filename=source.display)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            return self._analyze_with_libcst(state, text, error, name, is_package, aliases)
        state.facts = collect(
            tree, path=source.display, module=name, is_package=is_package, aliases=aliases
        )
        state.facts.digest = source.digest
        return state

    def identity(self, source: SourceFile) -> tuple[str, bool, tuple[str, ...]]:
        """The module name a file is imported as (see `files.module_identity`)."""
        if source.identity is not None:
            return source.identity
        source.identity = self._identity(source)
        return source.identity

    def assign_identities(self, sources: Sequence[SourceFile]) -> None:
        """Give every file a unique module name.

        Two files can claim the same dotted name (`tutorial001.py` in many folders, two
        example projects with an `app.main`). Each then takes its path below the checked
        root as its name, and the shared name stays an alias, which is ambiguous and so
        resolves to neither: a file's own names must never resolve into another file.
        """
        claimed: dict[str, int] = {}
        for source in sources:
            name = self.identity(source)[0]
            claimed[name] = claimed.get(name, 0) + 1
        for source in sources:
            name, is_package, aliases = self.identity(source)
            if claimed[name] > 1 and aliases:
                unique = max(aliases, key=len)
                source.identity = (unique, is_package, (name, *(a for a in aliases if a != unique)))

    def _identity(self, source: SourceFile) -> tuple[str, bool, tuple[str, ...]]:
        if source.path is None:
            stem = Path(source.display).stem
            return ("" if stem == "__init__" else stem), stem == "__init__", ()
        return module_identity(source.path, self.roots)

    def _analyze_with_libcst(
        self,
        state: FileState,
        text: str,
        error: Exception,
        name: str,
        is_package: bool,
        aliases: tuple[str, ...],
    ) -> FileState:
        """`ast` only knows this interpreter's grammar: newer syntax may still parse with LibCST."""
        import libcst as cst

        try:
            state.tree = cst.parse_module(text)
        except cst.ParserSyntaxError:
            state.error = _syntax_error(state.source.display, error)
            return state
        except RecursionError:
            state.error = error_diagnostic(
                state.source.display, "file is too deeply nested to parse"
            )
            return state
        # Only the imports are known for such a file: rules then answer "unknown" elsewhere.
        state.facts = ModuleFacts(
            path=state.source.display,
            module=name,
            is_package=is_package,
            aliases=aliases,
            imports=_cst_imports(state.tree, name, is_package),
            digest=state.source.digest,
            complete=False,
        )
        return state

    def build_project(self, states: Iterable[FileState]) -> ProjectFacts:
        return ProjectFacts(
            (state.facts for state in states if state.facts is not None),
            dependency_names=self.settings.dependency_names,
            session_factories=self.settings.session_factories,
            engine_constructors=self.settings.engine_constructors,
        )

    # -- rule pass ----------------------------------------------------------------------

    @property
    def rules(self) -> list[type[Rule]]:
        """The selected rules (imported on first use: a fully cached run never needs LibCST)."""
        if self._rules is None:
            from sessionlint.rules import ALL_RULES

            self._rules = [rule for rule in ALL_RULES if self.settings.is_selected(rule.code)]
        return self._rules

    def lint(self, state: FileState, project: ProjectFacts, *, noqa: bool = True) -> LintResult:
        """Every selected rule over one file, in a single batched LibCST traversal.

        `noqa=False` keeps suppressed findings: the flake8 plugin leaves `# noqa` to flake8.
        """
        from sessionlint.linter import lint_file

        return lint_file(self, state, project, noqa=noqa)


def _syntax_error(display: str, error: Exception) -> Diagnostic:
    if type(error).__name__ == "ParserSyntaxError":
        return error_diagnostic(
            display, f"SyntaxError: {error.message}", error.raw_line, error.raw_column + 1
        )
    if isinstance(error, SyntaxError):
        return error_diagnostic(
            display, f"SyntaxError: {error.msg}", error.lineno or 1, error.offset or 1
        )
    if isinstance(error, RecursionError):
        return error_diagnostic(display, "file is too deeply nested to parse")
    return error_diagnostic(display, f"cannot parse file: {error}")


def _cst_imports(tree: cst.Module, module: str, is_package: bool) -> dict[str, str]:
    """Module-level imports of a tree `ast` could not parse, through the `ast` converter."""
    import libcst as cst

    imports: dict[str, str] = {}
    for statement in tree.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                try:
                    node = ast.parse(
                        cst.Module(body=[cst.SimpleStatementLine(body=[small])]).code
                    ).body[0]
                except SyntaxError:
                    continue
                assert isinstance(node, (ast.Import, ast.ImportFrom))
                imports.update(import_bindings(node, module, is_package))
    return imports
