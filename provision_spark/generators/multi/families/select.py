"""The eight *select* generators: which of the k images has (or lacks) something, or the most/fewest.

Each is an anchor (the image that makes the answer true, one per (key, image), spread over keys)
plus draws from pools: images with the key, and images whose signature shares no meaning key
with the question (the anti-join that keeps "a man" out of the distractors of "which image has a
person?", and "beside" out of those of "next to"). The answer image is then placed at a uniformly
drawn position, so "Image 1" ... "Image k" are equally often right.
"""

from __future__ import annotations

import functools
import operator
import random
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from provision_spark.generators import language as en
from provision_spark.generators import vocab
from provision_spark.generators.multi.base import (
    Params,
    Text,
    anchored,
    answer_first,
    draw_ids,
    facts_struct,
    finish,
    image_ids_of,
    multi_generator,
    with_keys,
)
from provision_spark.generators.multi.inputs import MultiInputs, combine
from provision_spark.generators.multi.measures import Images
from provision_spark.generators.multi.sampling import place, uniform_position


# ------------------------------------------------------------------------------------ English
def image_answer(facts: dict[str, Any]) -> str | None:
    index = facts.get("answer_index")
    return None if index is None else f"Image {index + 1}"


def _pick_image(question: str, row: dict[str, Any]) -> Text:
    answer = image_answer(row["facts"])
    others = [f"Image {i + 1}" for i in range(row["n_images"]) if f"Image {i + 1}" != answer]
    return Text(en.sentence(question, "?"), answer, others)


def _some(name: str, phrase: str | None = None) -> str:
    """ "a bat", "a wooden bat", "a street"; no article for mass nouns ("grass", "green grass")."""
    phrase = phrase or name
    return en.noun(phrase) if vocab.is_mass(name) else en.a(phrase)


def _thing(facts: dict[str, Any]) -> str:
    if facts.get("attribute"):
        return _some(facts["name"], en.attributes_phrase([facts["attribute"]], facts["name"]))
    return _some(facts["name"])


def _relation(facts: dict[str, Any]) -> str:
    """ "a man that is riding a horse"."""
    subject = facts["subject"]
    verb = en.predicate_phrase(facts["predicate"], plural=en.is_plural(subject))
    return f"{_some(subject)} that {verb} {_some(facts['object'])}"


def render_has(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image has {_thing(row['facts'])}", row)


def render_has_not(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image does not have {_thing(row['facts'])}", row)


def render_relation(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image shows {_relation(row['facts'])}", row)


def render_not_relation(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image does not show {_relation(row['facts'])}", row)


def render_most(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image has the most {en.plural(row['facts']['name'])}", row)


def render_least(row: dict[str, Any], rng: random.Random) -> Text:
    return _pick_image(f"which image has the fewest {en.plural(row['facts']['name'])}", row)


# ----------------------------------------------------------------------- checker side (truth)
def _asked(facts: Column, index: Column, **more: Column) -> Column:
    return facts_struct(
        name=facts["name"],
        attribute=facts["attribute"],
        subject=facts["subject"],
        predicate=facts["predicate"],
        object=facts["object"],
        answer_index=index,
        **more,
    )


def _has(exact: str, meaning) -> Callable[[Images, Column], Column]:
    """Exactly one image holds it (exactly) and no other holds anything meaning it."""

    def truth(m: Images, facts: Column) -> Column:
        index = m.only_index(lambda s: s[exact] > 0)
        return _asked(facts, F.when(m.count_where(lambda s: meaning(s) > 0) == 1, index))

    return truth


def _has_not(exact: str, meaning) -> Callable[[Images, Column], Column]:
    """Exactly one image holds nothing meaning it; every other holds it exactly."""

    def truth(m: Images, facts: Column) -> Column:
        index = m.only_index(lambda s: meaning(s) == 0)
        return _asked(facts, F.when(m.count_where(lambda s: s[exact] > 0) == m.n - 1, index))

    return truth


def _objects(s: Column) -> Column:
    return s["x_meaning"]


def _attributed(s: Column) -> Column:
    return s["xa_meaning"]


def _related(s: Column) -> Column:
    """Relations meaning the question's; for a vague predicate ("near") the object's mere presence counts."""
    return s["r_meaning"] + F.when(s["vague"], s["o_meaning"]).otherwise(0)


def _extreme_truth(pick) -> Callable[[Images, Column], Column]:
    """Counts per image; every image holds the name and nothing else meaning it; one extreme."""

    def truth(m: Images, facts: Column) -> Column:
        counts = m.values(lambda s: s["x_exact"])
        pure = m.every(lambda s: (s["x_exact"] > 0) & (s["x_meaning"] == s["x_exact"]))
        index = F.when(pure, m.only_index(lambda s: s["x_exact"] == pick(counts)))
        return _asked(facts, index, counts=counts)

    return truth


# ------------------------------------------------------------------------------- relational
@multi_generator(
    "multi_has_object",
    family="select",
    requires=("objects",),
    render=render_has,
    answer=image_answer,
    truth=_has("x_exact", _objects),
)
def has_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image has an <object>? One image holds it; the others hold nothing meaning the same."""
    g = "multi_has_object"
    items = with_keys(anchored(inputs.presence, ["name"], params, g, 1.2), inputs, "name", "name", "forbid")
    drawn = draw_ids(items, inputs.image_buckets, params.k - 1, params, "drawn", forbidden=[("forbid", "name_keys")])
    placed = answer_first(drawn, F.col("image_id"), F.col("drawn"), params, g)
    return finish(placed, g, facts_struct(name=F.col("name"), answer_index=F.col("answer_index")), params)


@multi_generator(
    "multi_has_attributed_object",
    family="select",
    requires=("objects", "attributes"),
    render=render_has,
    answer=image_answer,
    truth=_has("xa_exact", _attributed),
)
def has_attributed_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image has a <attribute> <object>? The others hold the object, none with that attribute."""
    g = "multi_has_attributed_object"
    items = _attributed_items(inputs, params, g, followers=0)
    drawn = draw_ids(
        items, inputs.attributed_buckets, params.k - 1, params, "drawn", forbidden=[("forbid", "attribute_keys")]
    )
    placed = answer_first(drawn, F.col("image_id"), F.col("drawn"), params, g)
    return finish(
        placed,
        g,
        facts_struct(name=F.col("name"), attribute=F.col("attribute"), answer_index=F.col("answer_index")),
        params,
    )


@multi_generator(
    "multi_has_not_object",
    family="select",
    requires=("objects",),
    render=render_has_not,
    answer=image_answer,
    truth=_has_not("x_exact", _objects),
)
def has_not_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image does not have an <object>? All but one hold it; that one holds nothing meaning it."""
    g = "multi_has_not_object"
    items = anchored(inputs.presence, ["name"], params, g, 1.3, followers=params.k - 2)
    items = with_keys(items, inputs, "name", "name", "forbid")
    odd = draw_ids(items, inputs.image_buckets, 1, params, "odd", forbidden=[("forbid", "name_keys")])
    placed = answer_first(odd, F.col("odd")[0], _holders(), params, g)
    return finish(placed, g, facts_struct(name=F.col("name"), answer_index=F.col("answer_index")), params)


@multi_generator(
    "multi_has_not_attributed_object",
    family="select",
    requires=("objects", "attributes"),
    render=render_has_not,
    answer=image_answer,
    truth=_has_not("xa_exact", _attributed),
)
def has_not_attributed_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image does not have a <attribute> <object>? It holds the object, never with that attribute."""
    g = "multi_has_not_attributed_object"
    items = _attributed_items(inputs, params, g, followers=params.k - 2)
    odd = draw_ids(items, inputs.attributed_buckets, 1, params, "odd", forbidden=[("forbid", "attribute_keys")])
    placed = answer_first(odd, F.col("odd")[0], _holders(), params, g)
    return finish(
        placed,
        g,
        facts_struct(name=F.col("name"), attribute=F.col("attribute"), answer_index=F.col("answer_index")),
        params,
    )


def _holders() -> Column:
    """The anchor and its followers: the images that hold what a "does not have" question asks about."""
    return F.concat(F.array("image_id"), image_ids_of(F.col("others")))


def _attributed_items(inputs: MultiInputs, params: Params, g: str, followers: int) -> DataFrame:
    """Anchors on (object, attribute), with ``followers`` more images holding it and the meaning keys
    of the pair as ``forbid``."""
    items = anchored(inputs.attribute_presence, ["name", "attribute"], params, g, 1.5, followers=followers)
    items = with_keys(with_keys(items, inputs, "name", "name", "_nk"), inputs, "attribute", "attribute", "_ak")
    return items.withColumn("forbid", combine(F.col("_nk"), F.col("_ak")))


def _relation_items(inputs: MultiInputs, params: Params, g: str, followers: int) -> DataFrame:
    """Anchors on (subject, predicate, object), with ``followers`` more images showing it, the triple's
    meaning keys as ``forbid`` and, for vague predicates ("near", "with"), the object's as
    ``forbid_object`` (an image holding the object may well hold the relation unannotated)."""
    items = anchored(inputs.triples, ["subject", "predicate", "object"], params, g, 1.5, followers=followers)
    items = with_keys(items, inputs, "name", "subject", "_sk")
    items = with_keys(items, inputs, "name", "object", "_ok")
    items = with_keys(items, inputs, "predicate", "predicate", "_pk")
    vague = inputs.predicates.select("predicate", "vague")
    return items.join(vague, "predicate").select(
        "*",
        combine(F.col("_sk"), F.col("_pk"), F.col("_ok")).alias("forbid"),
        F.when(F.col("vague"), F.col("_ok")).otherwise(F.array().cast("array<string>")).alias("forbid_object"),
    )


_RELATION_FORBIDDEN = [("forbid", "relation_keys"), ("forbid_object", "name_keys")]


@multi_generator(
    "multi_has_relation",
    family="select",
    requires=("objects", "relations"),
    render=render_relation,
    answer=image_answer,
    truth=_has("r_exact", _related),
)
def has_relation(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image shows <A> <predicate> <B>? The others show A, and nothing meaning that relation."""
    g = "multi_has_relation"
    items = _relation_items(inputs, params, g, followers=0)
    drawn = draw_ids(
        items, inputs.related_buckets, params.k - 1, params, "drawn", keys=["subject"], forbidden=_RELATION_FORBIDDEN
    )
    placed = answer_first(drawn, F.col("image_id"), F.col("drawn"), params, g)
    return finish(placed, g, _relation_facts(), params)


@multi_generator(
    "multi_has_not_relation",
    family="select",
    requires=("objects", "relations"),
    render=render_not_relation,
    answer=image_answer,
    truth=_has_not("r_exact", _related),
)
def has_not_relation(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image does not show <A> <predicate> <B>? All but one show it; that one shows A without it."""
    g = "multi_has_not_relation"
    items = _relation_items(inputs, params, g, followers=params.k - 2)
    odd = draw_ids(items, inputs.related_buckets, 1, params, "odd", keys=["subject"], forbidden=_RELATION_FORBIDDEN)
    placed = answer_first(odd, F.col("odd")[0], _holders(), params, g)
    return finish(placed, g, _relation_facts(), params)


def _relation_facts() -> Column:
    return facts_struct(
        subject=F.col("subject"),
        predicate=F.col("predicate"),
        object=F.col("object"),
        answer_index=F.col("answer_index"),
    )


def _extreme(inputs: MultiInputs, params: Params, g: str, pick) -> DataFrame:
    """k images that each hold the object (and nothing meaning it but it); one holds uniquely most/fewest."""
    # no cut: on many corpora most runs of k images tie at the top (one object each), so let all try
    items = anchored(inputs.countable_presence, ["name"], params, g, followers=params.k - 1, payload=("n",))
    every = F.col("_every")
    counts = [every[i]["n"] for i in range(params.k)]
    target = pick(F.array(*counts))
    # written out per image (compiled): the one image at the target, and how many are
    winner = F.coalesce(*[F.when(count == target, every[i]) for i, count in enumerate(counts)])
    at_target = functools.reduce(operator.add, [(count == target).cast("int") for count in counts])
    placed = (
        items.withColumn("_every", F.concat(F.array(F.struct("image_id", "n")), F.col("others")))
        .filter(at_target == 1)
        .withColumn("answer_index", uniform_position(params.seed, g + "/position", params.k, "item_id"))
        .withColumn("_placed", place(F.array_remove(every, winner), winner, F.col("answer_index")))
        .withColumn("image_ids", F.col("_placed")["image_id"])
    )
    facts = facts_struct(name=F.col("name"), answer_index=F.col("answer_index"), counts=F.col("_placed")["n"])
    return finish(placed, g, facts, params)


@multi_generator(
    "multi_most_object",
    family="select",
    requires=("objects",),
    render=render_most,
    answer=image_answer,
    truth=_extreme_truth(F.array_max),
)
def most_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image has the most <objects>? Counts differ at the top; uncountable names are never asked."""
    return _extreme(inputs, params, "multi_most_object", F.array_max)


@multi_generator(
    "multi_least_object",
    family="select",
    requires=("objects",),
    render=render_least,
    answer=image_answer,
    truth=_extreme_truth(F.array_min),
)
def least_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which image has the fewest <objects>? Every image holds some; one holds uniquely fewest."""
    return _extreme(inputs, params, "multi_least_object", F.array_min)
