"""The rule pass: every selected rule over one file's LibCST tree, in one batched traversal."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import replace

import libcst as cst
from libcst.metadata import MetadataWrapper

from sessionlint.facts.filestate import FileState, InternalError, LintResult, syntax_error
from sessionlint.project.index import ProjectFacts
from sessionlint.read.limits import TOO_DEEP
from sessionlint.read.sources import decode, error_diagnostic
from sessionlint.report.diagnostics import Diagnostic
from sessionlint.rulepass import reparse
from sessionlint.rulepass.context import FileSemantics, ScopeEnter, ScopeExit
from sessionlint.rulepass.noqa import without_suppressed
from sessionlint.rulepass.prune import FINAL_WHEN_PRUNED, pruned_text
from sessionlint.rulepass.tokenview import TokenView, tokenizer_view
from sessionlint.rulepass.walk import walk
from sessionlint.rules import Rule
from sessionlint.rules._base import FileContext
from sessionlint.rules.sl100_unused_noqa import unused_noqa
from sessionlint.settings.codes import UNUSED_NOQA
from sessionlint.settings.config import Settings


def lint_file(
    selected: Sequence[type[Rule]],
    settings: Settings,
    state: FileState,
    project: ProjectFacts,
    *,
    noqa: bool = True,
) -> LintResult:
    """The `selected` rules (those the triage left for the file) over one file;
    `noqa=False` keeps suppressed findings."""
    result = LintResult()
    if state.error is not None:
        result.diagnostics.append(state.error)
        return result
    rules = [rule for rule in selected if state.rule_codes is None or rule.code in state.rule_codes]
    # SL100 visits nothing: it reviews the other rules' findings against the noqa comments.
    review_noqa = noqa and any(rule.code == UNUSED_NOQA for rule in rules)
    rules = [rule for rule in rules if rule.code != UNUSED_NOQA]
    if state.facts is None or not (rules or review_noqa):
        return result
    text = decode(state.source)
    if not rules:
        result.diagnostics = _reviewed(settings, state, text, [], result)
        return result
    if state.tree is None and not review_noqa and state.rule_codes is not None:
        pruned = pruned_text(text, state.rule_codes, state.facts, project)
        if pruned is not None:
            # Nothing found, or only findings that stand on their call: the answer. Other
            # findings: the whole file again, for fixes that may edit a left-out function.
            found = _checked(settings, state, project, rules, text, tokenizer_view(pruned), noqa, False)
            if not found.internal_errors and all(d.code in FINAL_WHEN_PRUNED for d in found.diagnostics):
                return found
    # The tree is not kept on the state: with every checked file's tree alive until the run
    # ends, memory grows with the project and each garbage collection walks all of them.
    view = tokenizer_view(text)
    tree = state.tree if view.text is text else None
    return _checked(settings, state, project, rules, text, view, noqa, review_noqa, tree)


def _checked(
    settings: Settings,
    state: FileState,
    project: ProjectFacts,
    rules: Sequence[type[Rule]],
    text: str,
    view: TokenView,
    noqa: bool,
    review_noqa: bool,
    tree: cst.Module | None = None,
) -> LintResult:
    """The rules over `view` (of the file's text, or of its pruned text) and what they find."""
    assert state.facts is not None
    result = LintResult()
    if tree is None:
        try:
            # The buffer an editor checks again after each edit: only the part after the
            # statements it left alone is parsed again (`reparse`).
            tree = reparse.parse(state.source.display, view.text)
        except (cst.ParserSyntaxError, RecursionError) as error:
            diagnostic = syntax_error(state.source.display, error)
            if isinstance(error, cst.ParserSyntaxError) and state.facts.complete:
                # Python parsed it (the facts are from `ast`): the limit is LibCST's.
                diagnostic = replace(
                    diagnostic, message=f"LibCST cannot parse this file, Python can: {diagnostic.message}"
                )
            result.diagnostics.append(diagnostic)
            return result
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    contexts = _run_rules(wrapper, state, project, rules, result, view)
    if len(result.internal_errors) == len(rules) and all(
        error.message.startswith("RecursionError") for error in result.internal_errors
    ):
        # Every rule failed the same way: the tree is too deep to walk, no rule is to blame.
        result.internal_errors.clear()
        result.diagnostics.append(error_diagnostic(state.source.display, TOO_DEEP))
        return result
    diagnostics = [d for context in contexts for d in context.diagnostics]
    diagnostics = [d for d in diagnostics if settings.is_selected(d.code, state.source.display)]
    if review_noqa:
        diagnostics = _reviewed(settings, state, text, diagnostics, result)
    elif noqa:
        diagnostics = without_suppressed(diagnostics, text)
    result.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
    return result


def _reviewed(
    settings: Settings, state: FileState, text: str, diagnostics: list[Diagnostic], result: LintResult
) -> list[Diagnostic]:
    """The findings with SL100's added, then those the `# noqa` comments suppress left out.
    Judged: the codes selected for the file whose rule ran to the end (a crashed rule's
    findings are unknown)."""
    display = state.source.display
    crashed = {error.rule for error in result.internal_errors}

    def judged(code: str) -> bool:
        return code not in crashed and settings.is_selected(code, display)

    if not settings.is_selected(UNUSED_NOQA, display):
        return without_suppressed(diagnostics, text)
    unused = unused_noqa(text, display, diagnostics, judged)
    return sorted(without_suppressed([*diagnostics, *unused], text), key=Diagnostic.sort_key)


def _run_rules(
    wrapper: MetadataWrapper,
    state: FileState,
    project: ProjectFacts,
    rules: Sequence[type[Rule]],
    result: LintResult,
    view: TokenView,
) -> list[FileContext]:
    assert state.facts is not None and state.source.text is not None
    semantics = FileSemantics(state.facts, project)
    context = FileContext(state.source.display, state.source.text, wrapper, semantics, view)
    enter = ScopeEnter(semantics)
    try:
        walk(wrapper.module, [enter, *(rule(context) for rule in rules), ScopeExit(semantics)])
        return [context]
    except Exception as error:
        if len(rules) == 1:
            result.internal_errors.append(_internal_error(state, rules[0], enter, context, error))
            return []
    # Re-run the rules one by one to find the one that failed and keep the others' results.
    return [ctx for rule in rules for ctx in _run_rules(wrapper, state, project, [rule], result, view)]


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
