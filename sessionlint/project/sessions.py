"""The project index's questions about sessions and engines a call makes: what a call's
arguments decide (pre-ping, a pool connection), which values are sessions the code
created itself, and how a function uses a session it was handed.

A mixin of `ProjectFacts` (see `project`): it asks the other questions of the same object.
"""

from __future__ import annotations

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.facts import FunctionFacts, ModuleFacts
from sessionlint.facts.values import SESSION_FROM_FACTORY, Awaited, CallOf, Kind, Local, Text, Value
from sessionlint.project import tasks
from sessionlint.project.kinds import SESSION_CLASS_KINDS
from sessionlint.project.resolution import Function


class SessionQuestions:
    """Sessions and engines: who creates them, who may keep a pool connection."""

    # -- what a call's arguments decide -------------------------------------------------------

    def opts_out_of_pre_ping(self, call: CallOf, root: str = "") -> bool:
        """An engine constructor call that needs no `pool_pre_ping=True` (SL005): it decides
        itself (`pool_pre_ping=` of any value, `**kwargs`, a ready-made `pool=`), pools
        nothing that goes stale (`poolclass=NullPool`, ...), or opens SQLite (a URL starting with `sqlite`, directly
        or through a module-level constant)."""
        if call.may_set("pool_pre_ping"):
            return True
        if call.has_keyword("pool"):
            # A pool built by the caller: its own `pre_ping` decides, and `create_engine`
            # rejects `pool_pre_ping=` beside it (a TypeError), so the fix cannot apply.
            return True
        if self.external_name(call.keyword("poolclass"), root) in vocab.NON_POOLING_POOLS:
            return True
        url = call.keyword("url") if call.has_keyword("url") else (call.args[0] if call.args else None)
        text = self.constant_value(url, root)
        return isinstance(text, Text) and text.prefix.startswith("sqlite")

    def holds_no_pool_connection(
        self, call: Value | None, module: ModuleFacts, function: FunctionFacts | None
    ) -> bool:
        """A session call that cannot keep one of the engine pool's connections checked out
        (SL002): bound to something not known to be an engine (`Session(connection)`: closing
        the session would not return that connection, its owner does; `**kwargs`: unsure), or
        a session class called without any bind (`Session()`: it cannot connect at all)."""
        if not isinstance(call, CallOf):
            return False
        if call.has_star_kwargs:
            return True
        if call.has_keyword("bind") or call.args:
            bind = call.keyword("bind") if call.has_keyword("bind") else call.args[0]
            return self.value_kind(bind, module, function) != Kind.ENGINE
        session_class = self.external_name(call.func, module.root)
        return session_class in SESSION_CLASS_KINDS and not call.has_keyword("binds")

    def creates_pooled_session(self, function: Function, value: Value | None) -> bool:
        """`value`, assigned in `function`, is a new session that can keep a pool connection
        checked out: what SL002 follows to its `close()`."""
        module, facts = function.module, function.facts
        return self.created_session_kind(
            value, module, facts
        ) is not None and not self.holds_no_pool_connection(value, module, facts)

    # -- sessions a function creates or is handed ---------------------------------------------

    def session_generator(self, call: Value | None, module: ModuleFacts) -> Function | None:
        """The project function `call` calls when it is a session generator (SL013): a plain
        generator (not a `@contextmanager`) that creates a session and yields that session.
        Its `finally` or `with` block is what closes the session."""
        if not isinstance(call, CallOf):
            return None
        function = self.function_of(call.func, module)
        if function is None or not function.facts.is_generator or self.is_context_manager(function):
            return None
        created = self.creates_session(function)
        return function if created is not None and self.provided_kind(function) == created else None

    def creates_session(self, function: Function) -> Kind | None:
        """The kind of session the function's own body creates (a factory call), if any.

        Proven by the values only: a helper whose return annotation alone says `Session`
        may hand on a session someone else owns (`return request.state.db`)."""
        facts = function.facts
        declarations, self._declarations = self._declarations, False
        try:
            for values in (*facts.locals.values(), facts.returns, facts.yields):
                for value in values:
                    if isinstance(value, (CallOf, Awaited)):
                        kind = self.value_kind(value, function.module, facts)
                        if kind is not None and kind.is_session:
                            return kind
            return None
        finally:
            self._declarations = declarations

    def created_session_kind(
        self, value: Value | None, module: ModuleFacts, function: FunctionFacts | None
    ) -> Kind | None:
        """The kind of session a value is when the code holding it created it with a bare call.

        A call of a session factory (`SessionLocal()`, `Session(engine)`, `sessionmaker(...)()`),
        or of a project function that returns such a new session; or a local name bound only
        to such calls (not a parameter, not a `with ... as` target: the `with` closes it; not
        handed to other code, which may own it: `registry.add(sess)`). A `scoped_session`
        registry's session is not: the registry owns it (`remove()`).
        """
        if value is None:
            return None
        key = ("created", value, module.key, function.qualname if function else None)
        return self._memo(key, lambda: self._created_session_kind(value, module, function))

    def _created_session_kind(
        self, value: Value, module: ModuleFacts, function: FunctionFacts | None
    ) -> Kind | None:
        if isinstance(value, Local):
            if (
                function is None
                or function.param(value.name) is not None
                or value.name in function.with_targets
                or value.name in function.declared_globals
                or value.name in function.shared_names
            ):
                return None  # not (only) this function's: a parameter, closed, or handed on
            bound = function.locals.get(value.name, ())
            kinds = {self.created_session_kind(v, module, function) for v in bound}
            return kinds.pop() if len(kinds) == 1 else None
        awaited = isinstance(value, Awaited)
        call = value.value if isinstance(value, Awaited) else value
        if not isinstance(call, CallOf):
            return None
        factory = self.value_kind(call.func, module, function)
        if factory in (Kind.SYNC_FACTORY, Kind.ASYNC_FACTORY):
            return None if awaited else SESSION_FROM_FACTORY[factory]
        maker = self.function_of(call.func, module)
        if maker is None:
            return None
        facts = maker.facts
        if facts.is_generator or facts.is_async != awaited or not facts.returns:
            return None
        kinds = {self.created_session_kind(v, maker.module, facts) for v in facts.returns}
        return kinds.pop() if len(kinds) == 1 else None

    def only_uses_param(self, function: Function, name: str) -> bool:
        """The function uses its parameter `name` without taking it over: never closes it
        (`close()`, `with`), hands it on (stores, aliases, passes to code that keeps it),
        returns or yields it, or rebinds it. A session passed in stays the caller's to close."""
        facts = function.facts
        if facts.param(name) is None or facts.is_generator or name in facts.locals:
            return False
        if name in facts.closed_names or name in facts.shared_names or name in facts.with_targets:
            return False
        return Local(name) not in facts.returns

    def uses_param_as_session(self, function: Function, name: str) -> bool:
        """The coroutine function awaits methods on its parameter `name`, itself or through
        the project coroutines it passes it to (SL010; see `tasks`)."""
        return tasks.uses_param_as_session(self, function, name)

    def gathered_through(self, function: Function, name: str) -> tasks.Chain:
        """Where the coroutine function hands its parameter `name` to `asyncio.gather` with
        another coroutine that uses it (SL010; see `tasks.gathered_through`)."""
        return tasks.gathered_through(self, function, name)
