"""Relations (3): how are A and B related; how are the objects at two regions related; which of some
candidates is <predicate> B."""

from __future__ import annotations

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.single.common import (
    confusable,
    corpus_names,
    name_distractors,
    name_of,
    pick_templates,
    predicate_distractors,
    predicates_between,
    referent,
    region_text,
    relates_like,
    relation_triples,
)

BETWEEN_TEMPLATES = (
    "How is {a} related to {b}?",
    "What is the relationship of {a} to {b}?",
    "Fill in the blank with the relation: {a} ___ {b}.",
    "In the image, what relation holds between {a} (subject) and {b} (object)?",
)


def _relation_items(ctx: Context, force_region: bool):
    scene = ctx.scene
    triples = relation_triples(scene)
    # one question per ordered pair; weight by the rarest predicate between them
    pairs: dict[tuple[str, str], tuple] = {}
    for s, p, o in triples:
        pairs.setdefault((s.object_id, o.object_id), (s, o))
    candidates = []
    for (sid, oid), (s, o) in sorted(pairs.items()):
        ref_s, ref_o = referent(scene, s, force_region), referent(scene, o, force_region)
        if ref_s is None or ref_o is None or ref_s[0] == ref_o[0]:
            continue
        candidates.append((s, o, ref_s, ref_o))
    picked = ctx.sampler.sample(
        ctx.rng,
        candidates,
        ctx.limit,
        lambda c: max(ctx.sampler.predicate_weight(p) for p in predicates_between(c[0], c[1].object_id)),
    )
    for s, o, ref_s, ref_o in picked:
        truths = sorted({L.noun(p) for p in predicates_between(s, o.object_id)})
        predicate = ctx.sampler.sample(ctx.rng, truths, 1, ctx.sampler.predicate_weight)[0]
        if force_region:
            a = f"the object in the region {region_text(scene, s)}"
            b = f"the object in the region {region_text(scene, o)}"
        else:
            a, b = ref_s[0], ref_o[0]
        question = pick_templates(ctx.rng, BETWEEN_TEMPLATES).format(a=a, b=b)
        yield Item(
            key=f"{s.object_id}|{o.object_id}",
            question=question,
            answer=L.relation_answer(predicate),
            distractors=predicate_distractors(ctx.rng, ctx.sampler, scene, truths),
            metadata={
                "subject_id": s.object_id,
                "object_id": o.object_id,
                "predicate": predicate,
                "referents": [ref_s[2], ref_o[2]] if not force_region else ["region", "region"],
            },
        )


@register("relation_between", family="relations", requires=("objects", "relations"))
def relation_between(ctx: Context):
    """How are A and B related (A, B by name when unique, else by region)."""
    yield from _relation_items(ctx, force_region=False)


@register("relation_region", family="relations", requires=("objects", "relations", "size"))
def relation_region(ctx: Context):
    """How are the objects at region 1 and region 2 related."""
    yield from _relation_items(ctx, force_region=True)


WHICH_TEMPLATES = (
    "Which of these {phrase} {b}: {options}?",
    "Among {options}, which one {phrase} {b}?",
    "Which object {phrase} {b}: {options}?",
)
WHICH_OPEN_TEMPLATES = (
    "What {phrase} {b}?",
    "Which object in the image {phrase} {b}?",
)


@register("relation_which_subject", family="relations", requires=("objects", "relations"))
def relation_which_subject(ctx: Context):
    """Which of some candidates is <predicate> B ("Which of these is holding the bat: a ball or a batter?")."""
    scene = ctx.scene
    candidates = []
    for s, p, o in relation_triples(scene):
        ref_o = referent(scene, o)
        if ref_o is None or confusable(name_of(s), name_of(o)):
            continue
        candidates.append((s, p, o, ref_o))
    picked = ctx.sampler.sample(
        ctx.rng,
        candidates,
        ctx.limit,
        lambda c: ctx.sampler.predicate_weight(c[1]) * ctx.sampler.object_weight(c[0].name),
    )
    for s, p, o, ref_o in picked:
        answer = name_of(s)
        # names in the image that have this predicate (or a synonym) to B: all true answers
        true_names = {name_of(x) for x in scene.objects if relates_like(x, p, o.object_id)}
        # an open question ("What is holding the bat?") needs one kind of thing doing it
        open_question = ctx.rng.random() < 0.25 and true_names == {answer}
        scene_names = sorted({name_of(x) for x in scene.objects} - {name_of(o)})
        ctx.rng.shuffle(scene_names)
        pool = scene_names + corpus_names(ctx.rng, ctx.sampler)
        exclude = list(true_names) + [name_of(o)]
        distractors = name_distractors(ctx.rng, pool, exclude, ctx.rng.choice((2, 3, 3)))
        if not distractors:
            continue
        phrase = L.predicate_phrase(p)
        options = sorted([answer] + distractors)
        if open_question:
            question = pick_templates(ctx.rng, WHICH_OPEN_TEMPLATES).format(phrase=phrase, b=ref_o[0])
        else:
            question = pick_templates(ctx.rng, WHICH_TEMPLATES).format(
                phrase=phrase, b=ref_o[0], options=L.join([L.a(n) for n in options], "or")
            )
        yield Item(
            key=f"{s.object_id}|{p}|{o.object_id}",
            question=L.sentence(question, "?"),
            answer=answer,
            distractors=distractors,
            metadata={
                "object_id": o.object_id,
                "predicate": p,
                "candidates": None if open_question else options,
                "referent": ref_o[2],
            },
            mc_stem=f"Which of these {phrase} {ref_o[0]}?",
        )
