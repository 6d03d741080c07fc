"""The two *compare* generators: how an object's attributes, or a pair's relation, differ across images.

Only images where each named object is the only one of its meaning (no "the shirt" when there are
two shirts, or a shirt and a jersey) are used, and the per-image sets must differ pairwise *in
meaning* ({white} and {ivory} are the same), so the wrong choices - the true sets assigned to the
wrong images - are false.
"""

from __future__ import annotations

import itertools
import random
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

_MAX_CHOICES = 4


# ------------------------------------------------------------------------------------ English
def _attribute_clauses(facts: dict[str, Any], sets: list[list[str]]) -> str:
    name = facts["name"]
    parts = [f"in Image {i + 1}, {en.the(name)} {en.be_for(name)} {en.join(list(s))}" for i, s in enumerate(sets)]
    return en.sentence("; ".join(parts))


def _relation_clauses(facts: dict[str, Any], sets: list[list[str]]) -> str:
    subject, obj = facts["subject"], facts["object"]
    plural = en.is_plural(subject)
    parts = [
        f"in Image {i + 1}, {en.the(subject)} {en.join([en.predicate_phrase(p, plural=plural) for p in s])} {en.the(obj)}"
        for i, s in enumerate(sets)
    ]
    return en.sentence("; ".join(parts))


def attributes_answer(facts: dict[str, Any]) -> str | None:
    return _attribute_clauses(facts, facts["sets"]) if facts.get("sets") else None


def relations_answer(facts: dict[str, Any]) -> str | None:
    return _relation_clauses(facts, facts["sets"]) if facts.get("sets") else None


def _permuted(sets: list[list[str]], rng: random.Random) -> list[list[list[str]]]:
    """Up to three reassignments of the true sets to the wrong images (each one false)."""
    wrong = [list(p) for p in itertools.permutations(sets) if list(p) != sets]
    return rng.sample(wrong, min(len(wrong), _MAX_CHOICES - 1))


def render_attributes(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    question = f"how do the attributes of {en.the(facts['name'])} differ across these images"
    wrong = [_attribute_clauses(facts, p) for p in _permuted(facts["sets"], rng)]
    return Text(en.sentence(question, "?"), attributes_answer(facts), wrong)


def render_relations(row: dict[str, Any], rng: random.Random) -> Text:
    facts = row["facts"]
    question = (
        f"how does the relation between {en.the(facts['subject'])} and {en.the(facts['object'])} "
        f"differ across these images"
    )
    wrong = [_relation_clauses(facts, p) for p in _permuted(facts["sets"], rng)]
    return Text(en.sentence(question, "?"), relations_answer(facts), wrong)


# ----------------------------------------------------------------------- checker side (truth)
def _distinct_in_meaning(sets: Column) -> Column:
    return F.size(F.array_distinct(sets)) == F.size(sets)


def truth_attributes(m: Images, facts: Column) -> Column:
    """Per image: the object is there exactly once (and nothing else means it); its attributes differ."""
    sole = m.every(lambda s: (s["x_exact"] == 1) & (s["x_meaning"] == 1) & (F.size(s["x_attrs"]) > 0))
    valid = sole & _distinct_in_meaning(m.values(lambda s: M.word_keys(s["x_attrs"], "attribute_keys")))
    return facts_struct(name=facts["name"], sets=F.when(valid, m.values(lambda s: M.words(s["x_attrs"], "attribute"))))


def truth_relations(m: Images, facts: Column) -> Column:
    """Per image: subject and object there exactly once each; the predicates between them differ."""
    sole = m.every(
        lambda s: (s["s_exact"] == 1)
        & (s["s_meaning"] == 1)
        & (s["o_exact"] == 1)
        & (s["o_meaning"] == 1)
        & (F.size(s["preds"]) > 0)
    )
    valid = sole & _distinct_in_meaning(m.values(lambda s: M.word_keys(s["preds"], "predicate_keys")))
    return facts_struct(
        subject=facts["subject"],
        object=facts["object"],
        sets=F.when(valid, m.values(lambda s: M.words(s["preds"], "predicate"))),
    )


# ------------------------------------------------------------------------------- relational
def _compare(pool: DataFrame, keys: list[str], params: Params, g: str, facts: dict[str, Column]) -> DataFrame:
    """k images from ``pool`` (one per key's unique object), with pairwise different meaning sets, shuffled."""
    # no cut: how many runs of images differ in their sets depends entirely on the corpus
    items = anchored(pool, keys, params, g, followers=params.k - 1, payload=("words", "gids"))
    every = F.concat(F.array(F.struct("image_id", "words", "gids")), F.col("others"))
    placed = (
        items.filter(F.size(F.array_distinct(every["gids"])) == params.k)
        .withColumn("_every", shuffled(params, every))
        .withColumn("image_ids", F.col("_every")["image_id"])
    )
    return finish(placed, g, facts_struct(sets=F.col("_every")["words"], **facts), params)


@multi_generator(
    "multi_compare_attributes",
    family="compare",
    requires=("objects", "attributes"),
    render=render_attributes,
    answer=attributes_answer,
    truth=truth_attributes,
)
def compare_attributes(inputs: MultiInputs, params: Params) -> DataFrame:
    """How do the attributes of the <object> differ across the images? Its attribute set per image."""
    pool = inputs.unique_attribute_sets.select(
        "source", "name", "image_id", F.col("attrs").alias("words"), F.col("agids").alias("gids")
    )
    return _compare(pool, ["name"], params, "multi_compare_attributes", {"name": F.col("name")})


@multi_generator(
    "multi_compare_relations",
    family="compare",
    requires=("objects", "relations"),
    render=render_relations,
    answer=relations_answer,
    truth=truth_relations,
)
def compare_relations(inputs: MultiInputs, params: Params) -> DataFrame:
    """How does the relation between <A> and <B> differ across the images? Its predicates per image."""
    pool = inputs.unique_pair_relations.select(
        "source", "subject", "object", "image_id", F.col("preds").alias("words"), F.col("pgids").alias("gids")
    )
    return _compare(
        pool,
        ["subject", "object"],
        params,
        "multi_compare_relations",
        {"subject": F.col("subject"), "object": F.col("object")},
    )
