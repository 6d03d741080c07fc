"""The checker's side: what each image of a stored item holds, re-counted from its whole content.

Generation picks images through pools, signatures and bucket draws; the checker ignores all of that.
It joins every stored item's image ids back to each image's *whole* content (``inputs.scenes``: all
objects, attributes and relations of the image as arrays, the flat rows grouped per image; the pools
are cut from the same rows), once for all generators, and counts what the item's question is about
(exactly, and up to synonyms). Each generator's ``truth`` is then an expression over these per-image
measures (``Images``, in image order). The two paths share only the scene rows and the vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from provision_spark.generators.multi.inputs import MultiInputs, held_names

#: The per-image measures, fields of each of ``Images.each``.
MEASURES = (
    "x_exact",
    "x_meaning",  # objects named facts.name / meaning the same
    "s_exact",
    "s_meaning",
    "o_exact",
    "o_meaning",  # the same for facts.subject and facts.object
    "names",
    "name_list",
    "name_gids",  # every name the image holds: (name, name_keys) structs, names, meaning keys
    # (null for items whose generator asks nothing about attributes / relations)
    "xa_exact",
    "xa_meaning",  # objects "<facts.attribute> <facts.name>", exactly / up to synonyms
    "x_attrs",  # array<struct<attribute, attribute_keys>>: attributes of the objects named facts.name
    "r_exact",
    "r_meaning",  # relations subject -predicate-> object, exactly / up to synonyms
    "preds",  # array<struct<predicate, predicate_keys>>: predicates from facts.subject to facts.object
    "vague",  # whether facts.predicate is too often true to deny ("near"): the object's presence counts
)


def _overlap(a: Column, b: Column) -> Column:
    return F.coalesce(F.arrays_overlap(a, b), F.lit(False))


def _distinct_objects(attrs: Column, condition: Callable[[Column], Column]) -> Column:
    return F.size(F.array_distinct(F.filter(attrs, condition)["object_id"]))


#: Joins an image's (subject, predicate, object) words into one string, for compiled lookups.
_SEP = "\x1f"


def _scene_lookups(scenes: DataFrame) -> DataFrame:
    """``scenes`` as the items join it, with lookups made once per image: objects per name
    (``obj_n``), objects per meaning key (``key_objs``, each object as "<name>#<j>" so that one
    reached through two keys counts once), the names with their keys, and each relation's words as
    one string (``triples``).

    An item's counts are then map lookups and array functions, compiled, instead of a lambda over
    the image's objects or relations, which Spark interprets for every element of every item.
    """
    objs = F.col("objs")
    ids = lambda o: F.transform(F.sequence(F.lit(1), o["n"]), lambda j: F.concat_ws("#", o["name"], j.cast("string")))  # noqa: E731
    meant = lambda g: F.flatten(F.transform(F.filter(objs, lambda o: F.array_contains(o["name_keys"], g)), ids))  # noqa: E731
    named = scenes.select(
        F.col("source").alias("_source"),
        F.col("image_id").alias("_image"),
        "objs",
        "attrs",
        "rels",
        *[column.alias(name) for name, column in held_names(objs).items()],
    )
    # the name columns are made in the select above, once, and read here as columns
    return named.select(
        "_source",
        "_image",
        "attrs",
        "rels",
        F.map_from_arrays("name_list", objs["n"]).alias("obj_n"),
        F.map_from_arrays("name_gids", F.transform("name_gids", meant)).alias("key_objs"),
        "names",
        "name_list",
        "name_gids",
        F.transform(
            F.coalesce("rels", F.array()), lambda r: F.concat_ws(_SEP, r["subject"], r["predicate"], r["object"])
        ).alias("triples"),
    )


def _measure(f: Callable[[str], Column], reads: dict[str, frozenset[str]], key_count: int) -> Column:
    """The struct of ``MEASURES`` for one of the item's images (its ``_scene_lookups`` columns,
    joined beside the item) and the item's facts ``f(field)`` with their meaning keys ``kx`` .. ``kp``.

    ``reads`` maps each generator to the measures its truth reads (``checker.truths``): a measure is
    computed only for the rows of generators that read it, and left null elsewhere.
    ``key_count``: the most meaning keys a name has, so a name's keys are looked up one by one.
    """
    attrs = F.coalesce("attrs", F.array())
    rels = F.coalesce("rels", F.array())
    k = F.col
    exact = lambda field: F.coalesce(F.col("obj_n")[f(field)], F.lit(0))  # noqa: E731

    def meaning(keys: str) -> Column:
        found = [
            F.coalesce(F.col("key_objs")[F.get(k(keys), j)], F.array().cast("array<string>")) for j in range(key_count)
        ]
        return F.size(F.array_distinct(F.flatten(F.array(*found))))

    def gated(name: str, value: Column) -> Column:
        readers = [g for g, fields in reads.items() if name in fields]
        if len(readers) < len(reads):
            value = F.when(F.col("generator").isin(readers) if readers else F.lit(False), value)
        return value.alias(name)

    named = lambda a: a["name"] == f("name")  # noqa: E731
    between = lambda r: (r["subject"] == f("subject")) & (r["object"] == f("object"))  # noqa: E731
    triple = F.concat_ws(_SEP, f("subject"), f("predicate"), f("object"))
    return F.struct(
        gated("x_exact", exact("name")),
        gated("x_meaning", meaning("kx")),
        gated("s_exact", exact("subject")),
        gated("s_meaning", meaning("ks")),
        gated("o_exact", exact("object")),
        gated("o_meaning", meaning("ko")),
        gated("names", k("names")),
        gated("name_list", k("name_list")),
        gated("name_gids", k("name_gids")),
        gated("xa_exact", _distinct_objects(attrs, lambda a: named(a) & (a["attribute"] == f("attribute")))),
        gated(
            "xa_meaning",
            _distinct_objects(
                attrs, lambda a: _overlap(a["name_keys"], k("kx")) & _overlap(a["attribute_keys"], k("ka"))
            ),
        ),
        gated(
            "x_attrs",
            F.array_distinct(
                F.transform(
                    F.filter(attrs, named),
                    lambda a: F.struct(a["attribute"].alias("attribute"), a["attribute_keys"].alias("attribute_keys")),
                )
            ),
        ),
        # how many of the image's relations are the triple: those removing it removes
        gated("r_exact", F.size("triples") - F.size(F.array_remove("triples", triple))),
        gated(
            "r_meaning",
            F.size(
                F.filter(
                    rels,
                    lambda r: _overlap(r["subject_keys"], k("ks"))
                    & _overlap(r["predicate_keys"], k("kp"))
                    & _overlap(r["object_keys"], k("ko")),
                )
            ),
        ),
        gated(
            "preds",
            F.array_distinct(
                F.transform(
                    F.filter(rels, between),
                    lambda r: F.struct(r["predicate"].alias("predicate"), r["predicate_keys"].alias("predicate_keys")),
                )
            ),
        ),
        gated("vague", F.coalesce("vague", F.lit(False))),
    )


def per_image(inputs: MultiInputs, items: DataFrame, reads: dict[str, frozenset[str]], k: int) -> DataFrame:
    """``items`` with ``m0`` .. ``m{k-1}``: the measures of each item's images, in image order
    (``Images.of(k)`` reads them).

    ``items``: (instruction_id, generator, source, image_ids, facts, ...) with at most ``k`` images
    each; every column is carried along. ``reads`` maps a generator to the measures its truth reads
    (``checker.truths``). Image number i of every item is looked up with one join on
    ``image_ids[i]`` (k joins, no regrouping of exploded rows), a broadcast join where the scenes
    are small enough (``MultiInputs.broadcast_scenes``), so that the items are not shuffled for it.
    """
    words = inputs.names.select(F.col("name").alias("_w"), F.col("name_keys").alias("_k"))
    keyed = items
    for field, out in (("name", "kx"), ("subject", "ks"), ("object", "ko")):
        keyed = (
            keyed.join(words, F.col(f"facts.{field}") == F.col("_w"), "left").drop("_w").withColumnRenamed("_k", out)
        )
    keyed = keyed.join(
        inputs.attribute_words.select(F.col("attribute").alias("_a"), F.col("attribute_keys").alias("ka")),
        F.col("facts.attribute") == F.col("_a"),
        "left",
    ).drop("_a")
    keyed = keyed.join(
        inputs.predicates.select(F.col("predicate").alias("_p"), F.col("predicate_keys").alias("kp"), "vague"),
        F.col("facts.predicate") == F.col("_p"),
        "left",
    ).drop("_p")
    # one build side for every image number, so a broadcast of it is made once and reused
    scenes = _scene_lookups(inputs.scenes)
    if inputs.broadcast_scenes:
        scenes = F.broadcast(scenes)
    fact = lambda field: F.col(f"facts.{field}")  # noqa: E731
    carried = items.columns + ["kx", "ks", "ko", "ka", "kp", "vague"]
    for i in range(k):
        # measured right after the join: the next join carries the measures, not the arrays
        on = (F.col("source") == F.col("_source")) & (F.get("image_ids", i) == F.col("_image"))
        keyed = keyed.join(scenes, on, "left").select(
            *carried, _measure(fact, reads, inputs.name_key_count).alias(f"m{i}")
        )
        carried.append(f"m{i}")
    return keyed.select(*items.columns, *[f"m{i}" for i in range(k)])


# ------------------------------------------------------------------ helpers for truth expressions
@dataclasses.dataclass(frozen=True)
class Images:
    """The measures of an item's images, ``each`` (k struct columns), of which its first ``n`` are
    its images (an item has at most k).

    Truths are written over them image by image: Spark compiles these expressions, where a lambda
    over an array of images would be interpreted for every image of every item.
    """

    each: tuple[Column, ...]
    n: Column

    @classmethod
    def of(cls, k: int, seen: set[str] | None = None) -> Images:
        """The measures ``per_image`` adds (``m0`` .. ``m{k-1}``) of items with ``image_ids``; with
        ``seen``, each measure a truth built over them reads is noted there."""
        each = [F.col(f"m{i}") for i in range(k)]
        return cls(tuple(each if seen is None else [_Noted(column, seen) for column in each]), F.size("image_ids"))

    def present(self, i: int) -> Column:
        return F.lit(i) < self.n

    def hits(self, condition: Callable[[Column], Column]) -> list[Column]:
        """Per image: whether it is the item's and satisfies ``condition`` (null counts as no)."""
        return [self.present(i) & F.coalesce(condition(s), F.lit(False)) for i, s in enumerate(self.each)]

    def count_where(self, condition: Callable[[Column], Column]) -> Column:
        return functools.reduce(operator.add, [hit.cast("int") for hit in self.hits(condition)])

    def only_index(self, condition: Callable[[Column], Column]) -> Column:
        """The position of the one image satisfying ``condition``; null unless exactly one does."""
        first = F.lit(None).cast("int")
        for i, hit in reversed(list(enumerate(self.hits(condition)))):
            first = F.when(hit, F.lit(i)).otherwise(first)
        return F.when(self.count_where(condition) == 1, first)

    def every(self, condition: Callable[[Column], Column]) -> Column:
        return functools.reduce(
            operator.and_, [~self.present(i) | F.coalesce(condition(s), F.lit(False)) for i, s in enumerate(self.each)]
        )

    def values(self, value: Callable[[Column], Column]) -> Column:
        """``value`` of each of the item's images, as an array in image order."""
        return F.slice(F.array(*[value(s) for s in self.each]), 1, self.n)

    def total(self, value: Callable[[Column], Column]) -> Column:
        return functools.reduce(
            operator.add, [F.when(self.present(i), value(s)).otherwise(0) for i, s in enumerate(self.each)]
        )


class _Noted:
    """An image's measures (a struct column) that note each field read, and refuse unknown ones."""

    def __init__(self, column: Column, seen: set[str]):
        self.column, self.seen = column, seen

    def __getitem__(self, field: str) -> Column:
        if field not in MEASURES:
            raise ValueError(f"no measure {field!r}: the measures are {MEASURES}")
        self.seen.add(field)
        return self.column[field]


def words(structs: Column, field: str) -> Column:
    """The sorted words of an array of (word, keys) structs (the field of every struct, compiled)."""
    return F.sort_array(structs[field])


def word_keys(structs: Column, keys: str) -> Column:
    """The sorted meaning keys of an array of (word, keys) structs."""
    return F.sort_array(F.array_distinct(F.flatten(structs[keys])))


def commonality(
    m: Images,
    held: Callable[[Column], Column],
    texts: Callable[[Column], Column],
    gids: Callable[[Column], Column],
    field: str,
    keys: str,
) -> Column:
    """struct(common, others, arguable) over what each image holds: ``held(s)`` its (word, keys)
    structs, ``texts(s)`` the words alone, ``gids(s)`` all their meaning keys.

    common: words every image holds exactly; others: words some image holds nothing meaning;
    arguable: some word is neither (held by all only up to synonyms).
    """
    every_text = F.array_distinct(F.flatten(m.values(texts)))
    common = texts(m.each[0])
    for i, s in enumerate(m.each[1:], 1):
        # an image the item lacks intersects as all the words there are
        common = F.array_intersect(common, F.when(m.present(i), texts(s)).otherwise(every_text))

    def meant_by_all(w: Column) -> Column:
        return functools.reduce(
            operator.and_, [~m.present(i) | F.arrays_overlap(gids(s), w[keys]) for i, s in enumerate(m.each)]
        )

    # the words some image holds that every image means (a word's keys are its own, so distinct
    # words are distinct structs); each common word is among them
    by_all = F.array_distinct(F.filter(F.flatten(m.values(held)), meant_by_all)[field])
    return F.struct(
        F.sort_array(common).alias("common"),
        F.sort_array(F.array_except(every_text, by_all)).alias("others"),
        (F.size(by_all) > F.size(common)).alias("arguable"),
    )
