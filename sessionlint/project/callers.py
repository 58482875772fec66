"""The project index's questions about callers: the whole-project indexes (what is called,
by a known or an ambiguous name; what is a dependency; who disposes engines and removes
registries, see `lifecycle`), and the record of what one file's
check asked of them (the cache's validity check).

A mixin of `ProjectFacts` (see `project`): it asks the other questions of the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from sessionlint.project import lifecycle
from sessionlint.project.resolution import Function, FunctionRef, Lookup, Target

if TYPE_CHECKING:
    from sessionlint.facts.facts import ModuleFacts
    from sessionlint.project.index import ProjectFacts


def certain(targets: tuple[Target, ...]) -> bool:
    """A call's targets name one function (`called`)."""
    return len(targets) == 1


def uncertain(targets: tuple[Target, ...]) -> bool:
    """A call's name is ambiguous: any of its targets may be called (`uncertain`)."""
    return len(targets) > 1


class CallerQuestions:
    """Whole-project indexes, who calls a function, and the answers a file's check relied on."""

    # -- whole-project indexes ----------------------------------------------------------------

    # Whole-project indexes, built on first use: the fact pass builds a project after each
    # round only to ask what names lead to a trigger, which needs neither.
    @property
    def dependency_targets(self) -> frozenset[FunctionRef]:
        return self._index("dependency", self._collect_dependency_targets)

    @property
    def called_functions(self) -> frozenset[FunctionRef]:
        return self._index("called", self._collect_called_functions)

    @property
    def uncertain_callers(self) -> frozenset[FunctionRef]:
        return self._index("uncertain", self._collect_uncertain_callers)

    def _index(self, name: str, build: Callable[[], frozenset[FunctionRef]]) -> frozenset[FunctionRef]:
        found = self._indexes.get(name)
        if found is None:
            # An index over every module is no lookup of the file being checked, and the
            # questions it asks of every function are not that file's answers.
            lookups, answers, self.lookups, self.answers = self.lookups, self.answers, None, None
            try:
                found = self._indexes[name] = build()
            finally:
                self.lookups, self.answers = lookups, answers
        return found

    def build_indexes(self) -> None:
        """Build the whole-project indexes now (before forking workers, which would each
        build their own)."""
        _ = self.dependency_targets, self.called_functions, self.uncertain_callers, self.lifespan_targets

    def known_indexes(self) -> dict[str, frozenset[FunctionRef]]:
        """The whole-project indexes built so far (an incremental run reuses them)."""
        return dict(self._indexes)

    def _collect_called_functions(self) -> frozenset[FunctionRef]:
        return self._called(certain)

    def _collect_uncertain_callers(self) -> frozenset[FunctionRef]:
        """Functions a call of an ambiguous name may be calling."""
        return self._called(uncertain)

    def _called(self, wanted: Callable[[tuple[Target, ...]], bool]) -> frozenset[FunctionRef]:
        called: set[FunctionRef] = set()
        for module in self.modules.values():
            called |= self.called_in(module, wanted)
        return frozenset(called)

    def called_in(
        self, module: ModuleFacts, wanted: Callable[[tuple[Target, ...]], bool]
    ) -> set[FunctionRef]:
        """What one module's calls add to `_called` (an edit's `footprint` compares it)."""
        called = set()
        for qualname in module.calls:
            targets = self.possible_targets(qualname, module.root)
            if wanted(targets):
                called.update(
                    (target.module.key, target.facts.qualname)
                    for target in targets
                    if isinstance(target, Function) and not target.rest
                )
        return called

    # -- callers ------------------------------------------------------------------------------

    def is_called_directly(self, function: Function) -> bool:
        """Called directly somewhere, or perhaps: see `callers_known`. Every "nothing calls it
        directly" decision (a dependency by name alone, a fix that makes it a generator)
        asks this, so an unknown answer never reads as "no caller"."""
        return self.has_known_caller(function) or not self.callers_known(function)

    def has_known_caller(self, function: Function) -> bool:
        """A direct call of this function is known (others may be unknown: `callers_known`)."""
        return self._member("called", function, self.called_functions)

    def callers_known(self, function: Function) -> bool:
        """Every call of this function in the checked modules is known: no call of an
        ambiguous name (`app.db.get_db` where two source roots have an `app.db`) may be one.

        False means "unknown": a rule must then neither conclude that nothing calls the
        function (no finding resting on that) nor offer a fix that is safe only if so."""
        return not self._member("uncertain", function, self.uncertain_callers)

    def knows_every_use(self, function: Function) -> bool:
        """Every use of the function in the project is known: the run knows every module,
        no call of a name several modules may be can be a call of it (`callers_known`),
        and the function is one
        whose uses are tracked (a module-level function; calls through `self` or of a
        nested function are not). Only then does "nothing calls it directly" mean
        something."""
        if self.answers is not None:
            self.answers[("complete", "", "")] = self.complete
        facts = function.facts
        # `callers_known`: a call through a name two source roots share (two services'
        # `app.db`) resolves to neither, and may be a call of this function.
        return self.complete and facts.qualname == facts.name and self.callers_known(function)

    # -- what a file's result depended on (the cache's validity check) ------------------------

    def _member(self, question: str, function: Function, members: frozenset[FunctionRef]) -> bool:
        key = (function.module.key, function.facts.qualname)
        answer = key in members
        if self.answers is not None:
            self.answers[(question, *key)] = answer
        return answer

    def forget_answers(self) -> None:
        """Drop memoized answers (the whole-project indexes stay)."""
        self._kind_cache = {}
        self.task_answers = {}

    def record_answers(self) -> None:
        """Start noting what one file's check consults: every module looked up (with the
        digest found, or None) and every whole-project question asked. Memoized answers are
        dropped first, so that nothing computed for another file goes unrecorded."""
        self.forget_answers()
        self.answers = {}
        self.lookups = {}

    def recorded_answers(self) -> dict[tuple[str, str, str], bool]:
        answers, self.answers = self.answers or {}, None
        return answers

    def recorded_lookups(self) -> dict[str, str | None]:
        lookups, self.lookups = self.lookups or {}, None
        return lookups

    def answers_still_hold(self, answers: dict[tuple[str, str, str], bool]) -> bool:
        members = {
            "dependency": self.dependency_targets,
            "called": self.called_functions,
            "uncertain": self.uncertain_callers,
            "lifespan": self.lifespan_targets,
            "script": self.script_modules,
            "one_shot": self.one_shot_functions,
            "once": self.once_functions,
        }

        def members_of(question: str) -> frozenset[FunctionRef]:
            if question in self._LIFECYCLE_INDEXES:  # built only when a finding asked
                return self._lifecycle_index(question)
            return members[question]

        return all(
            (self.complete if question == "complete" else (module, qualname) in members_of(question))
            == answer
            for (question, module, qualname), answer in answers.items()
        )

    def adopt_indexes(self, indexes: dict[str, frozenset[FunctionRef]]) -> None:
        """Whole-project indexes a worker built over this same project (its rule pass
        forked from this one): kept, so that the snapshot an incremental run reuses holds
        them as a run in one process would."""
        for name, index in indexes.items():
            self._indexes.setdefault(name, index)

    def lookups_still_hold(self, lookups: dict[Lookup, str | None]) -> bool:
        return all(self.resolver.token(lookup) == token for lookup, token in lookups.items())

    # -- who disposes engines and removes registries (`lifecycle`) -----------------------

    _LIFECYCLE_INDEXES: ClassVar[dict[str, Callable[[ProjectFacts], frozenset[FunctionRef]]]] = {
        "disposed": lifecycle.disposed_objects,
        "removed": lifecycle.removed_objects,
        "registry_users": lifecycle.registry_users,
        "shutdown": lifecycle.shutdown_hooks,
    }

    def _lifecycle_index(self, question: str) -> frozenset[FunctionRef]:
        return self._index(question, lambda: self._LIFECYCLE_INDEXES[question](self))

    def lifecycle_answer(self, question: str, key: str, name: str) -> bool:
        """Whether `(key, name)` is in one of the `lifecycle` indexes (`disposed`, `removed`,
        `registry_users`, `shutdown`), noted as an answer the file's findings rest on."""
        answer = (key, name) in self._lifecycle_index(question)
        if self.answers is not None:
            self.answers[(question, key, name)] = answer
        return answer

    def knows_whole_project(self) -> bool:
        """Every module of the project is known to this run (noted as an answer)."""
        if self.answers is not None:
            self.answers[("complete", "", "")] = self.complete
        return self.complete
