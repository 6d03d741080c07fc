"""The checker's side: what each image of a stored item holds, re-counted from the flat rows.

Generation picks images through pools, signatures and hash-bucket draws; the checker ignores all of
that. It joins every stored item's image ids back to *all* objects, attributes and relations of
those images, once for all generators, and counts object by object what the item's question is
about (exactly, and up to synonyms). Each generator's ``truth`` is then an expression over these
per-image measures (``m``, in image order). The two paths share only the vocabulary.
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
    "names",  # array<struct<name, name_keys>>: every name the image holds
    "xa_exact", "xa_meaning",  # objects "<facts.attribute> <facts.name>", exactly / up to synonyms
    "x_attrs",  # array<struct<attribute, attribute_keys>>: attributes of the objects named facts.name
    "r_exact", "r_meaning",  # relations subject -predicate-> object, exactly / up to synonyms
    "preds",  # array<struct<predicate, predicate_keys>>: predicates from facts.subject to facts.object
)


def _overlap(a: str, b: str) -> Column:
    return F.coalesce(F.arrays_overlap(F.col(a), F.col(b)), F.lit(False))


def _count(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("int")


def per_image(inputs: MultiInputs, items: DataFrame, needs: dict[str, tuple[str, ...]]) -> DataFrame:
    """(instruction_id, generator, facts, m): the measures of each item's images, in image order.

    ``items``: (instruction_id, generator, source, image_ids, facts). ``needs`` maps a generator to
    the tables its question is about (its ``requires``): attributes and relations are joined only
    for the items that need them.
    """
    words = inputs.names.select(F.col("name").alias("_w"), F.col("name_keys").alias("_k"))
    at = items.select("instruction_id", "generator", "source", "facts",
                      F.posexplode("image_ids").alias("pos", "image_id"))
    for field, out in (("name", "kx"), ("subject", "ks"), ("object", "ko")):
        at = at.join(words, F.col(f"facts.{field}") == F.col("_w"), "left").drop("_w").withColumnRenamed("_k", out)
    at = at.join(inputs.attribute_words.withColumnRenamed("attribute_keys", "ka"),
                 F.col("facts.attribute") == F.col("attribute"), "left").drop("attribute")
    at = at.join(inputs.predicates.withColumnRenamed("predicate_keys", "kp"),
                 F.col("facts.predicate") == F.col("predicate"), "left").drop("predicate")

    key = ["instruction_id", "pos"]
    objects = at.join(inputs.objects.join(inputs.keys_of("name"), "name"), ["source", "image_id"], "left")
    f = lambda field: F.col(f"facts.{field}")  # noqa: E731
    object_measures = objects.groupBy(*key).agg(
        _count(F.col("name") == f("name")).alias("x_exact"), _count(_overlap("name_keys", "kx")).alias("x_meaning"),
        _count(F.col("name") == f("subject")).alias("s_exact"), _count(_overlap("name_keys", "ks")).alias("s_meaning"),
        _count(F.col("name") == f("object")).alias("o_exact"), _count(_overlap("name_keys", "ko")).alias("o_meaning"),
        F.collect_set(F.struct("name", "name_keys")).alias("names"),
    )

    wants = lambda table: F.col("generator").isin([g for g, r in needs.items() if table in r])  # noqa: E731
    attributes = at.filter(wants("attributes")).join(
        inputs.attributes.join(inputs.keys_of("name"), "name").join(inputs.keys_of("attribute"), "attribute"),
        ["source", "image_id"],
    )
    exact = (F.col("name") == f("name")) & (F.col("attribute") == f("attribute"))
    meaning = _overlap("name_keys", "kx") & _overlap("attribute_keys", "ka")
    attribute_measures = attributes.groupBy(*key).agg(
        F.countDistinct(F.when(exact, F.col("object_id"))).cast("int").alias("xa_exact"),
        F.countDistinct(F.when(meaning, F.col("object_id"))).cast("int").alias("xa_meaning"),
        F.collect_set(F.when(F.col("name") == f("name"), F.struct("attribute", "attribute_keys"))).alias("x_attrs"),
    )

    relations = at.filter(wants("relations")).join(
        inputs.relations
        .join(inputs.keys_of("name").toDF("subject", "subject_keys"), "subject")
        .join(inputs.keys_of("name").toDF("object", "object_keys"), "object")
        .join(inputs.keys_of("predicate"), "predicate"),
        ["source", "image_id"],
    )
    between = (F.col("subject") == f("subject")) & (F.col("object") == f("object"))
    relation_measures = relations.groupBy(*key).agg(
        _count(between & (F.col("predicate") == f("predicate"))).alias("r_exact"),
        _count(_overlap("subject_keys", "ks") & _overlap("predicate_keys", "kp") & _overlap("object_keys", "ko"))
        .alias("r_meaning"),
        F.collect_set(F.when(between, F.struct("predicate", "predicate_keys"))).alias("preds"),
    )

    zero, none = F.lit(0), F.array()
    measured = (
        at.select(*key, "generator", "facts", "vague")
        .join(object_measures, key, "left").join(attribute_measures, key, "left").join(relation_measures, key, "left")
    )
    filled = {m: F.coalesce(F.col(m), none if m in ("names", "x_attrs", "preds") else zero) for m in MEASURES}
    return measured.groupBy("instruction_id", "generator", "facts").agg(
        F.transform(
            F.array_sort(F.collect_list(F.struct("pos", *[filled[m].alias(m) for m in MEASURES],
                                                 F.coalesce("vague", F.lit(False)).alias("vague")))),
            lambda s: s.dropFields("pos"),
        ).alias("m")
    )


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
