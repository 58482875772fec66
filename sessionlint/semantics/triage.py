"""Which files can hold a finding at all: only those are parsed with LibCST.

Every rule's trigger goes through a global name that resolves to the vocabulary (an engine
constructor, a session factory or class, `BackgroundTasks`) or to a project binding or
function of such a kind: a file referencing none of them cannot be flagged. The facts
already list every global a file references, so this costs no parse at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sessionlint.semantics import vocabulary as vocab
from sessionlint.semantics.facts import FunctionFacts, ModuleFacts
from sessionlint.semantics.project import Binding, External, Function, ProjectFacts
from sessionlint.semantics.values import Attr, Awaited, CallOf, Kind, Ref, SubscriptOf, UnionOf, Value

TRIGGER_NAMES = (
    vocab.ENGINE_CONSTRUCTORS
    | vocab.SESSIONMAKERS
    | vocab.ASYNC_SESSIONMAKERS
    | vocab.SCOPED_SESSIONS
    | vocab.ASYNC_SCOPED_SESSIONS
    | vocab.SYNC_SESSION_CLASSES
    | vocab.ASYNC_SESSION_CLASSES
    | vocab.BACKGROUND_TASKS
)
_TRIGGER_KINDS = frozenset(Kind) - {Kind.APP, Kind.ROUTER}


def referenced_globals(facts: ModuleFacts) -> set[str]:
    """Qualified names of every global the module's facts mention."""
    values: list[Value | None] = [*facts.bindings.values(), *facts.dependency_calls, *facts.lifespan_refs]
    for function in facts.functions.values():
        values += _function_values(function)
    return set(facts.calls) | set(_refs(values))


def _function_values(function: FunctionFacts) -> list[Value | None]:
    values: list[Value | None] = [*function.decorators, *function.returns, *function.yields]
    values += [part for param in function.params for part in (param.annotation, param.default)]
    values += [value for assigned in function.locals.values() for value in assigned]
    return values


def _refs(values: Iterable[Value | None]) -> Iterator[str]:
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Ref):
            yield value.qualname
        elif isinstance(value, Attr):
            stack.append(value.base)
        elif isinstance(value, CallOf):
            stack += [value.func, *value.args, *(v for _, v in value.kwargs)]
        elif isinstance(value, Awaited):
            stack.append(value.value)
        elif isinstance(value, SubscriptOf):
            stack += [value.base, *value.items]
        elif isinstance(value, UnionOf):
            stack += value.options


def names_worth_following(facts: ModuleFacts, triage: Triage) -> set[str]:
    """Top-level names of a module that lead to a trigger: another file using one may hold a finding.

    A factory, an engine, a session alias, a function that creates or provides a session (or
    builds an engine: a lifespan), or an import of such a thing under a new name.
    """
    names = set()
    for name, value in facts.bindings.items():
        if "." not in name and any(triage.is_trigger(ref) for ref in _refs([value])):
            names.add(name)
    for qualname, function in facts.functions.items():
        if "." in qualname or "#" in qualname:
            continue
        refs = set(function.calls) | set(_refs(_function_values(function)))
        if any(triage.is_trigger(ref) for ref in refs):
            names.add(function.name)
    names.update(local for local, target in facts.imports.items() if triage.is_trigger(target))
    return names


class Triage:
    """Decides, per module, whether any rule could flag something in it."""

    def __init__(self, project: ProjectFacts) -> None:
        self.project = project
        self._verdicts: dict[str, bool] = {}

    def has_candidates(self, facts: ModuleFacts) -> bool:
        return any(self.is_trigger(name) for name in referenced_globals(facts))

    def is_trigger(self, qualname: str) -> bool:
        verdict = self._verdicts.get(qualname)
        if verdict is None:
            verdict = self._verdicts[qualname] = self._is_trigger(qualname)
        return verdict

    def _is_trigger(self, qualname: str) -> bool:
        project = self.project
        target = project.resolve(qualname)
        if isinstance(target, External):
            name = target.qualname
            return name in TRIGGER_NAMES or name in project.extra_factories or name in project.extra_engines
        if isinstance(target, Binding):
            value = target.module.bindings.get(target.name)
            kinds = {project.value_kind(value, target.module), project.annotation_kind(value, target.module)}
            return bool(kinds & _TRIGGER_KINDS)
        if isinstance(target, Function):
            kinds = {
                project.provided_kind(target),
                project.call_result_kind(target, awaited=True),
                project.creates_session(target),
            }
            return bool(kinds & _TRIGGER_KINDS)
        return False
