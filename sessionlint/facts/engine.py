"""Per file: pre-filter -> facts -> (project index) -> LibCST rules -> diagnostics."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sessionlint.discover.roots import ModuleIdentity, SourceRoots, configured_roots
from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.collect import collect
from sessionlint.facts.collect_values import import_bindings
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.filestate import FileState, LintResult, crash_report, syntax_error
from sessionlint.project.index import FunctionRef, ProjectFacts
from sessionlint.read.limits import (
    MAX_FLAT_CHAIN,
    MAX_TOKEN_NESTING,
    MAX_TOKENS_VARIABLE,
    TOO_DEEP,
    deep_stack,
    flat_chains_too_long,
    is_nesting_limit,
    max_tokens,
    parsing_as_cpython,
    token_nesting_bound,
    too_many_tokens,
)
from sessionlint.read.sources import SourceFile, UnreadableSource, decode, error_diagnostic
from sessionlint.settings.codes import RULE_NAMES, UNUSED_NOQA
from sessionlint.settings.config import Settings

if TYPE_CHECKING:
    import libcst as cst

    from sessionlint.rules import Rule


def _word_pattern(words: Iterable[str]) -> re.Pattern[bytes] | None:
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in words) + rb")\b")


def _literals(words: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(sorted({word.encode() for word in words if word}))


def _spells(data: bytes, literals: tuple[bytes, ...], pattern: re.Pattern[bytes]) -> bool:
    """`pattern` (words, or calls, made of `literals`) matches `data`. Most files of an
    application spell none of the literals: a substring test each rules them out many
    times faster than the pattern's alternation of words."""
    return any(literal in data for literal in literals) and pattern.search(data) is not None


_SL_NOQA = re.compile(rb"(?i)noqa[^\r\n]*sl[0-9]")


# An engine's `dispose()` or a registry's `remove()` (called, or handed on as a callback),
# an app's lifespan or shutdown hook: such a file may end an object another file made,
# whatever it imports (SL011, SL012).
_LIFECYCLE_CALL = re.compile(rb"\.dispose\b|\.remove(?:\(\s*\)|\s*[,)])|\blifespan\s*=|\.on_event\b")
_LIFECYCLE_WORDS = (b".dispose", b".remove", b"lifespan", b".on_event")


class Engine:
    """Checks files with the selected rules over one shared semantic model."""

    def __init__(self, settings: Settings, roots: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.roots = SourceRoots(roots, configured_roots(settings.src, settings.root))
        self._rules: list[type[Rule]] | None = None
        self.noqa_review = settings.is_selected(UNUSED_NOQA)
        extra_names = (*settings.session_factories, *settings.engine_constructors)
        extra_roots = {name.partition(".")[0] for name in extra_names}
        # A file can hold a finding, or a fact another file needs, only when it names the
        # library (or a dependency name) and spells one of the names the rules are about.
        vocabulary = [*vocab.VOCABULARY_ROOTS, *extra_roots, *settings.dependency_names]
        triggers = [
            *vocab.TRIGGER_SPELLINGS,
            *(name.rpartition(".")[2] for name in extra_names),
            *settings.dependency_names,
        ]
        self.vocabulary_pattern = _word_pattern(vocabulary)
        self.vocabulary_words = _literals(vocabulary)
        self.trigger_pattern = _word_pattern(triggers)
        self.trigger_words = _literals(triggers)

    # -- fact pass ----------------------------------------------------------------------

    def mentions_vocabulary(self, source: SourceFile) -> bool:
        # Asked of every file at each fact pass: an editor's workspace runs one per update,
        # over files whose bytes did not change (their answer is kept, for this engine).
        if source.vocabulary is not None and source.vocabulary[0] is self:
            return source.vocabulary[1]
        found = (
            self.vocabulary_pattern is not None
            and self.trigger_pattern is not None
            and _spells(source.data, self.vocabulary_words, self.vocabulary_pattern)
            and _spells(source.data, self.trigger_words, self.trigger_pattern)
        ) or _spells(source.data, _LIFECYCLE_WORDS, _LIFECYCLE_CALL)
        source.vocabulary = (self, found)
        return found

    def reviews_noqa(self, source: SourceFile) -> bool:
        """SL100 is selected and the file may hold a `# noqa` naming a sessionlint code (an
        over-approximation: the rule reads the comments). Such a file is read and checked
        whatever it mentions: a stale suppression is all that is left of fixed code."""
        return self.noqa_review and _SL_NOQA.search(source.data) is not None

    @deep_stack
    def analyze(self, source: SourceFile, *, shallow: bool = False) -> FileState:
        """Decode and parse one file with `ast`, and condense it into facts.

        An unexpected exception (a bug) becomes the state's `internal_error`: reported with
        exit code 2, while the other files are still checked.
        """
        try:
            return self._analyze(source, shallow)
        except Exception as error:
            return FileState(source, internal_error=crash_report(source.display, error))

    def _analyze(self, source: SourceFile, shallow: bool = False) -> FileState:
        state = FileState(source)
        try:
            text = decode(source)
        except UnreadableSource as error:
            state.error = error_diagnostic(source.display, error.reason, error.row, error.column)
            return state
        limit = max_tokens()
        if too_many_tokens(source.data, text, limit):
            # Parsing it would take gigabytes (`ast` about a quarter of what LibCST takes).
            state.error = error_diagnostic(
                source.display,
                f"file is too large to check: more than {limit} tokens (the limit is set by {MAX_TOKENS_VARIABLE})",
            )
            return state
        identity = self.identity(source)
        name, is_package = identity.name, identity.is_package
        tree, source.tree = source.tree, None  # parsed by the caller already: taken once
        try:
            if tree is None:
                with parsing_as_cpython():
                    tree = ast.parse(text, filename=source.display)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            if is_nesting_limit(error):
                # A limit of every CPython, not newer syntax: LibCST must not try (it would
                # overflow the C stack where CPython stopped).
                state.error = syntax_error(source.display, error)
                return state
            return self._analyze_with_libcst(state, text, error, identity)
        if flat_chains_too_long(source.data, tree):
            state.error = error_diagnostic(
                source.display, f"{TOO_DEEP} (more than {MAX_FLAT_CHAIN} `and` / `or` in a row)"
            )
            return state
        try:
            state.facts = collect(
                tree,
                path=source.display,
                module=name,
                is_package=is_package,
                aliases=identity.others,
                shallow=shallow,
                text=text,
            )
        except RecursionError:
            state.error = error_diagnostic(source.display, TOO_DEEP)
            return state
        state.facts.digest = source.digest
        state.facts.root = identity.root
        return state

    def identity(self, source: SourceFile) -> ModuleIdentity:
        """How a file is imported: its source root and dotted name (see `roots`)."""
        if source.identity is None:
            source.identity = self._identity(source)
        return source.identity

    def _identity(self, source: SourceFile) -> ModuleIdentity:
        if source.path is None:
            stem = Path(source.display).stem
            return ModuleIdentity("", "" if stem == "__init__" else stem, stem == "__init__")
        return self.roots.identity(source.path)

    def _analyze_with_libcst(
        self,
        state: FileState,
        text: str,
        error: Exception,
        identity: ModuleIdentity,
    ) -> FileState:
        """`ast` only knows this interpreter's grammar: newer syntax may still parse with LibCST."""
        import libcst as cst

        if token_nesting_bound(text) > MAX_TOKEN_NESTING:
            # Too deep for LibCST's native parser to try safely.
            state.error = error_diagnostic(state.source.display, TOO_DEEP)
            return state
        try:
            state.tree = cst.parse_module(text)
        except cst.ParserSyntaxError as cst_error:
            # Where LibCST read well past the line `ast` stopped at, that line was newer syntax
            # and the real mistake is LibCST's find; elsewhere `ast` words it better (LibCST
            # often places an error on the token after it, on the next line).
            later = cst_error.raw_line > (getattr(error, "lineno", None) or 0) + 1
            state.error = syntax_error(state.source.display, cst_error if later else error)
            return state
        except RecursionError:
            state.error = error_diagnostic(state.source.display, "file is too deeply nested to parse")
            return state
        # Only the imports are known for such a file: rules then answer "unknown" elsewhere.
        state.facts = ModuleFacts(
            path=state.source.display,
            module=identity.name,
            is_package=identity.is_package,
            root=identity.root,
            aliases=identity.others,
            imports=_cst_imports(state.tree, identity.name, identity.is_package),
            digest=state.source.digest,
            complete=False,
        )
        return state

    def build_project(
        self, states: Iterable[FileState], *, complete: bool | Callable[[], bool] = False
    ) -> ProjectFacts:
        """`complete`: the states are every module of the project (see `sessionlint.discover.scope`)."""
        return self.project((state.facts for state in states if state.facts is not None), complete=complete)

    def project(
        self,
        modules: Iterable[ModuleFacts] | Mapping[str, ModuleFacts],
        *,
        identities: Mapping[str, ModuleIdentity] | None = None,
        indexes: Mapping[str, frozenset[FunctionRef]] | None = None,
        complete: bool | Callable[[], bool] = False,
    ) -> ProjectFacts:
        """The project index over these modules, with the settings' names (see `ProjectFacts`)."""
        return ProjectFacts(
            modules,
            dependency_names=self.settings.dependency_names,
            session_factories=self.settings.session_factories,
            engine_constructors=self.settings.engine_constructors,
            identities=identities,
            indexes=indexes,
            complete=complete,
        )

    # -- rule pass ----------------------------------------------------------------------

    @property
    def selected_codes(self) -> frozenset[str]:
        """Codes of the selected rules, known without importing them."""
        return frozenset(code for code in RULE_NAMES if self.settings.is_selected(code))

    def load_rules(self) -> None:
        """Import the rules (and LibCST) now."""
        _ = self.rules
        import sessionlint.rulepass.lint  # noqa: F401

    @property
    def rules(self) -> list[type[Rule]]:
        """The selected rules (imported on first use: a fully cached run never needs LibCST)."""
        if self._rules is None:
            from sessionlint.rules import ALL_RULES

            self._rules = [rule for rule in ALL_RULES if self.settings.is_selected(rule.code)]
        return self._rules

    @deep_stack
    def lint(self, state: FileState, project: ProjectFacts, *, noqa: bool = True) -> LintResult:
        """Every selected rule over one file, in a single batched LibCST traversal.

        `noqa=False` keeps suppressed findings: the flake8 plugin leaves `# noqa` to flake8.
        """
        from sessionlint.rulepass.lint import lint_file

        if state.internal_error is not None:
            return LintResult(internal_errors=[state.internal_error])
        try:
            return lint_file(self.rules, self.settings, state, project, noqa=noqa)
        except Exception as error:  # outside any rule (those are isolated in lint_file)
            return LintResult(internal_errors=[crash_report(state.source.display, error)])


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
                    node = ast.parse(cst.Module(body=[cst.SimpleStatementLine(body=[small])]).code).body[0]
                except SyntaxError:
                    continue
                assert isinstance(node, (ast.Import, ast.ImportFrom))
                imports.update(import_bindings(node, module, is_package))
    return imports
