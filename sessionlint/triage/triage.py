"""Which rules could flag something in a file: only those run, and only on those files.

A rule's finding always stands on a construct the facts already record: a call of an engine
constructor or a session factory, a function creating a session, an `async def` using a
sync session, a name of an async session kind. Each rule has a candidate test here, an
over-approximation of its decision asked of the facts alone (no parse), so a file no rule
could flag is never parsed by LibCST, and the rules that cannot flag a parsed file do not
walk it. A code without a test of its own gets the broad one (the file references any name
of the vocabulary), so a new rule cannot fall outside the triage.
`tests/test_prefilter_soundness.py` runs every fixture with and without the triage, every
rule alone, and asserts the same findings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import ModuleFacts, value_refs
from sessionlint.facts.values import (
    Awaited,
    CallOf,
    Kind,
    Local,
    Ref,
    Value,
)
from sessionlint.project import lifecycle
from sessionlint.project.index import Binding, External, Function, ProjectFacts
from sessionlint.project.tasks import TASK_START_SPELLINGS

_ENGINE = frozenset({Kind.ENGINE})
_SYNC = frozenset({Kind.SYNC_SESSION, Kind.SYNC_FACTORY, Kind.SYNC_REGISTRY})
_ASYNC = frozenset({Kind.ASYNC_SESSION, Kind.ASYNC_FACTORY, Kind.ASYNC_REGISTRY})
_SESSION_SOURCES = _SYNC | _ASYNC
_BACKGROUND_TASKS = frozenset({Kind.BACKGROUND_TASKS})
_SESSION_FACTORIES = frozenset({Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY})
_REGISTRIES = frozenset({Kind.SYNC_REGISTRY, Kind.ASYNC_REGISTRY})
# What SL009 finds coroutine methods on, and what calling gives one.
_ASYNC_RECEIVERS = frozenset({Kind.ASYNC_SESSION, Kind.ASYNC_REGISTRY})
_ASYNC_SESSION_MAKERS = frozenset({Kind.ASYNC_FACTORY, Kind.ASYNC_REGISTRY})
_TRIGGER_KINDS = _ENGINE | _SESSION_SOURCES | _BACKGROUND_TASKS
_SESSION_CLASS_KINDS = {Kind.SYNC_FACTORY, Kind.SYNC_SESSION}

# What a name of the vocabulary can be, whatever the call's arguments say.
_EXTERNAL_KINDS: dict[str, frozenset[Kind]] = {
    **dict.fromkeys(vocab.ENGINE_CONSTRUCTORS, _ENGINE),
    **dict.fromkeys(vocab.SESSIONMAKERS, frozenset({Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY})),
    **dict.fromkeys(vocab.ASYNC_SESSIONMAKERS, frozenset({Kind.ASYNC_FACTORY})),
    **dict.fromkeys(vocab.SCOPED_SESSIONS, frozenset({Kind.SYNC_REGISTRY})),
    **dict.fromkeys(vocab.ASYNC_SCOPED_SESSIONS, frozenset({Kind.ASYNC_REGISTRY})),
    **dict.fromkeys(vocab.SYNC_SESSION_CLASSES, frozenset(_SESSION_CLASS_KINDS)),
    **dict.fromkeys(vocab.ASYNC_SESSION_CLASSES, frozenset({Kind.ASYNC_FACTORY, Kind.ASYNC_SESSION})),
    **dict.fromkeys(vocab.BACKGROUND_TASKS, _BACKGROUND_TASKS),
}
_SESSION_CLASSES = vocab.SYNC_SESSION_CLASSES | vocab.ASYNC_SESSION_CLASSES
_POOLED_ENGINE_CONSTRUCTORS = vocab.ENGINE_CONSTRUCTORS - vocab.CONFIG_ENGINE_CONSTRUCTORS
_TASK_STARTERS = vocab.TASK_GATHERERS | vocab.TASK_CREATORS
_EXPIRING_FACTORIES = vocab.ASYNC_SESSIONMAKERS | vocab.ASYNC_SESSION_CLASSES | vocab.SESSIONMAKERS


def names_worth_following(facts: ModuleFacts, triage: Triage) -> set[str]:
    """Top-level names of a module that lead to a trigger: another file using one may hold a finding.

    A factory, an engine, a session alias, a function that creates or provides a session (or
    builds an engine: a lifespan), or an import of such a thing under a new name.
    """
    names = set()
    root = facts.root
    for name, value in facts.bindings.items():
        if "." not in name and any(triage.is_trigger(ref, root) for ref in value_refs([value])):
            names.add(name)
    for qualname, function in facts.functions.items():
        if "." in qualname or "#" in qualname:
            continue
        if any(triage.is_trigger(ref, root) for ref in function.referenced):
            names.add(function.name)
    names.update(local for local, target in facts.imports.items() if triage.is_trigger(target, root))
    return names


class Triage:
    """Decides, per module, which rules could flag something in it (answers memoised per run)."""

    def __init__(self, project: ProjectFacts) -> None:
        self.project = project
        self._kinds: dict[tuple[str, str], frozenset[Kind]] = {}

    def candidate_codes(self, facts: ModuleFacts, codes: Collection[str]) -> frozenset[str]:
        """The codes among `codes` whose rule could report something in this module."""
        module = ModuleTriage(facts, self)
        return frozenset(code for code in codes if CANDIDATE_TESTS.get(code, _references_trigger)(module))

    def is_trigger(self, qualname: str, root: str) -> bool:
        return bool(self.kinds(qualname, root) & _TRIGGER_KINDS)

    def kinds(self, qualname: str, root: str) -> frozenset[Kind]:
        """Every kind a global (written under source root `root`) could be, be called to
        give, or declare as an annotation.

        Memoized per name, and an alias met again while its own kinds are computed gives
        nothing (a cycle of aliases names nothing else): every alias is followed once, to
        its end, however long the chain. A depth limit would be unsound here: a chain cut
        short, then memoized, would make the triage skip a file the rules would flag."""
        key = (root, qualname)
        found = self._kinds.get(key)
        if found is None:
            self._kinds[key] = frozenset()
            found = self._kinds[key] = self._compute_kinds(qualname, root)
        return found

    def _compute_kinds(self, qualname: str, root: str) -> frozenset[Kind]:
        project = self.project
        target = project.resolve(qualname, root)
        if isinstance(target, External):
            name = target.qualname
            if name in project.extra_engines:
                return _ENGINE
            if name in project.extra_factories:
                return frozenset(_SESSION_CLASS_KINDS)
            return _EXTERNAL_KINDS.get(name, frozenset())
        kinds: set[Kind | None] = set()
        if isinstance(target, Binding):
            value = target.module.bindings.get(target.name)
            kinds |= {project.value_kind(value, target.module), project.annotation_kind(value, target.module)}
            if isinstance(value, Ref):  # `get_db = make_session` aliases
                kinds |= self.kinds(value.qualname, target.module.root)
        elif isinstance(target, Function):
            kinds |= {
                project.provided_kind(target),
                project.call_result_kind(target, awaited=True),
                project.call_result_kind(target, awaited=False),
                project.creates_session(target),
            }
        kinds.discard(None)
        return frozenset(kind for kind in kinds if kind is not None)


class ModuleTriage:
    """One module's facts, as the candidate tests ask them."""

    def __init__(self, facts: ModuleFacts, triage: Triage) -> None:
        self.facts = facts
        self.triage = triage
        self.project = triage.project
        self.functions = [Function(facts, function) for function in facts.functions.values()]

    def any_kind(self, names: Iterable[str], kinds: frozenset[Kind]) -> bool:
        return any(self.triage.kinds(name, self.facts.root) & kinds for name in names)

    def references(self, kinds: frozenset[Kind]) -> bool:
        return self.any_kind(self.facts.referenced, kinds)

    def call_kinds(self, name: str) -> frozenset[Kind]:
        """What calling a global gives (awaited or not), whatever the call's arguments."""
        project, call = self.project, CallOf(Ref(name))
        kinds = {project.value_kind(call, self.facts), project.value_kind(Awaited(call), self.facts)}
        target = project.resolve(name, self.facts.root)
        if isinstance(target, External) and target.qualname in vocab.SESSIONMAKERS:
            kinds.add(Kind.ASYNC_FACTORY)  # `sessionmaker(class_=AsyncSession)`
        return frozenset(kind for kind in kinds if kind is not None)

    def may_create_session(self, value: Value | None) -> bool:
        """A cheap first look before `created_session_kind`: a call of a global that is no
        session source of any kind creates none (most assigned values are such calls)."""
        if isinstance(value, Awaited):
            value = value.value
        if isinstance(value, CallOf) and isinstance(value.func, Ref):
            return bool(self.triage.kinds(value.func.qualname, self.facts.root) & _SESSION_SOURCES)
        return isinstance(value, (CallOf, Local))  # a local alias, a chained call: ask

    def binding_kind(self, name: str) -> Kind | None:
        """The kind of the module-level object a name (or an attribute of it) belongs to."""
        target = self.project.resolve(name, self.facts.root)
        if isinstance(target, Binding):
            return self.project.value_kind(target.module.bindings.get(target.name), target.module)
        return None

    def calls_outside_functions_and_toplevel(self) -> set[str]:
        """Calls in lambdas and in classes nested in functions: no function's own facts hold them."""
        inside = set(self.facts.toplevel_calls)
        for function in self.facts.functions.values():
            inside |= function.calls
        return set(self.facts.calls) - inside

    def unlisted_calls_of(self, constructors: frozenset[str]) -> bool:
        """A call of one of `constructors` under a name the fact pass could not know (a re-export
        through the project, a configured name), whose arguments are therefore not recorded."""
        for name in self.facts.calls - vocab.CONSTRUCTORS:
            target = self.project.resolve(name, self.facts.root)
            if isinstance(target, External) and (
                target.qualname in constructors or target.qualname in self.project.extra_engines
            ):
                return True
        return False


CandidateTest = Callable[[ModuleTriage], bool]


def _references_trigger(module: ModuleTriage) -> bool:
    return module.references(_TRIGGER_KINDS)


def _sl001_session_dependency_returns(module: ModuleTriage) -> bool:
    project = module.project
    return any(
        any(
            project.created_session_kind(value, module.facts, function.facts)
            for value in function.facts.returns
        )
        and project.is_session_dependency(function)
        for function in module.functions
    )


def _sl002_session_not_closed(module: ModuleTriage) -> bool:
    if module.facts.is_migration_file:
        return False
    return any(
        module.may_create_session(value) and module.project.creates_pooled_session(function, value)
        for function in module.functions
        for name in function.facts.assigned_names
        for value in function.facts.locals.get(name, ())
    ) or any(_passes_new_session(module, function) for function in module.functions)


def _passes_new_session(module: ModuleTriage, function: Function) -> bool:
    """A session made inline as an argument of a project function that only uses that
    parameter (`purge(SessionLocal())`): the rule's own questions, asked of the recorded
    call sites (`callsites.inline_call_args`)."""
    project = module.project
    for callee_name, key, value in function.facts.inline_call_args:
        if not module.may_create_session(value) or not project.creates_pooled_session(function, value):
            continue
        callee = project.function_of(Ref(callee_name), module.facts)
        if callee is None or callee.facts.is_method:
            continue
        if isinstance(key, str):
            name: str | None = key
        else:
            params = callee.facts.params
            name = params[key].name if key < len(params) else None
        if name is not None and project.only_uses_param(callee, name):
            return True
    return False


def _sl003_engine_in_function(module: ModuleTriage) -> bool:
    if module.facts.is_test_file or module.facts.is_migration_file:
        return False
    if any(module.any_kind(function.facts.calls, _ENGINE) for function in module.functions):
        return True
    return module.any_kind(module.calls_outside_functions_and_toplevel(), _ENGINE)


def _sl004_sync_session_in_async(module: ModuleTriage) -> bool:
    coroutines = [function for function in module.functions if function.facts.is_async]
    if not coroutines:
        return False
    if any(module.any_kind(function.facts.referenced, _SYNC) for function in coroutines):
        return True
    return module.any_kind(module.calls_outside_functions_and_toplevel(), _SYNC)


def _sl005_engine_without_pre_ping(module: ModuleTriage) -> bool:
    if module.facts.is_test_file or module.facts.is_migration_file:
        return False
    for call in module.facts.constructor_calls:
        name = call.func.qualname if isinstance(call.func, Ref) else None
        if name in _POOLED_ENGINE_CONSTRUCTORS and not module.project.opts_out_of_pre_ping(
            call, module.facts.root
        ):
            return True
    return module.unlisted_calls_of(_POOLED_ENGINE_CONSTRUCTORS)


def _sl006_async_session_expire_on_commit(module: ModuleTriage) -> bool:
    for call in module.facts.constructor_calls:
        name = call.func.qualname if isinstance(call.func, Ref) else None
        if name not in _EXPIRING_FACTORIES or call.may_set("expire_on_commit"):
            continue
        if name not in vocab.SESSIONMAKERS or call.has_keyword("class_"):
            return True
    return module.unlisted_calls_of(_EXPIRING_FACTORIES)


def _sl007_session_in_background_task(module: ModuleTriage) -> bool:
    """A function handing a parameter that holds the request's session to `add_task`
    (`callsites.background_args`), in a module naming `BackgroundTasks`."""
    project = module.project
    hands_request_session = any(
        param.name in function.facts.background_args
        and project.request_session_kind(param, module.facts) is not None
        for function in module.functions
        for param in function.facts.params
    )
    return hands_request_session and module.references(_BACKGROUND_TASKS)


def _sl008_module_level_session(module: ModuleTriage) -> bool:
    # A session is made by calling a factory: a global that is one, or what a call gives.
    for name in module.facts.toplevel_calls:
        if name.endswith("()"):
            if module.call_kinds(name[:-2]) & _SESSION_FACTORIES:
                return True
        elif module.project.value_kind(Ref(name), module.facts) in _SESSION_FACTORIES:
            return True
    return False


def _sl009_async_session_not_awaited(module: ModuleTriage) -> bool:
    """A receiver of an async kind: a call giving one (`factory().execute`, a module-level
    session's method), or a receiver of a coroutine method not awaited in a function."""
    if not module.references(_ASYNC):
        return False
    project = module.project
    # A receiver made of a global (`get_db().execute`, `factory()().commit`, a module-level
    # session's method), anywhere in the module (`callsites.receiver_globals`).
    for name in module.facts.receiver_globals:
        if module.call_kinds(name) & (_ASYNC_RECEIVERS | _ASYNC_SESSION_MAKERS):
            return True
        if project.value_kind(Ref(name), module.facts) in _ASYNC_RECEIVERS:
            return True
        if module.binding_kind(name) in _ASYNC_RECEIVERS:
            return True
    # A receiver in a function (a parameter, a local, `self.session`, ...) the rule could
    # find a coroutine method called on without `await` (`callsites.coroutine_receivers`).
    return any(
        project.value_kind(receiver, module.facts, function.facts) in _ASYNC_RECEIVERS
        for function in module.functions
        for receiver in function.facts.coroutine_receivers
    )


def _sl010_async_session_concurrent_use(module: ModuleTriage) -> bool:
    """A function starting tasks that is given an AsyncSession (an argument or a receiver of
    one of its calls: `callsites.task_values`), or a call of a project coroutine that hands
    a parameter to `gather`, in a module that names something of an async session kind."""
    if not module.references(_ASYNC):
        return False
    project = module.project
    if any(
        project.value_kind(value, module.facts, function.facts) == Kind.ASYNC_SESSION
        for function in module.functions
        for value in function.facts.task_values
    ):
        return True
    for name in module.facts.calls:
        target = project.resolve(name, module.facts.root)
        # A task starter the project re-exports under another name (`start_in_background`):
        # the fact pass, which resolves only the module's own imports, recorded no
        # `task_values` for its calls (`create_task as spawn` it does resolve).
        if (
            isinstance(target, External)
            and target.qualname in _TASK_STARTERS
            and name.rpartition(".")[2] not in TASK_START_SPELLINGS
        ):
            return True
        # A call of a project coroutine that hands a parameter to `gather`.
        if (
            isinstance(target, Function)
            and not target.rest
            and any(project.gathered_through(target, param.name) for param in target.facts.params)
        ):
            return True
    return False


def _sl011_scoped_session_not_removed(module: ModuleTriage) -> bool:
    """A reference to something that makes a registry (`scoped_session`, a project function
    returning one): the rule reports a module-level call of it."""
    if module.facts.is_test_file or module.facts.is_migration_file:
        return False
    return module.references(_REGISTRIES)


def _sl012_async_engine_not_disposed(module: ModuleTriage) -> bool:
    """A call of an async engine maker, or of a project function wrapping one."""
    if module.facts.is_test_file or module.facts.is_migration_file:
        return False
    project = module.project
    return any(
        lifecycle.makes_async_engine(project, CallOf(Ref(name)), module.facts) for name in module.facts.calls
    )


def _sl013_dependency_called_by_hand(module: ModuleTriage) -> bool:
    """A call of a session generator (driving it by hand starts with calling it)."""
    project = module.project
    return any(project.session_generator(CallOf(Ref(name)), module.facts) for name in module.facts.calls)


CANDIDATE_TESTS: dict[str, CandidateTest] = {
    "SL001": _sl001_session_dependency_returns,
    "SL002": _sl002_session_not_closed,
    "SL003": _sl003_engine_in_function,
    "SL004": _sl004_sync_session_in_async,
    "SL005": _sl005_engine_without_pre_ping,
    "SL006": _sl006_async_session_expire_on_commit,
    "SL007": _sl007_session_in_background_task,
    "SL008": _sl008_module_level_session,
    "SL009": _sl009_async_session_not_awaited,
    "SL010": _sl010_async_session_concurrent_use,
    "SL011": _sl011_scoped_session_not_removed,
    "SL012": _sl012_async_engine_not_disposed,
    "SL013": _sl013_dependency_called_by_hand,
}
