"""Attributes (3): how many objects have given attributes; all attributes of the object at a region;
one typed attribute (color, material, shape, size, ...) of an object."""

from __future__ import annotations

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.scene import Obj, Scene
from provision_spark.generators.single.common import (
    countable,
    has_attribute,
    has_attribute_like,
    name_is_clean,
    name_of,
    number_distractors,
    pick_templates,
    referent,
    region_is_unique,
    region_text,
)
from provision_spark.generators.vocab import attribute_type, attribute_types, attributes_of_type, norm, synonyms

#: Adjective order in English noun phrases, by attribute type.
ADJECTIVE_ORDER = {"size": 0, "age": 1, "shape": 2, "state": 3, "pose": 3, "pattern": 4, "color": 5, "material": 6}


def _ordered(attributes) -> list[str]:
    return sorted(attributes, key=lambda a: (ADJECTIVE_ORDER.get(attribute_type(a) or "", 3), a))


def _attrs(obj: Obj) -> list[str]:
    return sorted(dict.fromkeys(norm(a) for a in obj.attributes if norm(a)))


# ------------------------------------------------------------------------------- how many with
COUNT_TEMPLATES = (
    "How many {plural} are {attrs}?",
    "How many {adjectives} are there in the image?",
    "Count the {plural} that are {attrs}.",
    "What is the number of {adjectives} in this picture?",
)


def _ambiguous_count(scene: Scene, name: str, attributes: list[str]) -> bool:
    """Another object of that name has a near-duplicate of an attribute but not the attribute itself."""
    for o in scene.objects:
        if name_of(o) != name:
            continue
        for a in attributes:
            if has_attribute_like(o, a) and not has_attribute(o, a):
                return True
    return False


@register("attribute_count", family="attributes", requires=("objects", "attributes"))
def attribute_count(ctx: Context):
    """How many objects of a name have one or two given attributes ("How many bats are brown and wooden?")."""
    scene = ctx.scene
    pool = [o for o in scene.objects if o.attributes and countable(name_of(o)) and name_is_clean(scene, name_of(o))]
    objects = ctx.sampler.sample(
        ctx.rng, pool, 2 * ctx.limit, lambda o: min(ctx.sampler.attribute_weight(a) for a in o.attributes)
    )
    made = 0
    for obj in objects:
        name = name_of(obj)
        attrs = _attrs(obj)
        k = min(len(attrs), ctx.rng.choice((1, 1, 2)))
        chosen = sorted(ctx.sampler.sample(ctx.rng, attrs, k, ctx.sampler.attribute_weight))
        if _ambiguous_count(scene, name, chosen):
            continue
        n = sum(1 for o in scene.objects if name_of(o) == name and all(has_attribute(o, a) for a in chosen))
        template = pick_templates(ctx.rng, COUNT_TEMPLATES)
        question = template.format(
            plural=L.plural(name),
            attrs=L.join(_ordered(chosen)),
            adjectives=L.attributes_phrase(_ordered(chosen), name, 2),
        )
        yield Item(
            key=name + "|" + ",".join(chosen),
            question=question,
            answer=L.number(n),
            distractors=number_distractors(ctx.rng, n),
            metadata={"name": name, "attributes": chosen},
        )
        made += 1
        if made >= ctx.limit:
            return


# ---------------------------------------------------------------------------- all, by region
REGION_TEMPLATES = (
    "What attributes does the object in the region {region} have?",
    "Describe the object located at {region} by its attributes.",
    "List the attributes of the {name} in the region {region}.",
    "Which properties describe the {name} at {region}?",
)
REGION_STEM = "Which set of attributes describes the object in the region {region}?"
MAX_LISTED = 4


def _wrong_for(obj: Obj, attribute: str, type_hint: str | None, ctx: Context, avoid: set[str]) -> str | None:
    """An attribute the object does not have (nor a near-duplicate of one it has), same type if possible."""
    pools = []
    if type_hint:
        pools.append(list(attributes_of_type(type_hint)))
    pools.append(list(ctx.sampler.common_attributes[:200]))
    for t in attribute_types():
        pools.append(list(attributes_of_type(t)))
    for pool in pools:
        pool = [p for p in pool if p not in avoid]
        ctx.rng.shuffle(pool)
        for candidate in pool:
            if not has_attribute_like(obj, candidate) and not any(candidate in synonyms("attribute", a) for a in avoid):
                return candidate
    return None


@register("attribute_region", family="attributes", requires=("objects", "attributes", "size"))
def attribute_region(ctx: Context):
    """What are the attributes of the object at a (normalised) region; wrong choices swap in false ones."""
    scene = ctx.scene
    pool = [o for o in scene.objects if 0 < len(_attrs(o)) <= MAX_LISTED and region_is_unique(scene, o)]
    chosen = ctx.sampler.sample(
        ctx.rng, pool, ctx.limit, lambda o: min(ctx.sampler.attribute_weight(a) for a in o.attributes)
    )
    for obj in chosen:
        attrs = _attrs(obj)
        answer = L.join(attrs)
        distractors: list[str] = []
        for _ in range(8):
            fake = list(attrs)
            n_swap = 1 if len(fake) > 1 and ctx.rng.random() < 0.7 else len(fake)
            for index in ctx.rng.sample(range(len(fake)), n_swap):
                wrong = _wrong_for(obj, fake[index], attribute_type(fake[index]), ctx, set(fake))
                if wrong is None:
                    break
                fake[index] = wrong
            text = L.join(sorted(set(fake)))
            if text != answer and text not in distractors and any(not has_attribute_like(obj, a) for a in fake):
                distractors.append(text)
            if len(distractors) >= 3:
                break
        region = region_text(scene, obj)
        question = pick_templates(ctx.rng, REGION_TEMPLATES).format(region=region, name=name_of(obj))
        yield Item(
            key=obj.object_id,
            question=question,
            answer=answer,
            distractors=distractors,
            metadata={"object_id": obj.object_id, "attributes": attrs},
            mc_stem=REGION_STEM.format(region=region),
        )


# ------------------------------------------------------------------------------- typed attribute
TYPED_TEMPLATES = {
    "color": ("What color {be} {ref}?", "What is the color of {ref}?", "Which color {be} {ref}?"),
    "material": ("What material {be} {ref} made of?", "What is the material of {ref}?"),
    "shape": ("What shape {be} {ref}?", "What is the shape of {ref}?"),
    "size": ("What size {be} {ref}?", "How would you describe the size of {ref}?"),
    "pattern": ("What pattern {be} on {ref}?", "What is the pattern of {ref}?"),
    "pose": ("What pose {be} {ref} in?", "What is the pose of {ref}?"),
    "state": ("What state {be} {ref} in?", "What is the state of {ref}?"),
    "age": ("How old {be} {ref}?", "What is the age of {ref}?"),
}
GENERIC_TEMPLATES = ("What is the {type} of {ref}?",)


def typed_question(ctx: Context, type_name: str, ref: str, name: str) -> str:
    templates = TYPED_TEMPLATES.get(type_name, GENERIC_TEMPLATES)
    return pick_templates(ctx.rng, templates).format(be=L.be_for(name), ref=ref, type=type_name)


def typed_candidates(obj: Obj) -> list[tuple[str, str]]:
    """(type, attribute) pairs where the object has exactly one attribute of that type."""
    by_type: dict[str, list[str]] = {}
    for a in _attrs(obj):
        t = attribute_type(a)
        if t:
            by_type.setdefault(t, []).append(a)
    return [(t, values[0]) for t, values in sorted(by_type.items()) if len(values) == 1]


def typed_distractors(ctx: Context, obj: Obj, type_name: str, answer: str, k: int = 3) -> list[str]:
    pool = [a for a in attributes_of_type(type_name) if a != answer]
    common = set(ctx.sampler.common_attributes)
    pool.sort(key=lambda a: (a not in common, a))
    head = pool[: max(k * 3, 8)]
    ctx.rng.shuffle(head)
    out: list[str] = []
    for candidate in head + pool[len(head) :]:
        if has_attribute_like(obj, candidate) or candidate in synonyms("attribute", answer):
            continue
        if any(candidate in synonyms("attribute", o) for o in out):
            continue
        out.append(candidate)
        if len(out) >= k:
            break
    return out


@register("attribute_typed", family="attributes", requires=("objects", "attributes"))
def attribute_typed(ctx: Context):
    """A typed attribute of an object ("What color is the ball?"), only when it has one of that type."""
    scene = ctx.scene
    pool = []
    for obj in scene.objects:
        ref = referent(scene, obj)
        if ref is None:
            continue
        for type_name, attribute in typed_candidates(obj):
            pool.append((obj, ref, type_name, attribute))
    for obj, ref, type_name, attribute in ctx.sampler.sample(
        ctx.rng, pool, ctx.limit, lambda c: ctx.sampler.attribute_weight(c[3])
    ):
        question = typed_question(ctx, type_name, ref[0], name_of(obj))
        yield Item(
            key=f"{obj.object_id}|{type_name}",
            question=question,
            answer=attribute,
            distractors=typed_distractors(ctx, obj, type_name, attribute),
            metadata={"object_id": obj.object_id, "type": type_name, "referent": ref[2]},
        )
