"""Scene-graph QA (3): multi-hop questions over the graph about an object ("What is the object that
the white batter is wearing?"), a relation, and an attribute; plus the caption generator.

Objects are described by the shortest phrase that picks exactly one of them: its name ("the
batter"), an attribute and its name ("the white batter"), or its name and one of its relations
("the person that is holding an umbrella"). The description's structure goes into the metadata so
the checker can resolve it against the scene on its own.
"""

from __future__ import annotations

from typing import Any

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.scene import Obj, Scene
from provision_spark.generators.single.common import (
    confusable,
    corpus_names,
    countable,
    has_attribute_like,
    is_unique_name,
    name_counts,
    name_distractors,
    name_of,
    pick_templates,
    predicate_distractors,
    predicates_between,
    relates_like,
    relation_triples,
)
from provision_spark.generators.single.families.attributes import typed_candidates, typed_distractors, typed_question
from provision_spark.generators.vocab import attribute_type, is_uncountable, is_vague_predicate, norm, same_meaning


# ------------------------------------------------------------------------------ descriptions
def _mates(scene: Scene, obj: Obj) -> list[Obj]:
    """Objects that could be called by ``obj``'s name (``obj`` included)."""
    return [o for o in scene.objects if confusable(name_of(o), name_of(obj))]


def describe(scene: Scene, obj: Obj, avoid: tuple[str, str] | None = None) -> tuple[str, dict[str, Any]] | None:
    """(phrase, spec) picking out exactly ``obj``; ``avoid`` = (predicate, target id) not to describe it by."""
    name = name_of(obj)
    mates = _mates(scene, obj)
    if len(mates) == 1:
        return L.the(name), {"name": name}
    others = [m for m in mates if m.object_id != obj.object_id]
    for attribute in sorted(obj.attributes):
        a = norm(attribute)
        if a and not any(has_attribute_like(m, a) for m in others):
            return L.the(f"{a} {name}"), {"name": name, "attribute": a}
    by_id = scene.by_id
    for predicate, target_id in sorted(obj.relations):
        p = norm(predicate)
        target = by_id.get(target_id)
        if target is None or not p or is_vague_predicate(p) or target_id == obj.object_id:
            continue
        if avoid and (target_id == avoid[1] or same_meaning("predicate", p, avoid[0])):
            continue
        t_name = name_of(target)
        if confusable(t_name, name):
            continue

        def does_it(m: Obj) -> bool:
            return any(
                same_meaning("predicate", p, norm(q)) and t in by_id and confusable(name_of(by_id[t]), t_name)
                for q, t in m.relations
            )

        if not any(does_it(m) for m in others):
            return (
                f"{L.the(name)} that {L.predicate_phrase(p, plural=L.is_plural(name))} {L.a(t_name)}",
                {"name": name, "via": {"predicate": p, "target": t_name}},
            )
    return None


def _question_about(scene: Scene, subject: Obj, predicate: str) -> list[Obj]:
    """Every object ``subject`` relates to by ``predicate`` or a synonym."""
    return [o for o in scene.objects if relates_like(subject, predicate, o.object_id)]


# ------------------------------------------------------------------------------ object (multi-hop)
OBJECT_TEMPLATES = (
    "What is the object that {desc} {phrase}?",
    "Name the object that {desc} {phrase}.",
    "Which thing is it that {desc} {phrase}?",
)


@register("sgqa_object", family="scene_graph_qa", requires=("objects", "relations"))
def sgqa_object(ctx: Context):
    """What is the object that <described subject> <predicate>? (answer: one kind of object)."""
    scene = ctx.scene
    candidates = []
    for s, p, o in relation_triples(scene):
        if is_vague_predicate(p):
            continue
        targets = _question_about(scene, s, p)
        if len({name_of(t) for t in targets}) != 1:
            continue
        d = describe(scene, s, avoid=(p, o.object_id))
        if d is None:
            continue
        candidates.append((s, p, o, d))
    picked = ctx.sampler.sample(
        ctx.rng,
        candidates,
        ctx.limit,
        lambda c: ctx.sampler.predicate_weight(c[1]) * ctx.sampler.object_weight(c[2].name),
    )
    for s, p, o, (desc, spec) in picked:
        answer = name_of(o)
        plural_subject = L.is_plural(spec["name"])
        participle = L.predicate_participle(p)
        if participle and ctx.rng.random() < 0.4:
            question = f"What {'are' if plural_subject else 'is'} {desc} {participle}?"
        else:
            template = pick_templates(ctx.rng, OBJECT_TEMPLATES)
            question = template.format(desc=desc, phrase=L.predicate_phrase(p, plural=plural_subject))
        banned = [name_of(t) for t in _question_about(scene, s, p)] + [name_of(s)]
        scene_names = sorted({name_of(x) for x in scene.objects})
        ctx.rng.shuffle(scene_names)
        distractors = name_distractors(ctx.rng, scene_names + corpus_names(ctx.rng, ctx.sampler), banned, 3)
        yield Item(
            key=f"{s.object_id}|{p}",
            question=L.sentence(question, "?"),
            answer=answer,
            distractors=distractors,
            metadata={"target": {"of": spec, "predicate": p}},
        )


# ------------------------------------------------------------------------------ relation
RELATION_TEMPLATES = (
    "How is {a} related to {b}?",
    "What is the relationship of {a} to {b}?",
    "What relation holds between {a} (subject) and {b} (object)?",
)


@register("sgqa_relation", family="scene_graph_qa", requires=("objects", "relations"))
def sgqa_relation(ctx: Context):
    """How is <described A> related to <described B>? (at least one described by attribute or relation)."""
    scene = ctx.scene
    candidates = []
    seen = set()
    for s, p, o in relation_triples(scene):
        if (s.object_id, o.object_id) in seen:
            continue
        seen.add((s.object_id, o.object_id))
        ds = describe(scene, s, avoid=(p, o.object_id))
        do = describe(scene, o, avoid=(p, s.object_id))
        if ds is None or do is None or ds[0] == do[0]:
            continue
        if len(ds[1]) == 1 and len(do[1]) == 1:
            continue  # both by plain name: that is relation_between's question
        candidates.append((s, o, ds, do))
    picked = ctx.sampler.sample(
        ctx.rng,
        candidates,
        ctx.limit,
        lambda c: max(ctx.sampler.predicate_weight(p) for p in predicates_between(c[0], c[1].object_id)),
    )
    for s, o, (a, spec_a), (b, spec_b) in picked:
        truths = sorted({norm(p) for p in predicates_between(s, o.object_id)})
        predicate = ctx.sampler.sample(ctx.rng, truths, 1, ctx.sampler.predicate_weight)[0]
        question = pick_templates(ctx.rng, RELATION_TEMPLATES).format(a=a, b=b)
        yield Item(
            key=f"{s.object_id}|{o.object_id}",
            question=L.sentence(question, "?"),
            answer=L.relation_answer(predicate),
            distractors=predicate_distractors(ctx.rng, ctx.sampler, scene, truths),
            metadata={"subject": spec_a, "object": spec_b, "predicate": predicate},
        )


# ------------------------------------------------------------------------------ attribute
@register("sgqa_attribute", family="scene_graph_qa", requires=("objects", "relations", "attributes"))
def sgqa_attribute(ctx: Context):
    """A typed attribute of an object reached through the graph ("What is the material of the object
    that the batter is holding?") or of an object described by its relation."""
    scene = ctx.scene
    candidates = []
    for s, p, o in relation_triples(scene):
        if is_vague_predicate(p):
            continue
        targets = _question_about(scene, s, p)
        if len(targets) != 1:
            continue
        d = describe(scene, s, avoid=(p, o.object_id))
        if d is None:
            continue
        for type_name, attribute in typed_candidates(o):
            ref = f"the object that {d[0]} {L.predicate_phrase(p, plural=L.is_plural(d[1]['name']))}"
            meta = {"target": {"of": d[1], "predicate": p}, "type": type_name}
            candidates.append((o, ref, "object", type_name, attribute, meta, f"{s.object_id}|{p}|{type_name}"))
    for s in scene.objects:
        types = typed_candidates(s)
        if not types or is_unique_name(scene, s):
            continue
        d = describe(scene, s)
        if d is None or "via" not in d[1]:
            continue
        for type_name, attribute in types:
            meta = {"target": {"is": d[1]}, "type": type_name}
            candidates.append((s, d[0], d[1]["name"], type_name, attribute, meta, f"{s.object_id}|{type_name}"))
    for obj, ref, noun_for_be, type_name, attribute, meta, key in ctx.sampler.sample(
        ctx.rng, candidates, ctx.limit, lambda c: ctx.sampler.attribute_weight(c[4])
    ):
        question = typed_question(ctx, type_name, ref, noun_for_be)
        yield Item(
            key=key,
            question=L.sentence(question, "?"),
            answer=attribute,
            distractors=typed_distractors(ctx, obj, type_name, attribute),
            metadata=meta,
        )


# ------------------------------------------------------------------------------ caption
CAPTION_TEMPLATES = (
    "Describe the image.",
    "Give a short description of this picture.",
    "What does this image show? Describe it in a few sentences.",
    "Write a brief, factual caption for the image.",
)
MAX_NAMES = 8
MAX_ATTRIBUTE_FACTS = 2
MAX_RELATION_FACTS = 3


def caption_facts(scene: Scene, ctx: Context) -> dict[str, Any]:
    counts = name_counts(scene)
    names = sorted(counts, key=lambda n: (-counts[n], n))[:MAX_NAMES]
    unique = {o.object_id: is_unique_name(scene, o) for o in scene.objects}
    attributed = [o for o in scene.objects if o.attributes and unique[o.object_id]]
    attr_objs = ctx.sampler.sample(
        ctx.rng, attributed, MAX_ATTRIBUTE_FACTS, lambda o: min(ctx.sampler.attribute_weight(a) for a in o.attributes)
    )
    attribute_facts = [[o.object_id, sorted({norm(a) for a in o.attributes})[:3]] for o in attr_objs]
    triples = [(s, p, o) for s, p, o in relation_triples(scene) if not confusable(name_of(s), name_of(o))]
    rel = ctx.sampler.sample(ctx.rng, triples, MAX_RELATION_FACTS, lambda t: ctx.sampler.predicate_weight(t[1]))
    relation_facts = [[s.object_id, p, o.object_id] for s, p, o in rel]
    return {"names": names, "attribute_facts": attribute_facts, "relation_facts": relation_facts}


def render_facts(scene: Scene, facts: dict[str, Any], counts: dict[str, int] | None = None) -> str:
    """Text of a fact set; ``counts`` overrides the scene's counts (for falsified captions)."""
    by_id = scene.by_id
    scene_counts = name_counts(scene)
    listed = []
    for n in facts["names"]:
        c = (counts or {}).get(n, scene_counts.get(n, 0))
        listed.append((n, None if (is_uncountable(n) or L.is_plural(n)) else c))
    attrs = []
    for oid, values in facts["attribute_facts"]:
        o = by_id[oid]
        attrs.append((name_of(o), is_unique_name(scene, o), values))
    rels = []
    for sid, p, oid in facts["relation_facts"]:
        s, o = by_id[sid], by_id[oid]
        rels.append((name_of(s), is_unique_name(scene, s), p, name_of(o), is_unique_name(scene, o)))
    return L.render_caption(listed, attrs, rels)


def caption_edits(scene: Scene, facts: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """Up to three single-fact falsifications: an absent object, a wrong count, a wrong attribute/relation."""
    edits: list[dict[str, Any]] = []
    present = sorted(name_counts(scene))
    countables = [n for n in facts["names"] if countable(n)]
    if facts["names"]:
        absent = name_distractors(ctx.rng, corpus_names(ctx.rng, ctx.sampler), present, 1)
        if absent:
            edits.append({"type": "object", "index": ctx.rng.randrange(len(facts["names"])), "name": absent[0]})
    if countables:
        name = ctx.rng.choice(countables)
        n = name_counts(scene)[name]
        edits.append({"type": "count", "name": name, "count": n + 1 if n == 1 or ctx.rng.random() < 0.5 else n - 1})
    if facts["attribute_facts"]:
        i = ctx.rng.randrange(len(facts["attribute_facts"]))
        oid, values = facts["attribute_facts"][i]
        obj = scene.by_id[oid]
        j = ctx.rng.randrange(len(values))
        wrong = typed_distractors(ctx, obj, attribute_type(values[j]) or "color", values[j], 1)
        if wrong:
            edits.append({"type": "attribute", "fact": i, "position": j, "attribute": wrong[0]})
    if facts["relation_facts"]:
        i = ctx.rng.randrange(len(facts["relation_facts"]))
        sid, p, oid = facts["relation_facts"][i]
        s = scene.by_id[sid]
        wrong = predicate_distractors(ctx.rng, ctx.sampler, scene, predicates_between(s, oid), 1)
        if wrong:
            edits.append({"type": "relation", "fact": i, "predicate": wrong[0]})
    ctx.rng.shuffle(edits)
    return edits[:3]


def apply_edit(scene: Scene, facts: dict[str, Any], edit: dict[str, Any]) -> str:
    """The caption text with one fact falsified (shared with the checker, which verifies falsity itself)."""
    facts = {k: [list(x) if isinstance(x, list) else x for x in v] for k, v in facts.items()}
    facts["attribute_facts"] = [[oid, list(values)] for oid, values in facts["attribute_facts"]]
    counts = None
    if edit["type"] == "object":
        names = list(facts["names"])
        names[edit["index"]] = edit["name"]
        facts["names"] = names
        counts = {edit["name"]: 1}
    elif edit["type"] == "count":
        counts = {edit["name"]: edit["count"]}
    elif edit["type"] == "attribute":
        facts["attribute_facts"][edit["fact"]][1][edit["position"]] = edit["attribute"]
    elif edit["type"] == "relation":
        facts["relation_facts"][edit["fact"]][1] = edit["predicate"]
    return render_facts(scene, facts, counts)


@register("caption", family="caption", requires=("objects",))
def caption(ctx: Context):
    """A factual caption built from the scene graph; wrong choices falsify exactly one fact."""
    scene = ctx.scene
    facts = caption_facts(scene, ctx)
    if not facts["names"]:
        return
    answer = render_facts(scene, facts)
    edits = [e for e in caption_edits(scene, facts, ctx)]
    distractors, kept = [], []
    for e in edits:
        text = apply_edit(scene, facts, e)
        if text != answer and text not in distractors:
            distractors.append(text)
            kept.append(e)
    yield Item(
        key="caption",
        question=pick_templates(ctx.rng, CAPTION_TEMPLATES),
        answer=answer,
        distractors=distractors,
        metadata={**facts, "edits": kept},
        mc_stem="Which caption describes the image correctly?",
    )
