"""The project index: cross-module resolution and what every value *is*.

Built once per run from every module's facts. It follows imports and re-exports between
the checked modules, and answers for a symbolic value whether it is a session, a factory,
an engine, an app or router; for a function whether it is a session dependency or an
endpoint. Unknown answers are None / False: the rules never guess.

`ProjectFacts` holds the modules, the resolver and the memos; its questions live by topic
in mixins: kinds (`kinds`), dependencies (`dependencies`), callers and the whole-project
indexes (`callers`), sessions and engines (`sessions`), roles and where code runs
(`roles`), each a module of this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sessionlint.discover.roots import ModuleIdentity
from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.values import Kind, Ref, Value
from sessionlint.project.callers import CallerQuestions
from sessionlint.project.dependencies import DependencyQuestions
from sessionlint.project.kinds import CONSTRUCTED_KINDS, KindQuestions
from sessionlint.project.resolution import (
    Ambiguous,
    Binding,
    External,
    Function,
    FunctionRef,
    Lookup,
    ModuleIndex,
    Resolver,
    Target,
)
from sessionlint.project.roles import RoleQuestions
from sessionlint.project.sessions import SessionQuestions

__all__ = ["Binding", "External", "Function", "FunctionRef", "ProjectFacts", "Target"]

_VOCABULARY = frozenset(CONSTRUCTED_KINDS) | vocab.SESSIONMAKERS | vocab.DEPENDS | vocab.BACKGROUND_TASKS


class ProjectFacts(KindQuestions, DependencyQuestions, CallerQuestions, SessionQuestions, RoleQuestions):
    """Cross-module answers over every checked module's facts."""

    def __init__(
        self,
        modules: Iterable[ModuleFacts] | Mapping[str, ModuleFacts],
        *,
        dependency_names: Iterable[str] = vocab.DEFAULT_DEPENDENCY_NAMES,
        session_factories: Iterable[str] = (),
        engine_constructors: Iterable[str] = (),
        identities: Mapping[str, ModuleIdentity] | None = None,
        indexes: Mapping[str, frozenset[FunctionRef]] | None = None,
        complete: bool | Callable[[], bool] = False,
        module_index: ModuleIndex | None = None,
    ) -> None:
        """`modules`: their facts, or a mapping from module key (`ModuleFacts.key`) to facts
        with their `identities` beside it, so that facts kept elsewhere (an incremental
        run's stored ones) are only loaded when looked up. `indexes`: whole-project indexes
        already known for exactly these modules (see `known_indexes`). `complete`: these are
        every module of the project (see `sessionlint.discover.scope`); only then can an absence (no
        direct call anywhere) be known; a callable is asked on first use only. `module_index`:
        the modules' keys by name, built already for the same identities."""
        if isinstance(modules, Mapping):
            self.modules = modules
            known = dict(identities or {})
        else:
            self.modules = {}
            known = {}
            for facts in modules:
                if self.modules.setdefault(facts.key, facts) is facts:
                    identity = ModuleIdentity(facts.root, facts.module, facts.is_package, facts.aliases)
                    known[facts.key] = identity
        self.dependency_names = frozenset(dependency_names)
        self.extra_factories = frozenset(session_factories)
        self.extra_engines = frozenset(engine_constructors)
        self.resolver = Resolver(
            self.modules,
            module_index or ModuleIndex(known.items()),
            _VOCABULARY | self.extra_factories | self.extra_engines,
        )
        self._kind_cache: dict[tuple[object, ...], Kind | None] = {}
        # Memoized answers of `tasks` (SL010), dropped with the kinds'; with what is being computed.
        self.task_answers: dict[tuple[str, ...], object] = {}
        self.task_progress: set[tuple[str, ...]] = set()
        # Return annotations count as evidence (`declared_kind`): off while asking what a
        # function owns, which only the values it really makes can prove.
        self._declarations = True
        self._in_progress: set[tuple[object, ...]] = set()
        self._indexes: dict[str, frozenset[FunctionRef]] = dict(indexes or {})
        # What several whole-project indexes are built from (the call graph, `contexts`).
        self.index_parts: dict[str, object] = {}
        self.answers: dict[tuple[str, str, str], bool] | None = None
        self._complete = complete

    @property
    def complete(self) -> bool:
        """Every module of the project is known to this run (see `__init__`)."""
        if not isinstance(self._complete, bool):
            self._complete = bool(self._complete())
        return self._complete

    @property
    def lookups(self) -> dict[Lookup, str | None] | None:
        """While a file's check is recorded: every module lookup its resolutions made, with
        what it found (see `Resolver.token`)."""
        return self.resolver.lookups

    @lookups.setter
    def lookups(self, value: dict[Lookup, str | None] | None) -> None:
        self.resolver.lookups = value

    def with_module(self, facts: ModuleFacts) -> ProjectFacts:
        """The same project with one module's facts replaced (after a fix rewrote it)."""
        modules = [m for m in self.modules.values() if m.path != facts.path] + [facts]
        return ProjectFacts(
            modules,
            dependency_names=self.dependency_names,
            session_factories=self.extra_factories,
            engine_constructors=self.extra_engines,
            complete=self.complete,
        )

    def replacing(
        self, old: ModuleFacts, new: ModuleFacts, indexes: Mapping[str, frozenset[FunctionRef]]
    ) -> ProjectFacts:
        """The same project with `new` in place of `old` (the same module, read again: its
        identity is the same), given `indexes` for it; the modules' keys are not indexed again."""
        assert ModuleIdentity(old.root, old.module, old.is_package, old.aliases) == ModuleIdentity(
            new.root, new.module, new.is_package, new.aliases
        )
        modules = {key: new if facts is old else facts for key, facts in self.modules.items()}
        return ProjectFacts(
            modules,
            dependency_names=self.dependency_names,
            session_factories=self.extra_factories,
            engine_constructors=self.extra_engines,
            indexes=indexes,
            complete=self._complete,  # a callable stays unasked
            module_index=self.resolver.index,
        )

    def all_indexes(self) -> dict[str, frozenset[FunctionRef]]:
        """Every whole-project index, built now if not yet (an edit's shortcut compares them)."""
        self.build_indexes()
        _ = self.script_modules, self.one_shot_functions, self.once_functions
        for question in self._LIFECYCLE_INDEXES:
            self._lifecycle_index(question)
        return self.known_indexes()

    # -- resolution ---------------------------------------------------------------------------

    def module_named(self, name: str, root: str = "") -> ModuleFacts | None:
        """The module `name` is, imported from a module under source root `root` (None when
        no module read has it, or several could be it)."""
        return self.resolver.find(name, root)

    def resolve(self, qualname: str, root: str = "") -> Target:
        """What a qualified name, written in a module under `root`, refers to: imports and
        re-exports followed (see `resolution`). An ambiguous name refers to nothing."""
        target = self.resolver.resolve(qualname, root)
        return None if isinstance(target, Ambiguous) else target

    def possible_targets(self, qualname: str, root: str = "") -> tuple[Target, ...]:
        """Everything a name may refer to: its target, or each one of an ambiguous name."""
        target = self.resolver.resolve(qualname, root)
        return target.targets if isinstance(target, Ambiguous) else (target,)

    def external_name(self, value: Value | None, root: str = "") -> str | None:
        """The qualified name of the library object a value names (`sqlalchemy.pool.NullPool`)."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, root)
            if isinstance(target, External):
                return target.qualname
        return None

    def constant_value(self, value: Value | None, root: str = "") -> Value | None:
        """What a module-level constant is bound to (through imports); other values as they are."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, root)
            if isinstance(target, Binding) and not target.rest:
                return target.module.bindings.get(target.name)
        return value

    def function_of(self, value: Value | None, module: ModuleFacts) -> Function | None:
        """The project function a value names (`get_db`, `deps.get_db`), if any."""
        if isinstance(value, Ref):
            target = self.resolve(value.qualname, module.root)
            if isinstance(target, Function) and not target.rest:
                return target
            if isinstance(target, Binding) and not target.rest:
                # `get_db = make_dependency` style aliases of a function.
                bound = target.module.bindings.get(target.name)
                if isinstance(bound, Ref) and bound != value:
                    return self.function_of(bound, target.module)
        return None

    def function_in(self, module: ModuleFacts, qualname: str) -> Function | None:
        facts = module.functions.get(qualname)
        return Function(module, facts) if facts is not None else None
