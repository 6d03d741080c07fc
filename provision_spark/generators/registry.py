"""The generator registry: a generator is one small function registered by name, found by discovery.

Writing one (single-image) is one module under ``generators/single/families/``::

    from provision_spark.generators.checker import Derivation, checks
    from provision_spark.generators.registry import Item, register

    @register("object_count", family="objects", requires=("objects",))
    def object_count(ctx):            # ctx: Context (scene, rng, sampler, limit)
        ...
        yield Item(key="bat", question="How many bats are there?", answer="1",
                   distractors=["2", "3", "0"], metadata={"name": "bat"})

    @checks("object_count")           # its independent check, beside it (or in single/checks.py)
    def _(scenes, meta):
        return Derivation(truths={...})

Multi-image generators register through ``generators.multi.base.multi_generator`` (a relational
``facts`` function, its ``render`` and its checker ``truth``) in a module under
``generators/multi/families/``. Discovery imports the modules of those two ``families`` folders
(and the single-image checks) and nothing else, so a worker never imports the CLI.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from provision_spark.generators.scene import REQUIREMENTS, Scene

FAMILIES = (
    "objects",
    "attributes",
    "relations",
    "segmentation",
    "depth",
    "scene_graph_qa",
    "caption",
    "select",
    "compare",
    "aggregate",
)


# ---------------------------------------------------------------------------------------- items
@dataclasses.dataclass
class Item:
    """One generated question, answer and wrong choices.

    key: unique per (generator, images); part of the instruction id (e.g. "bat" or "3|7").
    question: the short-answer question. answer: its answer.
    distractors: wrong choices for the multiple-choice form (at least one).
    metadata: JSON-able parameters the item was built from; the checker re-derives the answer
      from these and the scene graph alone, so put the question's *inputs* here (object ids,
      names, attributes, predicate, points), not just its answer.
    mc_stem: the question as shown above the choices, when it should differ from ``question``.
    """

    key: str
    question: str
    answer: str
    distractors: list[str]
    metadata: dict[str, Any]
    mc_stem: str | None = None


@dataclasses.dataclass
class Context:
    """What a generator function receives."""

    scenes: Sequence[Scene]
    rng: random.Random
    sampler: Any  # provision_spark.generators.sampling.Sampler
    limit: int  # at most this many items per generator per image (or image tuple)

    @property
    def scene(self) -> Scene:
        return self.scenes[0]


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    name: str
    family: str
    kind: str  # "single" | "multi"
    fn: Callable[[Context], Iterable[Item]]
    requires: tuple[str, ...]
    n_images: tuple[int, int]
    description: str

    def applies_to(self, scenes: Sequence[Scene]) -> bool:
        return all(s.has(r) for s in scenes for r in self.requires)


_REGISTRY: dict[str, GeneratorSpec] = {}


def register(
    name: str,
    *,
    family: str,
    kind: str = "single",
    requires: Sequence[str] = ("objects",),
    n_images: tuple[int, int] = (1, 1),
    description: str | None = None,
) -> Callable[[Callable[[Context], Iterable[Item]]], Callable[[Context], Iterable[Item]]]:
    """Decorator: register ``fn`` as generator ``name``; the docstring becomes its description."""
    if family not in FAMILIES:
        raise ValueError(f"{name}: unknown family {family!r}; one of {FAMILIES}")
    if kind not in ("single", "multi"):
        raise ValueError(f"{name}: kind must be 'single' or 'multi'")
    unknown = set(requires) - set(REQUIREMENTS)
    if unknown:
        raise ValueError(f"{name}: unknown requirements {sorted(unknown)}")

    def decorate(fn: Callable[[Context], Iterable[Item]]) -> Callable[[Context], Iterable[Item]]:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            existing = _REGISTRY[name].fn
            if (existing.__module__, existing.__qualname__) != (fn.__module__, fn.__qualname__):
                raise ValueError(f"generator {name!r} is registered twice")
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = GeneratorSpec(name, family, kind, fn, tuple(requires), tuple(n_images), doc)
        return fn

    return decorate


def unregister(name: str) -> None:
    """Remove a generator (tests and notebooks that register throw-away ones)."""
    _REGISTRY.pop(name, None)


_LOADED = False


#: Packages whose every module is a generator module (imported by discovery), and the
#: single-image checks of the built-in generators.
GENERATOR_PACKAGES = ("provision_spark.generators.single.families", "provision_spark.generators.multi.families")
BUILTIN_CHECKS = "provision_spark.generators.single.checks"


def load_builtin() -> None:
    """Import every generator module (``generators/{single,multi}/families/*``) and the built-in checks."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # set first: generator modules may call back into the registry while importing
    try:
        for package_name in GENERATOR_PACKAGES:
            package = importlib.import_module(package_name)
            for info in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{package_name}.{info.name}")
        importlib.import_module(BUILTIN_CHECKS)
    except BaseException:
        _LOADED = False
        raise


def get(name: str) -> GeneratorSpec:
    load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no generator {name!r}; registered: {sorted(_REGISTRY)}") from None


def registered(kind: str | None = None, names: Iterable[str] | None = None) -> list[GeneratorSpec]:
    """Registered generators (of ``kind``, restricted to ``names`` when given), sorted by name."""
    load_builtin()
    wanted = None if names is None else set(names)
    if wanted is not None:
        missing = wanted - set(_REGISTRY)
        if missing:
            raise KeyError(f"unknown generators {sorted(missing)}; registered: {sorted(_REGISTRY)}")
    return [
        spec
        for name, spec in sorted(_REGISTRY.items())
        if (kind is None or spec.kind == kind) and (wanted is None or name in wanted)
    ]
