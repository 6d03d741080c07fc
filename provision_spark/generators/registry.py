"""The generator registry: a generator is one small function registered by name.

Writing one (single-image)::

    from provision_spark.generators.registry import Item, register

    @register("object_count", family="objects", requires=("objects",))
    def object_count(ctx):            # ctx: Context (scene, rng, sampler, limit)
        ...
        yield Item(key="bat", question="How many bats are there?", answer="1",
                   distractors=["2", "3", "0"], metadata={"name": "bat"})

and its independent check in ``checker.py`` (``@checks("object_count")``). The engine finds every
registered generator by name; nothing else needs touching. Multi-image generators register the same
way with ``kind="multi"`` and ``n_images=(2, 4)``; their ``ctx.scenes`` holds 2-4 scenes.

This module also holds the pieces every generator and engine share: the in-memory
:class:`Scene`/:class:`Obj` built from a ``scene_graphs`` row (``Scene.from_row``), the
:class:`Item` a generator yields, the :class:`Context` it receives, ``derive_seed`` (stable per
image and generator, so output does not depend on partitioning) and ``to_row`` (an item ->
an ``instructions`` row, both short-answer and multiple-choice forms).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import pkgutil
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from provision_spark.generators.choices import build_mc

FAMILIES = (
    "objects", "attributes", "relations", "segmentation", "depth", "scene_graph_qa", "caption",
    "select", "compare", "aggregate",
)

#: What a generator may need from an image; images lacking it are skipped for that generator.
REQUIREMENTS = ("objects", "size", "attributes", "relations", "masks", "depth", "depth_map")


# --------------------------------------------------------------------------------------- scenes
@dataclasses.dataclass(frozen=True)
class Obj:
    object_id: str
    name: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    score: float | None = None
    attributes: tuple[str, ...] = ()
    relations: tuple[tuple[str, str], ...] = ()  # (predicate, target object_id), outgoing
    depth: Mapping[str, float] | None = None  # depth_mean/median/min/max, larger = nearer
    mask: Mapping[str, Any] | None = None  # height, width, rle_counts, area

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclasses.dataclass(frozen=True)
class Scene:
    image_id: str
    source: str
    width: int | None
    height: int | None
    size_known: bool
    objects: tuple[Obj, ...]
    depth_map: tuple[int, int, bytes] | None = None  # (map_height, map_width, uint8 row-major)
    dataset: str = ""

    @functools.cached_property
    def by_id(self) -> dict[str, Obj]:
        return {o.object_id: o for o in self.objects}

    @functools.cached_property
    def memo(self) -> dict[Any, Any]:
        """Per-scene cache for helpers that would otherwise recompute the same facts."""
        return {}

    def has(self, requirement: str) -> bool:
        """Whether the scene has what ``requirement`` (one of REQUIREMENTS) asks for."""
        if requirement == "objects":
            return bool(self.objects)
        if requirement == "size":
            return bool(self.size_known and self.width and self.height)
        if requirement == "attributes":
            return any(o.attributes for o in self.objects)
        if requirement == "relations":
            return any(o.relations for o in self.objects)
        if requirement == "masks":
            return sum(1 for o in self.objects if o.mask) >= 2
        if requirement == "depth":
            return sum(1 for o in self.objects if o.depth) >= 2
        if requirement == "depth_map":
            return self.depth_map is not None
        raise KeyError(requirement)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Scene":
        """A ``scene_graphs`` row (dict, as from ``pyarrow`` ``to_pylist`` or ``Row.asDict(True)``)."""
        objects = []
        for o in row.get("objects") or ():
            b = o["box"]
            rels = tuple((r["predicate"], r["object_id"]) for r in (o.get("relations") or ()))
            objects.append(
                Obj(
                    object_id=o["object_id"],
                    name=o["name"],
                    box=(float(b["x1"]), float(b["y1"]), float(b["x2"]), float(b["y2"])),
                    score=o.get("score"),
                    attributes=tuple(o.get("attributes") or ()),
                    relations=rels,
                    depth=o.get("depth"),
                    mask=o.get("mask"),
                )
            )
        dm = row.get("depth_map")
        depth_map = (int(dm["map_height"]), int(dm["map_width"]), bytes(dm["depth_map"])) if dm else None
        return cls(
            image_id=row["image_id"],
            source=row.get("source") or "human",
            width=row.get("width"),
            height=row.get("height"),
            size_known=bool(row.get("size_known")),
            objects=tuple(sorted(objects, key=lambda o: o.object_id)),
            depth_map=depth_map,
            dataset=row.get("dataset") or "",
        )


def scenes_from_arrow(batch: Any) -> list[Scene]:
    """The scenes of an Arrow batch of ``scene_graphs`` rows, read column by column.

    The same scenes as ``Scene.from_row`` over ``batch.to_pylist()``, several times faster: nested
    object structs are turned into Python objects one field (a flat array) at a time.
    """
    col = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    lengths = [n or 0 for n in col["objects"].value_lengths().to_pylist()]
    o = dict(zip(col["objects"].type.value_type.names, col["objects"].flatten().flatten()))
    box = [b.to_pylist() for b in o["box"].flatten()]
    rel_lengths = [n or 0 for n in o["relations"].value_lengths().to_pylist()]
    predicates, targets = (f.to_pylist() for f in o["relations"].flatten().flatten())
    fields = {name: o[name].to_pylist() for name in ("object_id", "name", "score", "attributes", "depth", "mask")}
    scenes, at, rel_at = [], 0, 0
    meta = {name: col[name].to_pylist() for name in ("image_id", "source", "width", "height", "size_known", "dataset")}
    depth_maps = col["depth_map"].to_pylist()
    for row, n in enumerate(lengths):
        objects = []
        for i in range(at, at + n):
            k = rel_lengths[i]
            objects.append(Obj(
                object_id=fields["object_id"][i], name=fields["name"][i],
                box=(float(box[0][i]), float(box[1][i]), float(box[2][i]), float(box[3][i])),
                score=fields["score"][i], attributes=tuple(fields["attributes"][i] or ()),
                relations=tuple(zip(predicates[rel_at:rel_at + k], targets[rel_at:rel_at + k])),
                depth=fields["depth"][i], mask=fields["mask"][i],
            ))
            rel_at += k
        at += n
        dm = depth_maps[row]
        scenes.append(Scene(
            image_id=meta["image_id"][row], source=meta["source"][row] or "human", width=meta["width"][row],
            height=meta["height"][row], size_known=bool(meta["size_known"][row]),
            objects=tuple(sorted(objects, key=lambda x: x.object_id)),
            depth_map=(int(dm["map_height"]), int(dm["map_width"]), bytes(dm["depth_map"])) if dm else None,
            dataset=meta["dataset"][row] or "",
        ))
    return scenes


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
    sampler: "Any"  # provision_spark.generators.sampling.Sampler
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


def load_builtin() -> None:
    """Import every module under ``generators/single`` and ``generators/multi`` (registering them)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # set first: generator modules may call back into the registry while importing
    try:
        for package_name in ("provision_spark.generators.single", "provision_spark.generators.multi"):
            try:
                package = importlib.import_module(package_name)
            except ModuleNotFoundError as exc:
                if exc.name != package_name:
                    raise
                continue
            for info in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{package_name}.{info.name}")
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
        spec for name, spec in sorted(_REGISTRY.items())
        if (kind is None or spec.kind == kind) and (wanted is None or name in wanted)
    ]


# ------------------------------------------------------------------------- seeds, ids and rows
def stable_hash(*parts: object, bits: int = 63) -> int:
    """A non-negative integer hash of ``parts`` that is the same in every process and run."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)


def derive_seed(seed: int, generator: str, image_ids: Sequence[str]) -> int:
    """The seed for one generator on one image (tuple): independent of partitioning and order of work."""
    return stable_hash(seed, generator, *image_ids)


def instruction_id(generator: str, image_ids: Sequence[str], seed: int, key: str) -> str:
    """Stable id of an item: sha256 of (generator, image ids, seed, item key), 32 hex digits."""
    text = "\x1f".join([generator, "\x1e".join(image_ids), str(seed), key])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def split_for(source: str, kind: str) -> str:
    """VG-S / VG-M for human scene graphs, DC-S / DC-M for model-made ones."""
    return ("VG-" if source == "human" else "DC-") + ("S" if kind == "single" else "M")


def to_row(
    spec: GeneratorSpec,
    scenes: Sequence[Scene],
    seed: int,
    item: Item,
    rng: random.Random,
) -> dict[str, Any]:
    """An ``instructions`` row (both forms) for ``item``; ``rng`` places the answer among the choices."""
    image_ids = [s.image_id for s in scenes]
    mc = build_mc(item.mc_stem or item.question, item.answer, item.distractors, rng)
    source = "human" if all(s.source == "human" for s in scenes) else "model"
    metadata = dict(item.metadata)
    metadata["mc"] = {"style": mc.style, "label": mc.label}
    return {
        "instruction_id": instruction_id(spec.name, image_ids, seed, item.key),
        "generator": spec.name,
        "family": spec.family,
        "kind": spec.kind,
        "image_ids": image_ids,
        "question": item.question,
        "answer": item.answer,
        "mc_question": mc.question,
        "choices": mc.choices,
        "correct_index": mc.correct_index,
        "metadata": json.dumps(metadata, sort_keys=True, separators=(",", ":"), default=_json_default),
        "split": split_for(source, spec.kind),
        "source": source,
        "seed": seed,
    }


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_generator(spec: GeneratorSpec, scenes: Sequence[Scene], seed: int, limit: int, sampler: Any) -> list[dict[str, Any]]:
    """All rows one generator makes for one image (tuple): seeded by ``derive_seed``, deduplicated by key."""
    if not spec.applies_to(scenes):
        return []
    item_seed = derive_seed(seed, spec.name, [s.image_id for s in scenes])
    rng = random.Random(item_seed)
    ctx = Context(scenes=scenes, rng=rng, sampler=sampler, limit=limit)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in spec.fn(ctx):
        if item.key in seen or not item.distractors:
            continue
        seen.add(item.key)
        rows.append(to_row(spec, scenes, seed, item, random.Random(stable_hash(item_seed, item.key))))
        if len(rows) >= limit:
            break
    return rows
