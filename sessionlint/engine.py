"""Per file: pre-filter -> facts -> (project index) -> LibCST rules -> diagnostics."""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from sessionlint.config import Settings
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import module_identity
from sessionlint.noqa import without_suppressed
from sessionlint.rules import ALL_RULES, Rule
from sessionlint.rules._base import FileContext
from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.collect import collect, import_bindings
from sessionlint.semantics.context import FileSemantics, ScopeEnter, ScopeExit
from sessionlint.semantics.facts import ModuleFacts
from sessionlint.semantics.project import ProjectFacts
from sessionlint.sources import SourceFile, UnreadableSource, decode, error_diagnostic


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
        self.rules: list[type[Rule]] = [
            rule for rule in ALL_RULES if settings.is_selected(rule.code)
        ]
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
        return state

    def identity(self, source: SourceFile) -> tuple[str, bool, tuple[str, ...]]:
        """The module name a file is imported as (see `files.module_identity`)."""
        if source.identity is not None:
            return source.identity
        source.identity = self._identity(source)
        return source.identity

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

    def lint(self, state: FileState, project: ProjectFacts) -> LintResult:
        """Every selected rule over one file, in a single batched LibCST traversal."""
        result = LintResult()
        if state.error is not None:
            result.diagnostics.append(state.error)
            return result
        if state.facts is None or not self.rules:
            return result
        text = decode(state.source)
        if state.tree is None:
            try:
                state.tree = cst.parse_module(text)
            except (cst.ParserSyntaxError, RecursionError) as error:
                result.diagnostics.append(_syntax_error(state.source.display, error))
                return result
        wrapper = MetadataWrapper(state.tree, unsafe_skip_copy=True)
        contexts = self._run_rules(wrapper, state, project, self.rules, result)
        diagnostics = [d for context in contexts for d in context.diagnostics]
        diagnostics = [
            d for d in diagnostics if self.settings.is_selected(d.code, state.source.display)
        ]
        result.diagnostics = sorted(without_suppressed(diagnostics, text), key=Diagnostic.sort_key)
        return result

    def _run_rules(
        self,
        wrapper: MetadataWrapper,
        state: FileState,
        project: ProjectFacts,
        rules: Sequence[type[Rule]],
        result: LintResult,
    ) -> list[FileContext]:
        assert state.facts is not None and state.source.text is not None
        semantics = FileSemantics(state.facts, project)
        context = FileContext(state.source.display, state.source.text, wrapper, semantics)
        enter = ScopeEnter(semantics)
        try:
            wrapper.visit_batched([enter, *(rule(context) for rule in rules), ScopeExit(semantics)])
            return [context]
        except Exception as error:
            if len(rules) == 1:
                result.internal_errors.append(
                    _internal_error(state, rules[0], enter, context, error)
                )
                return []
        # Re-run the rules one by one to find the one that failed and keep the others' results.
        return [
            ctx
            for rule in rules
            for ctx in self._run_rules(wrapper, state, project, [rule], result)
        ]


def _internal_error(
    state: FileState, rule: type[Rule], enter: ScopeEnter, context: FileContext, error: Exception
) -> InternalError:
    row = 1
    if enter.last_statement is not None:
        try:
            row = context.position(enter.last_statement).start.line
        except Exception:
            row = 1
    return InternalError(
        path=state.source.display,
        rule=rule.code,
        row=row,
        message=f"{error.__class__.__name__}: {error}",
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


def _syntax_error(display: str, error: Exception) -> Diagnostic:
    if isinstance(error, cst.ParserSyntaxError):
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
