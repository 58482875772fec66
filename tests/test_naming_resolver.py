"""`project.naming` against the resolver it models: over random import graphs, whenever the
resolver, resolving a module's references, looks a name up in the target module, `Naming`
says that module could name it (a miss would let an editor keep a stale finding)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator

import pytest

from sessionlint.facts.facts import ModuleFacts
from sessionlint.facts.values import Ref
from sessionlint.project import resolution
from sessionlint.project.index import Binding, ProjectFacts
from sessionlint.project.naming import Naming
from sessionlint.read.sources import SourceFile

MODULES = ["p", "p.m", "p.a", "p.b", "p.c", "p.s", "p.s.t"]
PACKAGES = {"p", "p.s"}
WORDS = ["x", "m", "a", "b", "c", "s", "t", "g", "h", "k"]
TARGET = "p.m"  # whose global `x` is looked for


def _dotted(rng: random.Random) -> str:
    module = rng.choice(MODULES)
    if rng.random() < 0.6:
        return module
    return ".".join([module, *(rng.choice(WORDS) for _ in range(rng.choice([1, 1, 2])))])


def _project(rng: random.Random) -> dict[str, ModuleFacts]:
    """Modules importing modules and names of one another, binding names to what they
    import (with attributes), star-importing one another."""
    modules = {}
    for name in MODULES:
        imports: dict[str, str] = {}
        bindings: dict[str, Ref] = {}
        stars: list[str] = []
        if name == TARGET:
            bindings["x"] = Ref("ext.thing")
        else:
            for _ in range(rng.randint(0, 3)):
                imports[rng.choice(WORDS[1:])] = _dotted(rng)
            for _ in range(rng.randint(0, 2)):
                bound = rng.choice(WORDS[1:])
                if bound not in imports:
                    local = rng.choice([*imports, rng.choice(WORDS[1:])])
                    base = imports.get(local, f"{name}.{local}")
                    tail = [rng.choice(WORDS) for _ in range(rng.randint(0, 2))]
                    bindings[bound] = Ref(".".join([base, *tail]))
            if rng.random() < 0.3:
                stars.append(rng.choice(MODULES))
        path = "/r/" + name.replace(".", "/") + ("/__init__.py" if name in PACKAGES else ".py")
        modules[name] = ModuleFacts(
            path=path,
            module=name,
            is_package=name in PACKAGES,
            root="/r",
            imports=imports,
            bindings=bindings,  # type: ignore[arg-type]
            star_imports=tuple(stars),
        )
    return modules


def _references(rng: random.Random, facts: ModuleFacts) -> list[str]:
    """Names the module's code writes: a local (imported or its own) and attributes."""
    locals_ = [*facts.imports, *facts.bindings, rng.choice(WORDS)]
    references = []
    for _ in range(4):
        local = rng.choice(locals_)
        tail = [rng.choice(WORDS) for _ in range(rng.randint(0, 2))] + (["x"] if rng.random() < 0.5 else [])
        references.append(".".join([facts.imports.get(local, f"{facts.module}.{local}"), *tail]))
    return references


def _source(facts: ModuleFacts, references: list[str]) -> bytes:
    """The words the module's text spells: its imports and bindings, and its references
    as written (the local name, then the attributes)."""
    words: set[str] = set()
    for local, target in facts.imports.items():
        words |= {local, *target.split(".")}
    for name, value in facts.bindings.items():
        words |= {name, *value.qualname.split(".")}  # type: ignore[union-attr]
    for source in facts.star_imports:
        words |= set(source.split("."))
    for reference in references:
        if reference.startswith(facts.module + "."):
            words |= set(reference[len(facts.module) + 1 :].split("."))
        for local, target in facts.imports.items():
            if reference == target or reference.startswith(target + "."):
                words |= {local, *reference[len(target) :].split(".")}
    return " ".join(sorted(word for word in words if word)).encode()


def _looked_up(modules: dict[str, ModuleFacts], reader: ModuleFacts, references: list[str]) -> bool:
    """Whether resolving the references (and the names bound to what they resolve to) looks
    `x` up in the target module."""
    seen_x: list[tuple[str, ...]] = []
    lookup = resolution.Resolver._resolve_in

    def traced(self, module, rest):  # type: ignore[no-untyped-def]
        if module.module == TARGET and rest and rest[0] == "x":
            seen_x.append(rest)
        return lookup(self, module, rest)

    resolution.Resolver._resolve_in = traced  # type: ignore[method-assign]
    try:
        project = ProjectFacts(list(modules.values()))
        for reference in references:
            followed: set[tuple[str, str]] = set()
            target = project.resolve(reference, reader.root)
            while isinstance(target, Binding) and (target.module.module, target.name) not in followed:
                followed.add((target.module.module, target.name))
                value = target.module.bindings.get(target.name)
                if not isinstance(value, Ref):
                    break
                target = project.resolve(value.qualname, target.module.root)
    finally:
        resolution.Resolver._resolve_in = lookup  # type: ignore[method-assign]
    return bool(seen_x)


def _graphs(seed: int, count: int) -> Iterator[tuple[dict[str, ModuleFacts], ModuleFacts, list[str]]]:
    rng = random.Random(seed)
    for _ in range(count):
        modules = _project(rng)
        reader = modules[rng.choice([name for name in MODULES if name != TARGET])]
        references = _references(rng, reader)
        yield modules, reader, references


class _TooLong(Exception):
    pass


def _stop(*_: object) -> None:
    raise _TooLong


@pytest.mark.parametrize("seed", range(2))
def test_naming_answers_yes_wherever_the_resolver_looks_the_name_up(seed: int) -> None:
    """Import cycles through a module aliasing itself (`from p import b as s` in `p/b.py`)
    can keep the resolver for seconds: such a graph is left out after half a second."""
    reached = 0
    previous = signal.signal(signal.SIGALRM, _stop)
    try:
        for modules, reader, references in _graphs(seed, 1000):
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            try:
                looked_up = _looked_up(modules, reader, references)
            except (_TooLong, RecursionError):
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if not looked_up:
                continue
            reached += 1
            sources = [
                SourceFile(
                    path=None, display=facts.path, data=_source(facts, references if facts is reader else [])
                )
                for name, facts in modules.items()
                if name != TARGET
            ]
            answer = Naming(list(modules.values()), [modules[TARGET]]).may_name({"x"}, sources)
            assert answer, (
                reader.module,
                references,
                {n: (f.imports, f.bindings, f.star_imports) for n, f in modules.items()},
            )
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert reached > 40  # the graphs do reach the name, often enough to mean something
