"""The four *aggregate* generators: totals over the k images, and what all of them have in common.

Counting uses only images where the counted thing is unambiguous (no truck beside the cars when
counting cars; uncountable names never asked). "In common" answers list every name (attribute)
all images hold exactly; a wrong choice is one that some image holds nothing meaning; an item where
a word is held by every image only up to synonyms (a man here, a person there) is dropped, since its
answer would be arguable.
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
from provision_spark.generators.multi import measures as M
from provision_spark.generators.multi.base import (
    Params,
    Text,
    anchored,
    facts_struct,
    finish,
    multi_generator,
    shuffled,
)
from provision_spark.generators.multi.inputs import MultiInputs
from provision_spark.generators.multi.measures import Images
from provision_spark.generators.multi.sampling import made_once

_MAX_CHOICES = 4


# ------------------------------------------------------------------------------------ English
def total_answer(facts: dict[str, Any]) -> str | None:
    return None if facts.get("total") is None else en.number(facts["total"])


def common_answer(facts: dict[str, Any]) -> str | None:
    return en.join(list(facts["common"])) if facts.get("common") else None


def _near_numbers(total: int, rng: random.Random) -> list[str]:
    """Three other positive counts close to the total."""
    near = [n for n in (total - 2, total - 1, total + 1, total + 2, total + 3) if n > 0]
    return [en.number(n) for n in rng.sample(near, _MAX_CHOICES - 1)]


def render_count(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    return Text(
        en.sentence(f"how many {en.plural(facts['name'])} are there in these images in total", "?"),
        total_answer(facts),
        _near_numbers(facts["total"], rng),
    )


def render_count_attributed(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    things = en.attributes_phrase([facts["attribute"]], facts["name"], 2)
    return Text(
        en.sentence(f"how many {things} are there in these images in total", "?"),
        total_answer(facts),
        _near_numbers(facts["total"], rng),
    )


def common_choices(truth: dict[str, Any], answer: str | None, choices: list[str], correct: int) -> str | None:
    """The right choice is held by every image; each wrong one is missing, in meaning, from some image."""
    if choices[correct] not in (truth.get("common") or []):
        return f"choice {choices[correct]!r} is not common to all images"
    wrong = [c for i, c in enumerate(choices) if i != correct and c not in (truth.get("others") or [])]
    return f"choices {wrong} are not absent from some image" if wrong else None


def _mc_common(facts: dict[str, Any], rng: random.Random) -> tuple[str, list[str]]:
    """One common word as the right choice, up to three words some image lacks as the wrong ones."""
    others = list(facts["others"])
    return rng.choice(list(facts["common"])), rng.sample(others, min(len(others), _MAX_CHOICES - 1))


def render_common_objects(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    right, wrong = _mc_common(facts, rng)
    return Text(
        en.sentence("which objects appear in every one of these images", "?"),
        common_answer(facts),
        wrong,
        mc_stem=en.sentence("which of these objects appears in every one of these images", "?"),
        mc_answer=right,
    )


def render_common_attributes(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    right, wrong = _mc_common(facts, rng)
    thing = en.the(facts["name"])
    does = "do" if en.is_plural(facts["name"]) else "does"
    return Text(
        en.sentence(f"which attributes {does} {thing} have in every one of these images", "?"),
        common_answer(facts),
        wrong,
        mc_stem=en.sentence(f"which of these attributes {does} {thing} have in every one of these images", "?"),
        mc_answer=right,
    )


# ----------------------------------------------------------------------- checker side (truth)
def _total_truth(exact: str, meaning: str) -> Callable[[Images, Column], Column]:
    """The sum of exact counts, provided every image's count is unambiguous (exact == by meaning)."""

    def truth(m: Images, facts: Column) -> Column:
        clean = m.every(lambda s: s[exact] == s[meaning])
        return facts_struct(
            name=facts["name"],
            attribute=facts["attribute"],
            counts=m.values(lambda s: s[exact]),
            total=F.when(clean, m.total(lambda s: s[exact])),
        )

    return truth


def _names_in_common(m: Images) -> Column:
    return M.commonality(
        m, lambda s: s["names"], lambda s: s["name_list"], lambda s: s["name_gids"], "name", "name_keys"
    )


def _attributes_in_common(m: Images) -> Column:
    return M.commonality(
        m,
        lambda s: s["x_attrs"],
        lambda s: M.words(s["x_attrs"], "attribute"),
        lambda s: M.word_keys(s["x_attrs"], "attribute_keys"),
        "attribute",
        "attribute_keys",
    )


def _common_truth(in_common: Callable[[Images], Column], sole: bool) -> Callable[[Images, Column], Column]:
    """Words every image holds exactly (common) and ones some image holds nothing meaning (others);
    null when a word is neither, or (``sole``) the object is not alone of its meaning in every image."""

    def truth(m: Images, facts: Column) -> Column:
        verdict = in_common(m)
        valid = ~verdict["arguable"]
        if sole:
            valid = valid & m.every(lambda s: (s["x_exact"] == 1) & (s["x_meaning"] == 1))
        return facts_struct(
            name=facts["name"], common=F.when(valid, verdict["common"]), others=F.when(valid, verdict["others"])
        )

    return truth


# ------------------------------------------------------------------------------- relational
def _total(pool: DataFrame, keys: list[str], params: Params, g: str, facts: dict[str, Column]) -> DataFrame:
    """k images each holding the thing unambiguously (``n`` of it); the answer is the sum."""
    items = anchored(pool, keys, params, g, 1.3, followers=params.k - 1, payload=("n",))
    every = shuffled(params, F.concat(F.array(F.struct("image_id", "n")), F.col("others")))
    placed = items.withColumn("_every", every).withColumn("image_ids", F.col("_every")["image_id"])
    total = functools.reduce(operator.add, [F.col("_every")[i]["n"] for i in range(params.k)])
    return finish(placed, g, facts_struct(counts=F.col("_every")["n"], total=total, **facts), params)


@multi_generator(
    "multi_count_object",
    family="aggregate",
    requires=("objects",),
    render=render_count,
    answer=total_answer,
    truth=_total_truth("x_exact", "x_meaning"),
)
def count_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """How many <objects> are there in these images in total? Countable names only."""
    return _total(inputs.countable_presence, ["name"], params, "multi_count_object", {"name": F.col("name")})


@multi_generator(
    "multi_count_attributed_object",
    family="aggregate",
    requires=("objects", "attributes"),
    render=render_count_attributed,
    answer=total_answer,
    truth=_total_truth("xa_exact", "xa_meaning"),
)
def count_attributed_object(inputs: MultiInputs, params: Params) -> DataFrame:
    """How many <attribute> <objects> are there in these images in total?"""
    return _total(
        inputs.countable_attribute_presence,
        ["name", "attribute"],
        params,
        "multi_count_attributed_object",
        {"name": F.col("name"), "attribute": F.col("attribute")},
    )


def _common(
    items: DataFrame, params: Params, g: str, word: str, keys: str, facts: dict[str, Column], unique_sets: bool
) -> DataFrame:
    """Items over the anchor's and its followers' images (``words``: the (word, keys) structs each
    holds; ``texts``: the words alone; ``held``: all their meaning keys) whose images share some
    word and lack others, with nothing arguable; images shuffled, then finished.

    common: words every image holds (exactly); others: words some image holds nothing meaning (no
    key in common); arguable: a word every image holds, some only up to synonyms (its answer would
    be debatable, so the item is dropped). An item has exactly ``k`` images, so the tests over them
    are written out per image: built-in array functions, compiled, where a lambda over the images
    would be interpreted for every word of every item.
    """
    images = F.concat(F.array(F.struct("image_id", "words", "held", "texts")), F.col("others"))
    # each image's arrays as columns, taken out once: the lambda below reads them for every word
    every = [{f: F.col(f"_{f}{i}") for f in ("words", "held", "texts")} for i in range(params.k)]
    apart = [images[i][f].alias(f"_{f}{i}") for i in range(params.k) for f in ("words", "held", "texts")]
    union = F.array_distinct(F.flatten(F.array(*[image["words"] for image in every])))
    common = every[0]["texts"]
    for image in every[1:]:
        common = F.array_intersect(common, image["texts"])

    def meant_by_all(w: Column) -> Column:
        return functools.reduce(operator.and_, [F.arrays_overlap(image["held"], w[keys]) for image in every])

    judged = (
        items.select("*", *apart)
        .select("*", made_once(_union=union, _common=common))
        .select("*", made_once(_by_all=F.filter("_union", meant_by_all)))
        # every word exact in all images is meant by all: nothing arguable when the two sets match
        .filter(
            (F.size("_common") > 0) & (F.size("_by_all") == F.size("_common")) & (F.size("_by_all") < F.size("_union"))
        )
        .withColumn("image_ids", shuffled(params, images)["image_id"])
    )
    others = F.array_except(F.col("_union")[word], F.col("_common"))
    return finish(
        judged,
        g,
        facts_struct(common=F.sort_array("_common"), others=F.sort_array(others), **facts),
        params,
        unique_sets=unique_sets,
    )


@multi_generator(
    "multi_common_objects",
    family="aggregate",
    requires=("objects",),
    render=render_common_objects,
    answer=common_answer,
    truth=_common_truth(_names_in_common, sole=False),
    check_choices=common_choices,
)
def common_objects(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which objects appear in every one of these images? Every such name, and ones some image lacks."""
    g = "multi_common_objects"
    pool = inputs.signed_presence.select(
        "source",
        "name",
        "image_id",
        F.col("names").alias("words"),
        F.col("name_keys").alias("held"),
        F.col("name_list").alias("texts"),
    )
    items = anchored(pool, ["name"], params, g, 1.5, followers=params.k - 1, payload=("words", "held", "texts"))
    # the question names no object: the same images reached from two of their names are one item
    return _common(items, params, g, "name", "name_keys", {}, unique_sets=True)


@multi_generator(
    "multi_common_attributes",
    family="aggregate",
    requires=("objects", "attributes"),
    render=render_common_attributes,
    answer=common_answer,
    truth=_common_truth(_attributes_in_common, sole=True),
    check_choices=common_choices,
)
def common_attributes(inputs: MultiInputs, params: Params) -> DataFrame:
    """Which attributes does the <object> have in every one of these images? (It is unique in each.)"""
    g = "multi_common_attributes"
    pool = inputs.unique_attribute_sets.select(
        "source",
        "name",
        "image_id",
        F.col("keyed").alias("words"),
        F.col("agids").alias("held"),
        F.col("attrs").alias("texts"),
    )
    items = anchored(pool, ["name"], params, g, 2.0, followers=params.k - 1, payload=("words", "held", "texts"))
    return _common(items, params, g, "attribute", "attribute_keys", {"name": F.col("name")}, unique_sets=False)
