"""Helpers the single-image generators share: referring to objects without ambiguity, counting,
candidate sets and wrong choices. Pure functions of a :class:`Scene`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence

from provision_spark.generators import language as L
from provision_spark.generators.scene import Obj, Scene
from provision_spark.generators.vocab import is_uncountable, is_vague_predicate, norm, same_meaning, synonyms

#: A region needs to hold at least this fraction of the image to be asked about.
MIN_REGION_FRACTION = 0.001


def name_of(obj: Obj) -> str:
    return L.noun(obj.name)


def name_counts(scene: Scene) -> Counter[str]:
    memo = scene.memo
    if "name_counts" not in memo:
        memo["name_counts"] = Counter(name_of(o) for o in scene.objects)
    return memo["name_counts"]


def confusable(a: str, b: str) -> bool:
    """Same name, synonyms, or one naming the other (``synonyms.yaml`` objects)."""
    a, b = L.noun(a), L.noun(b)
    return a == b or same_meaning("object", a, b)


def confusable_names(scene: Scene, name: str) -> list[str]:
    """Names of the objects in the scene that could be called ``name`` (same name included)."""
    name = L.noun(name)
    key = ("confusable", name)
    memo = scene.memo
    if key not in memo:
        counts = name_counts(scene)
        memo[key] = [n for n, c in counts.items() if confusable(n, name) for _ in range(c)]
    return memo[key]


def is_unique_name(scene: Scene, obj: Obj) -> bool:
    """ "the bat" refers to ``obj`` only when no other object is a bat or a synonym of bat."""
    return len(confusable_names(scene, name_of(obj))) == 1


def name_is_clean(scene: Scene, name: str) -> bool:
    """Every object confusable with ``name`` is named exactly ``name`` (so counting it is unambiguous)."""
    return all(n == L.noun(name) for n in confusable_names(scene, name))


def countable(name: str) -> bool:
    """Can be counted: not stuff (sky, grass), not a plural-only noun (pants, glasses)."""
    n = L.noun(name)
    return bool(n) and not is_uncountable(n) and not L.is_plural(n)


def _regions(scene: Scene) -> dict[str, str]:
    memo = scene.memo
    if "regions" not in memo:
        memo["regions"] = (
            {o.object_id: L.region(o.box, scene.width, scene.height) for o in scene.objects}
            if scene.has("size")
            else {}
        )
    return memo["regions"]


def region_text(scene: Scene, obj: Obj) -> str | None:
    return _regions(scene).get(obj.object_id)


def region_is_unique(scene: Scene, obj: Obj) -> bool:
    """No other object rounds to the same normalised box; the box is not negligible."""
    regions = _regions(scene)
    text = regions.get(obj.object_id)
    if text is None:
        return False
    if obj.area < MIN_REGION_FRACTION * scene.width * scene.height:
        return False
    memo = scene.memo
    if "region_counts" not in memo:
        memo["region_counts"] = Counter(regions.values())
    return memo["region_counts"][text] == 1


def referent(scene: Scene, obj: Obj, force_region: bool = False) -> tuple[str, str, str] | None:
    """(phrase, answer text, how) for ``obj``: ("the bat", "bat", "name") when it is the only bat,
    else ("the bat in the region [..]", "bat in the region [..]", "region"); None when neither is unambiguous."""
    name = name_of(obj)
    if not force_region and is_unique_name(scene, obj):
        return (L.the(name), name, "name")
    if region_is_unique(scene, obj):
        where = f"{name} in the region {region_text(scene, obj)}"
        return (L.the(where), where, "region")
    return None


def objects_with_referents(scene: Scene) -> list[tuple[Obj, tuple[str, str, str]]]:
    out = []
    for o in scene.objects:
        ref = referent(scene, o)
        if ref is not None:
            out.append((o, ref))
    return out


def has_attribute(obj: Obj, attribute: str) -> bool:
    a = norm(attribute)
    return any(norm(x) == a for x in obj.attributes)


def has_attribute_like(obj: Obj, attribute: str) -> bool:
    """The object has the attribute or a synonym / near-duplicate of it."""
    group = synonyms("attribute", attribute)
    return any(norm(x) in group for x in obj.attributes)


def predicates_between(subject: Obj, target_id: str) -> list[str]:
    return [p for p, t in subject.relations if t == target_id]


def relates_like(subject: Obj, predicate: str, target_id: str) -> bool:
    """``subject`` has ``predicate`` or a synonym of it towards ``target_id``."""
    group = synonyms("predicate", predicate)
    return any(t == target_id and norm(p) in group for p, t in subject.relations)


def relation_triples(scene: Scene) -> list[tuple[Obj, str, Obj]]:
    by_id = scene.by_id
    out = []
    for s in scene.objects:
        for p, t in s.relations:
            target = by_id.get(t)
            if target is not None and target.object_id != s.object_id and norm(p):
                out.append((s, norm(p), target))
    return out


def pick_templates(rng: random.Random, templates: Sequence[str]) -> str:
    return templates[rng.randrange(len(templates))]


def number_distractors(rng: random.Random, n: int, k: int = 3) -> list[str]:
    """``k`` wrong counts near ``n`` (never negative, never ``n``)."""
    pool = [m for m in range(max(0, n - 3), n + 4) if m != n]
    rng.shuffle(pool)
    return [str(m) for m in sorted(pool[:k])]


def name_distractors(
    rng: random.Random,
    pool: Iterable[str],
    exclude: Iterable[str],
    k: int = 3,
) -> list[str]:
    """Up to ``k`` names from ``pool`` (in order of preference) not confusable with any of ``exclude``."""
    banned = [L.noun(e) for e in exclude]
    out: list[str] = []
    for candidate in pool:
        c = L.noun(candidate)
        if not c or c in out or any(confusable(c, b) for b in banned) or any(confusable(c, o) for o in out):
            continue
        out.append(c)
        if len(out) >= k:
            break
    return out


def corpus_names(rng: random.Random, sampler, n: int = 40) -> list[str]:
    """A seeded shuffle of the corpus's common object names (plausible wrong choices)."""
    common = sampler.common_objects[:200] or list(_FALLBACK_OBJECTS)
    return rng.sample(common, min(n, len(common)))


def predicate_distractors(
    rng: random.Random,
    sampler,
    scene: Scene,
    true_predicates: Iterable[str],
    k: int = 3,
) -> list[str]:
    """Wrong relation answers: not true between the pair, no synonym of a true one, not vague."""
    truths = [norm(p) for p in true_predicates]
    banned: set[str] = set()
    for t in truths:
        banned |= synonyms("predicate", t)
        banned |= synonyms("predicate", L.relation_answer(t))
    scene_preds = sorted({norm(p) for o in scene.objects for p, _ in o.relations})
    corpus = sampler.common_predicates or list(_FALLBACK_PREDICATES)
    corpus = rng.sample(corpus, min(30, len(corpus)))
    rng.shuffle(scene_preds)
    out: list[str] = []
    shown: set[str] = set()
    for p in scene_preds + corpus + list(_FALLBACK_PREDICATES):
        answer = L.relation_answer(p)
        if not p or p in banned or answer in banned or is_vague_predicate(p) or is_vague_predicate(answer):
            continue
        if answer in shown or any(same_meaning("predicate", answer, s) for s in shown):
            continue
        shown.add(answer)
        out.append(answer)
        if len(out) >= k:
            break
    return out


_FALLBACK_OBJECTS = (
    "car",
    "dog",
    "tree",
    "chair",
    "table",
    "umbrella",
    "bottle",
    "cup",
    "horse",
    "bicycle",
    "clock",
    "lamp",
    "bench",
    "kite",
    "bowl",
    "train",
    "boat",
    "laptop",
    "phone",
    "book",
)
_FALLBACK_PREDICATES = (
    "above",
    "under",
    "behind",
    "in front of",
    "holding",
    "wearing",
    "riding",
    "sitting on",
    "standing on",
    "carrying",
    "looking at",
    "eating",
    "pulling",
    "covering",
    "inside",
)
