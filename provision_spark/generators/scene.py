"""The in-memory scene graph generators and checks read: :class:`Scene` and :class:`Obj`, built
from a ``scene_graphs`` row (``Scene.from_row``) or, column by column, from an Arrow batch of them
(``scenes_from_arrow``, what the single-image engine uses).

Names and predicates are canonical (``generators.canonical``): objects whose name is unusable
(sentence-like, ...) are left out with the relations that point at them, so no question names them."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from provision_spark.generators.canonical import canonical_name, canonical_predicate

#: What a generator may need from an image; images lacking it are skipped for that generator.
REQUIREMENTS = ("objects", "size", "attributes", "relations", "masks", "depth", "depth_map")


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
    def from_row(cls, row: Mapping[str, Any]) -> Scene:
        """A ``scene_graphs`` row (dict, as from ``pyarrow`` ``to_pylist`` or ``Row.asDict(True)``)."""
        objects = []
        for o in row.get("objects") or ():
            name = canonical_name(o["name"])
            if name is None:
                continue
            b = o["box"]
            rels = tuple((r["predicate"], r["object_id"]) for r in (o.get("relations") or ()))
            objects.append(
                Obj(
                    object_id=o["object_id"],
                    name=name,
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
            objects=_usable(objects),
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
            name = canonical_name(fields["name"][i])
            if name is None:
                rel_at += k
                continue
            objects.append(
                Obj(
                    object_id=fields["object_id"][i],
                    name=name,
                    box=(float(box[0][i]), float(box[1][i]), float(box[2][i]), float(box[3][i])),
                    score=fields["score"][i],
                    attributes=tuple(fields["attributes"][i] or ()),
                    relations=tuple(zip(predicates[rel_at : rel_at + k], targets[rel_at : rel_at + k])),
                    depth=fields["depth"][i],
                    mask=fields["mask"][i],
                )
            )
            rel_at += k
        at += n
        dm = depth_maps[row]
        scenes.append(
            Scene(
                image_id=meta["image_id"][row],
                source=meta["source"][row] or "human",
                width=meta["width"][row],
                height=meta["height"][row],
                size_known=bool(meta["size_known"][row]),
                objects=_usable(objects),
                depth_map=(int(dm["map_height"]), int(dm["map_width"]), bytes(dm["depth_map"])) if dm else None,
                dataset=meta["dataset"][row] or "",
            )
        )
    return scenes


def _usable(objects: list[Obj]) -> tuple[Obj, ...]:
    """The objects sorted by id, with canonical predicates and only the relations whose predicate is
    usable and whose target is one of them."""
    kept = {o.object_id for o in objects}
    out = []
    for o in sorted(objects, key=lambda x: x.object_id):
        relations = tuple(
            (p, t) for p, t in ((canonical_predicate(p), t) for p, t in o.relations) if p is not None and t in kept
        )
        out.append(o if relations == o.relations else dataclasses.replace(o, relations=relations))
    return tuple(out)
