"""Independent checks for the single-image generators (see ``checker.py``).

Nothing here imports the generator modules: each check re-derives the answer from the scene graph
and the item's inputs (metadata) with its own, deliberately plain code: explicit loops over
objects, our own COCO RLE decoder for mask lookups, byte indexing into the depth map. Only the
vocabularies (synonyms, uncountables, attribute types) and the English helpers are shared, because
they are the specification, not the derivation.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from provision_spark.generators import language as L
from provision_spark.generators.checker import CheckError, Derivation, checks
from provision_spark.generators.scene import Obj, Scene
from provision_spark.generators.vocab import (
    attribute_type,
    is_uncountable,
    is_vague_predicate,
    norm,
    same_meaning,
    synonyms,
)

# Margins the generators promise (re-stated here on purpose: a generator that drifts is caught).
POSITION_MARGIN = 0.05
POINT_MARGIN = 32
OBJECT_MARGIN = 12


# ----------------------------------------------------------------------------- plain helpers
def _name(o: Obj) -> str:
    return L.noun(o.name)


def _same_thing(a: str, b: str) -> bool:
    return a == b or same_meaning("object", a, b)


def _mates(scene: Scene, name: str) -> list[Obj]:
    return [o for o in scene.objects if _same_thing(_name(o), name)]


def _only_one_called(scene: Scene, name: str) -> bool:
    return len(_mates(scene, name)) == 1


def _obj(scene: Scene, object_id: str) -> Obj:
    for o in scene.objects:
        if o.object_id == object_id:
            return o
    raise CheckError(f"object {object_id!r} is not in {scene.image_id}")


def _attributes(o: Obj) -> set[str]:
    return {norm(a) for a in o.attributes if norm(a)}


def _has_like(o: Obj, attribute: str) -> bool:
    group = synonyms("attribute", attribute)
    return any(a in group for a in _attributes(o))


def _relates(s: Obj, predicate: str, target_id: str) -> bool:
    return any(t == target_id and same_meaning("predicate", predicate, norm(p)) for p, t in s.relations)


def _countable(name: str) -> bool:
    return not is_uncountable(name) and not L.is_plural(name)


def _region(scene: Scene, o: Obj) -> str:
    return L.region(o.box, scene.width, scene.height)


def _referent_text(scene: Scene, o: Obj, how: str) -> str:
    """The answer text a referent is given as: "bat", or "bat in the region [..]"."""
    if how == "name":
        if not _only_one_called(scene, _name(o)):
            raise CheckError(f"{_name(o)!r} does not name exactly one object")
        return _name(o)
    if not (scene.size_known and scene.width and scene.height):
        raise CheckError("region referent without image size")
    region = _region(scene, o)
    if sum(1 for x in scene.objects if _region(scene, x) == region) != 1:
        raise CheckError("region does not pick out one object")
    return f"{_name(o)} in the region {region}"


def _count(scene: Scene, name: str, attributes: Sequence[str] = ()) -> int:
    n = 0
    for o in scene.objects:
        if _name(o) == name and all(norm(a) in _attributes(o) for a in attributes):
            n += 1
    return n


def _count_problems(scene: Scene, name: str) -> list[str]:
    problems = []
    if not _countable(name):
        problems.append(f"{name!r} is not countable")
    if any(_name(o) != name for o in _mates(scene, name)):
        problems.append(f"another object in the image could also be called {name!r}")
    return problems


# ----------------------------------------------------------------------------- objects
@checks("object_count")
def _object_count(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene, name = scenes[0], L.noun(meta["name"])
    return Derivation({str(_count(scene, name))}, problems=_count_problems(scene, name))


def _frequency(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    candidates = [L.noun(c) for c in meta["candidates"]]
    counts = {c: _count(scene, c) for c in candidates}
    problems = [p for c in candidates for p in _count_problems(scene, c)]
    if any(v == 0 for v in counts.values()):
        problems.append("a candidate is not in the image")
    target = max(counts.values()) if meta["extreme"] == "most" else min(counts.values())
    return Derivation({c for c, v in counts.items() if v == target}, kind="object", problems=problems)


checks("object_most_frequent")(_frequency)
checks("object_least_frequent")(_frequency)


def _position(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    objs = [_obj(scene, i) for i in meta["object_ids"]]
    direction = meta["direction"]
    problems = []
    for o in objs:
        if not _only_one_called(scene, _name(o)):
            problems.append(f"{_name(o)!r} is ambiguous")
    # twice the centre, so no division: x1 + x2 (or y1 + y2)
    if direction in ("left", "right"):
        keyed = [(o.box[0] + o.box[2], o) for o in objs]
        side = scene.width if scene.size_known and scene.width else max(o.box[2] for o in scene.objects)
    else:
        keyed = [(o.box[1] + o.box[3], o) for o in objs]
        side = scene.height if scene.size_known and scene.height else max(o.box[3] for o in scene.objects)
    keyed.sort(key=lambda t: t[0], reverse=direction in ("right", "bottom"))
    if abs(keyed[0][0] - keyed[1][0]) < 2 * POSITION_MARGIN * side:
        problems.append("the extreme object does not stand out by the margin")
    return Derivation({_name(keyed[0][1])}, kind="object", problems=problems)


for _direction in ("leftmost", "rightmost", "topmost", "bottommost"):
    checks(f"object_{_direction}")(_position)


# ----------------------------------------------------------------------------- attributes
@checks("attribute_count")
def _attribute_count(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene, name = scenes[0], L.noun(meta["name"])
    attributes = [norm(a) for a in meta["attributes"]]
    problems = _count_problems(scene, name)
    for o in scene.objects:
        if _name(o) == name:
            for a in attributes:
                if _has_like(o, a) and a not in _attributes(o):
                    problems.append(f"a {name} has a near-duplicate of {a!r}: the count is ambiguous")
    return Derivation({str(_count(scene, name, attributes))}, problems=problems)


def _split_list(text: str) -> list[str]:
    parts = norm(text).replace(", and ", ", ").replace(" and ", ", ").split(", ")
    return [p.strip() for p in parts if p.strip()]


@checks("attribute_region")
def _attribute_region(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    o = _obj(scene, meta["object_id"])
    _referent_text(scene, o, "region")
    attributes = sorted(_attributes(o))
    truth = L.join(attributes)

    def reject(choice: str) -> str | None:
        if all(_has_like(o, a) for a in _split_list(choice)):
            return "every attribute listed is true of the object"
        return None

    return Derivation({truth}, kind="text", reject=reject)


def _typed(o: Obj, type_name: str) -> set[str]:
    return {a for a in _attributes(o) if attribute_type(a) == type_name}


@checks("attribute_typed")
def _attribute_typed(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    o = _obj(scene, meta["object_id"])
    _referent_text(scene, o, meta["referent"])
    truths = _typed(o, meta["type"])
    return Derivation(
        truths,
        forbidden=_attributes(o),
        kind="attribute",
        reject=lambda c: "true of the object" if _has_like(o, c) else None,
    )


# ----------------------------------------------------------------------------- relations
def _relation_truths(s: Obj, o: Obj) -> set[str]:
    return {L.relation_answer(norm(p)) for p, t in s.relations if t == o.object_id}


def _predicate_reject(choice: str) -> str | None:
    return "a vague predicate is never a wrong choice" if is_vague_predicate(choice) else None


def _relation(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    s, o = _obj(scene, meta["subject_id"]), _obj(scene, meta["object_id"])
    refs = meta.get("referents") or ["name", "name"]
    problems = []
    if _referent_text(scene, s, refs[0]) == _referent_text(scene, o, refs[1]):
        problems.append("both referents read the same")
    truths = _relation_truths(s, o)
    raw = {norm(p) for p, t in s.relations if t == o.object_id}
    return Derivation(
        truths, forbidden=raw, unique=False, kind="predicate", reject=_predicate_reject, problems=problems
    )


checks("relation_between")(_relation)
checks("relation_region")(_relation)


@checks("relation_which_subject")
def _which_subject(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    o = _obj(scene, meta["object_id"])
    _referent_text(scene, o, meta["referent"])
    predicate = norm(meta["predicate"])
    doers = {_name(x) for x in scene.objects if _relates(x, predicate, o.object_id)}
    candidates = meta.get("candidates")
    if candidates is None:
        truths = doers
    else:
        truths = {L.noun(c) for c in candidates if any(_same_thing(L.noun(c), d) for d in doers)}
    problems = []
    if candidates is not None:
        for c in candidates:
            if L.noun(c) not in truths and any(_same_thing(L.noun(c), d) for d in doers):
                problems.append(f"candidate {c!r} also does it")
    return Derivation(truths, forbidden=doers, kind="object", problems=problems)


# ----------------------------------------------------------------------------- segmentation
def rle_decode_counts(counts: str) -> list[int]:
    """COCO's compressed RLE string -> run lengths (our own decoder, as in the COCO API's C code)."""
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            c = ord(counts[position]) - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            position += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


@functools.lru_cache(maxsize=256)
def _run_ends(counts: str) -> tuple[int, ...]:
    ends, position = [], 0
    for run in rle_decode_counts(counts):
        position += run
        ends.append(position)
    return tuple(ends)


def mask_contains(mask: Mapping[str, Any], row: int, col: int) -> bool:
    """Whether the pixel (row, col) is set in a column-major COCO RLE mask (runs alternate 0, 1, ...)."""
    index = col * int(mask["height"]) + row
    ends = _run_ends(mask["rle_counts"])
    run = bisect.bisect_right(ends, index)
    return run < len(ends) and run % 2 == 1


def _owners(scene: Scene, x: float, y: float) -> set[str]:
    owners = set()
    for o in scene.objects:
        if not o.mask:
            continue
        h, w = int(o.mask["height"]), int(o.mask["width"])
        row, col = min(h - 1, max(0, int(y * h))), min(w - 1, max(0, int(x * w)))
        if mask_contains(o.mask, row, col):
            owners.add(o.object_id)
    return owners


def _segmentation(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    (x1, y1), a, b = meta["points"]
    first = _owners(scene, x1, y1)
    problems = []
    if len(first) != 1:
        problems.append("the first point is not on exactly one object")
    truths = set()
    for point in (a, b):
        owners = _owners(scene, *point)
        if len(owners) != 1:
            problems.append(f"point {point} is not on exactly one object")
        same = owners == first
        if same == (meta["relation"] == "same"):
            truths.add(L.point(*point))
    return Derivation(truths, problems=problems)


checks("seg_same_object")(_segmentation)
checks("seg_different_object")(_segmentation)


# ----------------------------------------------------------------------------- depth
def _depth_at(scene: Scene, x: float, y: float) -> int:
    if scene.depth_map is None:
        raise CheckError("no depth map")
    h, w, data = scene.depth_map
    return data[min(h - 1, int(y * h)) * w + min(w - 1, int(x * w))]


def _depth_points(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    p, q = meta["points"]
    dp, dq = _depth_at(scene, *p), _depth_at(scene, *q)
    problems = [] if abs(dp - dq) >= POINT_MARGIN else ["the two points are too close in depth"]
    nearer, farther = (p, q) if dp > dq else (q, p)
    answer = nearer if meta["which"] == "closer" else farther
    return Derivation({L.point(*answer)}, problems=problems)


checks("depth_point_closer")(_depth_points)
checks("depth_point_farther")(_depth_points)


def _median(o: Obj) -> float:
    if not o.depth or o.depth.get("depth_median") is None:
        raise CheckError(f"object {o.object_id} has no depth")
    return float(o.depth["depth_median"])


def _depth_objects(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    a, b = (_obj(scene, i) for i in meta["object_ids"])
    ra, rb = (_referent_text(scene, o, how) for o, how in zip((a, b), meta["referents"]))
    problems = [] if abs(_median(a) - _median(b)) >= OBJECT_MARGIN else ["objects too close in depth"]
    # larger relative depth = nearer the camera
    nearer = ra if _median(a) > _median(b) else rb
    farther = rb if nearer == ra else ra
    return Derivation({nearer if meta["which"] == "closer" else farther}, problems=problems)


checks("depth_object_closer")(_depth_objects)
checks("depth_object_farther")(_depth_objects)


def _depth_anchor(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    anchor = _obj(scene, meta["anchor_id"])
    a, b = (_obj(scene, i) for i in meta["object_ids"])
    how = meta["referents"]
    texts = [_referent_text(scene, o, h) for o, h in zip((anchor, a, b), how)]
    problems = [] if len(set(texts)) == 3 else ["referents repeat"]
    gap_a, gap_b = abs(_median(a) - _median(anchor)), abs(_median(b) - _median(anchor))
    if abs(gap_a - gap_b) < OBJECT_MARGIN:
        problems.append("the two gaps are too similar")
    closer, farther = (texts[1], texts[2]) if gap_a < gap_b else (texts[2], texts[1])
    return Derivation({closer if meta["which"] == "closer" else farther}, problems=problems)


checks("depth_anchor_closer")(_depth_anchor)
checks("depth_anchor_farther")(_depth_anchor)


# ----------------------------------------------------------------------------- scene-graph QA
def resolve(scene: Scene, spec: Mapping[str, Any]) -> list[Obj]:
    """Objects a description spec picks out: name (+ attribute) (+ "that <predicate> a <target>")."""
    name = L.noun(spec["name"])
    found = _mates(scene, name)
    if "attribute" in spec:
        found = [o for o in found if _has_like(o, spec["attribute"])]
    if "via" in spec:
        predicate, target = norm(spec["via"]["predicate"]), L.noun(spec["via"]["target"])
        keep = []
        for o in found:
            for p, t in o.relations:
                other = next((x for x in scene.objects if x.object_id == t), None)
                if (
                    other is not None
                    and same_meaning("predicate", predicate, norm(p))
                    and _same_thing(_name(other), target)
                ):
                    keep.append(o)
                    break
        found = keep
    return found


def _the_one(scene: Scene, spec: Mapping[str, Any]) -> Obj:
    found = resolve(scene, spec)
    if len(found) != 1:
        raise CheckError(f"description {spec} picks out {len(found)} objects")
    if _name(found[0]) != L.noun(spec["name"]):
        raise CheckError(f"description {spec} picks out a {_name(found[0])}")
    return found[0]


def _targets(scene: Scene, target: Mapping[str, Any]) -> list[Obj]:
    if "is" in target:
        return [_the_one(scene, target["is"])]
    subject = _the_one(scene, target["of"])
    predicate = norm(target["predicate"])
    return [o for o in scene.objects if _relates(subject, predicate, o.object_id)]


@checks("sgqa_object")
def _sgqa_object(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    found = _targets(scene, meta["target"])
    return Derivation({_name(o) for o in found}, kind="object")


@checks("sgqa_relation")
def _sgqa_relation(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    s, o = _the_one(scene, meta["subject"]), _the_one(scene, meta["object"])
    truths = _relation_truths(s, o)
    raw = {norm(p) for p, t in s.relations if t == o.object_id}
    return Derivation(truths, forbidden=raw, unique=False, kind="predicate", reject=_predicate_reject)


@checks("sgqa_attribute")
def _sgqa_attribute(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    found = _targets(scene, meta["target"])
    if len(found) != 1:
        raise CheckError(f"the question's object is {len(found)} objects")
    o = found[0]
    return Derivation(
        _typed(o, meta["type"]),
        forbidden=_attributes(o),
        kind="attribute",
        reject=lambda c: "true of the object" if _has_like(o, c) else None,
    )


# ----------------------------------------------------------------------------- caption
def _caption_text(scene: Scene, names, attribute_facts, relation_facts, counts=None) -> str:
    listed = []
    for n in names:
        n = L.noun(n)
        c = (counts or {}).get(n, _count(scene, n))
        listed.append((n, None if not _countable(n) else c))
    attrs = [
        (_name(_obj(scene, oid)), _only_one_called(scene, _name(_obj(scene, oid))), values)
        for oid, values in attribute_facts
    ]
    rels = []
    for sid, p, oid in relation_facts:
        s, o = _obj(scene, sid), _obj(scene, oid)
        rels.append((_name(s), _only_one_called(scene, _name(s)), p, _name(o), _only_one_called(scene, _name(o))))
    return L.render_caption(listed, attrs, rels)


@checks("caption")
def _caption(scenes: Sequence[Scene], meta: Mapping[str, Any]) -> Derivation:
    scene = scenes[0]
    problems = []
    present = {_name(o) for o in scene.objects}
    for n in meta["names"]:
        if L.noun(n) not in present:
            problems.append(f"{n!r} is not in the image")
    for oid, values in meta["attribute_facts"]:
        o = _obj(scene, oid)
        for v in values:
            if norm(v) not in _attributes(o):
                problems.append(f"{_name(o)} is not {v}")
    for sid, p, oid in meta["relation_facts"]:
        if not any(norm(q) == norm(p) and t == oid for q, t in _obj(scene, sid).relations):
            problems.append(f"no relation {sid} {p} {oid}")
    truth = _caption_text(scene, meta["names"], meta["attribute_facts"], meta["relation_facts"])

    # every wrong caption must come from an edit that is verifiably false
    false_texts = set()
    for edit in meta.get("edits", []):
        names = [L.noun(n) for n in meta["names"]]
        attribute_facts = [[oid, list(values)] for oid, values in meta["attribute_facts"]]
        relation_facts = [list(r) for r in meta["relation_facts"]]
        counts = None
        if edit["type"] == "object":
            if any(_same_thing(L.noun(edit["name"]), n) for n in present):
                continue
            names[edit["index"]] = L.noun(edit["name"])
            counts = {L.noun(edit["name"]): 1}
        elif edit["type"] == "count":
            if edit["count"] == _count(scene, L.noun(edit["name"])) or not _countable(L.noun(edit["name"])):
                continue
            counts = {L.noun(edit["name"]): edit["count"]}
        elif edit["type"] == "attribute":
            oid = attribute_facts[edit["fact"]][0]
            if _has_like(_obj(scene, oid), edit["attribute"]):
                continue
            attribute_facts[edit["fact"]][1][edit["position"]] = edit["attribute"]
        elif edit["type"] == "relation":
            sid, p, oid = relation_facts[edit["fact"]]
            if _relates(_obj(scene, sid), edit["predicate"], oid):
                continue
            relation_facts[edit["fact"]][1] = edit["predicate"]
        else:
            continue
        false_texts.add(L.sentence(_caption_text(scene, names, attribute_facts, relation_facts, counts)))

    def reject(choice: str) -> str | None:
        return None if choice in false_texts else "not a verified falsification of the caption"

    return Derivation({truth}, reject=reject, problems=problems)
