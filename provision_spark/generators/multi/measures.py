"""The checker's side: what each image of a stored item holds, re-counted from its whole content.

Generation picks images through pools, signatures and bucket draws; the checker ignores all of that.
It joins every stored item's image ids back to each image's *whole* content (``inputs.scenes``: all
objects, attributes and relations of the image as arrays, the flat rows grouped per image; the pools
are cut from the same rows), once for all generators, and counts what the item's question is about
(exactly, and up to synonyms). Each generator's ``truth`` is then an expression over these per-image
measures (``m``, in image order). The two paths share only the scene rows and the vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from provision_spark.generators.multi.inputs import MultiInputs

#: The per-image measures, as ``m[i].<field>``.
MEASURES = (
    "x_exact", "x_meaning",  # objects named facts.name / meaning the same
    "s_exact", "s_meaning", "o_exact", "o_meaning",  # the same for facts.subject and facts.object
    "names",  # array<struct<name, n, name_keys>>: every name the image holds
    # (null for items whose generator asks nothing about attributes / relations)
    "xa_exact", "xa_meaning",  # objects "<facts.attribute> <facts.name>", exactly / up to synonyms
    "x_attrs",  # array<struct<attribute, attribute_keys>>: attributes of the objects named facts.name
    "r_exact", "r_meaning",  # relations subject -predicate-> object, exactly / up to synonyms
    "preds",  # array<struct<predicate, predicate_keys>>: predicates from facts.subject to facts.object
)


def _overlap(a: Column, b: Column) -> Column:
    return F.coalesce(F.arrays_overlap(a, b), F.lit(False))


def _objects(objs: Column, condition: Callable[[Column], Column]) -> Column:
    """How many objects of the image's (name, n) entries satisfy ``condition``."""
    return F.aggregate(F.filter(objs, condition), F.lit(0), lambda acc, o: acc + o["n"])


def _distinct_objects(attrs: Column, condition: Callable[[Column], Column]) -> Column:
    return F.size(F.array_distinct(F.transform(F.filter(attrs, condition), lambda a: a["object_id"])))


def _measure(f: Callable[[str], Column], needs: Callable[[str], Column]) -> Column:
    """The struct of ``MEASURES`` for one of the item's images (its ``objs``, ``attrs``, ``rels``
    columns, joined beside the item) and the item's facts ``f(field)`` with their meaning keys
    ``kx`` .. ``kp``.

    ``needs(table)`` says whether the row's generator asks about attributes or relations; the
    measures of a table it does not ask about are left null rather than computed for nothing.
    """
    objs = F.coalesce("objs", F.array())
    attrs = F.coalesce("attrs", F.array())
    rels = F.coalesce("rels", F.array())
    k = F.col
    exact = lambda field: lambda o: o["name"] == f(field)  # noqa: E731
    meaning = lambda keys: lambda o: _overlap(o["name_keys"], k(keys))  # noqa: E731
    named = lambda a: a["name"] == f("name")  # noqa: E731
    between = lambda r: (r["subject"] == f("subject")) & (r["object"] == f("object"))  # noqa: E731
    related, attributed = needs("relations"), needs("attributes")
    return F.struct(
        _objects(objs, exact("name")).alias("x_exact"), _objects(objs, meaning("kx")).alias("x_meaning"),
        F.when(related, _objects(objs, exact("subject"))).alias("s_exact"),
        F.when(related, _objects(objs, meaning("ks"))).alias("s_meaning"),
        F.when(related, _objects(objs, exact("object"))).alias("o_exact"),
        F.when(related, _objects(objs, meaning("ko"))).alias("o_meaning"),
        objs.alias("names"),
        F.when(attributed, _distinct_objects(attrs, lambda a: named(a) & (a["attribute"] == f("attribute"))))
        .alias("xa_exact"),
        F.when(attributed, _distinct_objects(
            attrs, lambda a: _overlap(a["name_keys"], k("kx")) & _overlap(a["attribute_keys"], k("ka"))))
        .alias("xa_meaning"),
        F.when(attributed, F.array_distinct(F.transform(F.filter(attrs, named), lambda a: F.struct(
            a["attribute"].alias("attribute"), a["attribute_keys"].alias("attribute_keys"))))).alias("x_attrs"),
        F.when(related, F.size(F.filter(rels, lambda r: between(r) & (r["predicate"] == f("predicate")))))
        .alias("r_exact"),
        F.when(related, F.size(F.filter(rels, lambda r: _overlap(r["subject_keys"], k("ks"))
                                        & _overlap(r["predicate_keys"], k("kp")) & _overlap(r["object_keys"], k("ko")))))
        .alias("r_meaning"),
        F.when(related, F.array_distinct(F.transform(F.filter(rels, between), lambda r: F.struct(
            r["predicate"].alias("predicate"), r["predicate_keys"].alias("predicate_keys"))))).alias("preds"),
        F.coalesce("vague", F.lit(False)).alias("vague"),
    )


def per_image(inputs: MultiInputs, items: DataFrame, needs: dict[str, tuple[str, ...]], k: int) -> DataFrame:
    """``items`` with ``m``: the measures of each item's images, in image order.

    ``items``: (instruction_id, generator, source, image_ids, facts, ...) with at most ``k`` images
    each; every column is carried along. ``needs`` maps a generator to the tables its question is
    about (its ``requires``). Image number i of every item is looked up with one join on
    ``image_ids[i]`` (k joins, no regrouping of exploded rows), a broadcast join where the scenes
    are small enough (``MultiInputs.broadcast_scenes``), so that the items are not shuffled for it.
    """
    wants = lambda table: F.col("generator").isin([g for g, r in needs.items() if table in r])  # noqa: E731
    words = inputs.names.select(F.col("name").alias("_w"), F.col("name_keys").alias("_k"))
    keyed = items
    for field, out in (("name", "kx"), ("subject", "ks"), ("object", "ko")):
        keyed = keyed.join(words, F.col(f"facts.{field}") == F.col("_w"), "left").drop("_w").withColumnRenamed("_k", out)
    keyed = keyed.join(inputs.attribute_words.select(F.col("attribute").alias("_a"), F.col("attribute_keys").alias("ka")),
                       F.col("facts.attribute") == F.col("_a"), "left").drop("_a")
    keyed = keyed.join(inputs.predicates.select(F.col("predicate").alias("_p"), F.col("predicate_keys").alias("kp"), "vague"),
                       F.col("facts.predicate") == F.col("_p"), "left").drop("_p")
    # one build side for every image number, so a broadcast of it is made once and reused
    scenes = inputs.scenes.select(F.col("source").alias("_source"), F.col("image_id").alias("_image"),
                                  "objs", "attrs", "rels")
    if inputs.broadcast_scenes:
        scenes = F.broadcast(scenes)
    fact = lambda field: F.col(f"facts.{field}")  # noqa: E731
    carried = items.columns + ["kx", "ks", "ko", "ka", "kp", "vague"]
    for i in range(k):
        # measured right after the join: the next join carries the measures, not the arrays
        on = (F.col("source") == F.col("_source")) & (F.col("image_ids")[i] == F.col("_image"))
        keyed = keyed.join(scenes, on, "left").select(*carried, _measure(fact, wants).alias(f"m{i}"))
        carried.append(f"m{i}")
    m = F.slice(F.array(*[F.col(f"m{i}") for i in range(k)]), 1, F.size("image_ids"))
    return keyed.select(*items.columns, m.alias("m"))


# ------------------------------------------------------------------ helpers for truth expressions
def only_index(m: Column, condition: Callable[[Column], Column]) -> Column:
    """The position of the one element satisfying ``condition``; null unless exactly one does."""
    indexed = F.transform(m, lambda s, i: F.struct(i.alias("i"), s.alias("s")))
    hits = F.filter(indexed, lambda e: condition(e["s"]))
    return F.when(F.size(hits) == 1, hits[0]["i"]).cast("int")


def count_where(m: Column, condition: Callable[[Column], Column]) -> Column:
    return F.size(F.filter(m, condition))


def every(m: Column, condition: Callable[[Column], Column]) -> Column:
    return F.forall(m, condition)


def total(values: Column) -> Column:
    return F.aggregate(values, F.lit(0), lambda acc, c: acc + c)


def words(structs: Column, field: str) -> Column:
    """The sorted words of an array of (word, keys) structs."""
    return F.array_sort(F.transform(structs, lambda s: s[field]))


def word_keys(structs: Column, keys: str) -> Column:
    """The sorted meaning keys of an array of (word, keys) structs."""
    return F.array_sort(F.array_distinct(F.flatten(F.transform(structs, lambda s: s[keys]))))


def commonality(m: Column, held: str, field: str, keys: str) -> Column:
    """struct(common, others, arguable) over the images' (word, keys) arrays ``m[i].<held>``.

    common: words every image holds exactly; others: words some image holds nothing meaning;
    arguable: some word is neither (held by all only up to synonyms).
    """
    union = F.array_distinct(F.flatten(F.transform(m, lambda s: s[held])))
    k = F.size(m)

    def exact_everywhere(w: Column) -> Column:
        return F.forall(m, lambda s: F.exists(s[held], lambda x: x[field] == w[field]))

    def meaning_count(w: Column) -> Column:
        return F.size(F.filter(m, lambda s: F.exists(s[held], lambda x: F.arrays_overlap(x[keys], w[keys]))))

    return F.struct(
        F.array_sort(F.array_distinct(F.transform(F.filter(union, exact_everywhere), lambda w: w[field]))).alias("common"),
        F.array_sort(F.array_distinct(F.transform(F.filter(union, lambda w: meaning_count(w) < k),
                                                  lambda w: w[field]))).alias("others"),
        F.exists(union, lambda w: ~exact_everywhere(w) & (meaning_count(w) == k)).alias("arguable"),
    )
