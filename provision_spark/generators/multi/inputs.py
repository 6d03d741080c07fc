"""The relations the multi-image generators are built from, derived once per run from the flat tables.

``MultiInputs`` holds the scene graphs as flat rows (objects with names, attributes and relations
joined to their objects' names) and the vocabulary as *meaning groups*: two words mean the same
thing when they share a group id (``vocab.same_meaning``), a word outside every group being its
own group. Turning synonymy into an equi-join key is what lets a distractor image be excluded by an
anti-join instead of a Python test per pair.
"""

from __future__ import annotations

import dataclasses
import functools

import yaml

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.generators import vocab
from provision_spark.generators.multi.sampling import Buckets, bucketed

#: Draw buckets do not depend on the run's seed (the item's bucket and its pick within it do), so
#: one bucketing serves every run and every generator.
BUCKET_SEED = 0
_SIGNATURE_KEYS = ("name_keys", "attribute_keys", "relation_keys")


@dataclasses.dataclass(frozen=True)
class MultiInputs:
    """Scene graphs as rows, each tagged with ``source`` ('human'/'model': one pool per source)."""

    objects: DataFrame  # source, image_id, object_id, name
    attributes: DataFrame  # source, image_id, object_id, name, attribute
    relations: DataFrame  # source, image_id, subject_id, subject, predicate, object_id, object
    names: DataFrame  # name, name_keys (meaning-group ids), countable
    attribute_words: DataFrame  # attribute, attribute_keys
    predicates: DataFrame  # predicate, predicate_keys, vague (too often true to deny)

    #: Relations several generators or the checker read; kept (memory, then disk) for one run.
    SHARED = ("presence", "signatures", "signed_presence", "pure_presence", "countable_presence",
              "attribute_presence", "pure_attribute_presence", "countable_attribute_presence", "triples",
              "unique_attribute_sets", "unique_pair_relations", "scenes")
    #: Pools cut into draw buckets, shared by the generators that draw from them.
    BUCKETS = ("image_buckets", "named_buckets")

    def persist(self) -> "MultiInputs":
        """For one run: the scene rows computed once, their plan cut (``localCheckpoint``), and the
        derived relations kept once first computed.

        Cutting the plan matters: fourteen generators and their checks each join these relations
        several times, and without it every query would carry (and re-analyse) the whole
        derivation from the Delta tables.
        """
        cut = dataclasses.replace(self, **{
            name: getattr(self, name).localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
            for name in ("objects", "attributes", "relations")
        })
        for name in cut.SHARED:
            getattr(cut, name).persist(StorageLevel.MEMORY_AND_DISK)
        for name in cut.BUCKETS:
            getattr(cut, name).persist()
        return cut

    def unpersist(self) -> None:
        for name in self.SHARED + self.BUCKETS:
            getattr(self, name).unpersist()

    # ------------------------------------------------------------------------------ vocabulary
    @property
    def name_groups(self) -> DataFrame:
        """(name, gid): one row per meaning group of each name."""
        return self.names.select("name", F.explode("name_keys").alias("gid"))

    @property
    def attribute_groups(self) -> DataFrame:
        return self.attribute_words.select("attribute", F.explode("attribute_keys").alias("gid"))

    @property
    def predicate_groups(self) -> DataFrame:
        return self.predicates.select("predicate", F.explode("predicate_keys").alias("gid"), "vague")

    @property
    def countable(self) -> DataFrame:
        """(name): names that may be counted (not sky, grass, water, ...)."""
        return self.names.filter("countable").select("name")

    def keys_of(self, kind: str) -> DataFrame:
        """(word, <kind>_keys): the meaning-group ids of each name, attribute or predicate."""
        table = {"name": self.names, "attribute": self.attribute_words, "predicate": self.predicates}[kind]
        return table.select(kind, f"{kind}_keys")

    # ---------------------------------------------------------------- derived relations (pools)
    @functools.cached_property
    def image_buckets(self) -> Buckets:
        """Every image with at least one object and its meaning keys, in draw buckets: "any image"."""
        return bucketed(self.signatures, [], _SIGNATURE_KEYS, BUCKET_SEED)

    @functools.cached_property
    def named_buckets(self) -> Buckets:
        """The images holding each name, with their meaning keys, in draw buckets per name."""
        return bucketed(self.signed_presence, ["name"], _SIGNATURE_KEYS, BUCKET_SEED)

    @functools.cached_property
    def signed_presence(self) -> DataFrame:
        """``presence`` rows with their image's signature: the pool for "an image holding <name>"."""
        return self.presence.join(self.signatures, ["source", "image_id"])

    @functools.cached_property
    def presence(self) -> DataFrame:
        """(source, image_id, name, n): how many objects of each name an image has."""
        return self.objects.groupBy("source", "image_id", "name").agg(F.count(F.lit(1)).cast("int").alias("n"))

    @functools.cached_property
    def pure_presence(self) -> DataFrame:
        """Presence rows whose name is the only one of its meaning groups in the image.

        "How many cars" or "the car" is ambiguous in an image that also holds a truck (same
        group): such images never serve as a counted or referenced image.
        """
        grouped = self.presence.join(self.name_groups, "name")
        names_per_group = grouped.groupBy("source", "image_id", "gid").agg(
            F.countDistinct("name").alias("_names")
        )
        clean = grouped.join(names_per_group, ["source", "image_id", "gid"]).groupBy(
            "source", "image_id", "name", "n"
        ).agg(F.max("_names").alias("_worst"))
        return clean.filter(F.col("_worst") == 1).drop("_worst")

    @functools.cached_property
    def countable_presence(self) -> DataFrame:
        """``pure_presence`` of countable names: the pool of the counting and most/fewest questions."""
        return self.pure_presence.join(self.countable, "name")

    @functools.cached_property
    def attribute_presence(self) -> DataFrame:
        """(source, image_id, name, attribute, n): objects of a name carrying an attribute."""
        return self.attributes.groupBy("source", "image_id", "name", "attribute").agg(
            F.countDistinct("object_id").cast("int").alias("n")
        )

    @functools.cached_property
    def pure_attribute_presence(self) -> DataFrame:
        """Attribute presence rows where every object meaning "<attribute> <name>" is exactly that.

        "How many white shirts" is ambiguous when the image also has an ivory shirt or a white
        jersey; here the objects matching any of the pair's meaning keys are counted and must be
        the ones matching it exactly.
        """
        keyed = (
            self.attributes.join(self.name_groups, "name")
            .join(self.attribute_groups.withColumnRenamed("gid", "agid"), "attribute")
            .select("source", "image_id", "object_id", "name", "attribute", F.concat_ws("|", "gid", "agid").alias("key"))
        )
        matches = keyed.join(
            keyed.select("source", "image_id", "key", F.col("object_id").alias("match")), ["source", "image_id", "key"]
        ).groupBy("source", "image_id", "name", "attribute").agg(F.countDistinct("match").cast("int").alias("_m"))
        return self.attribute_presence.join(matches, ["source", "image_id", "name", "attribute"]).filter(
            F.col("n") == F.col("_m")
        ).drop("_m")

    @functools.cached_property
    def countable_attribute_presence(self) -> DataFrame:
        """``pure_attribute_presence`` of countable names."""
        return self.pure_attribute_presence.join(self.countable, "name")

    @functools.cached_property
    def triples(self) -> DataFrame:
        """(source, image_id, subject, predicate, object): distinct relations by name, self-pairs left out."""
        return self.relations.filter(F.col("subject") != F.col("object")).select(
            "source", "image_id", "subject", "predicate", "object"
        ).distinct()

    @functools.cached_property
    def signatures(self) -> DataFrame:
        """(source, image_id, names, name_keys, attribute_keys, relation_keys): what an image holds.

        ``names`` are (name, name_keys) structs, the others meaning keys.

        Keys are meaning-group ids ("#3", "person") and their combinations ("#3|red",
        "#3|#17|horse"); a candidate image is a valid distractor when none of its keys is among the
        item's (``arrays_overlap``), i.e. it holds nothing that means what the question asks about.
        """
        named = self.objects.select("source", "image_id", "name").distinct().join(self.keys_of("name"), "name")
        name_keys = named.groupBy("source", "image_id").agg(
            F.array_distinct(F.flatten(F.collect_list("name_keys"))).alias("name_keys"),
            F.array_sort(F.collect_list(F.struct("name", "name_keys"))).alias("names"),
        )
        attribute_keys = (
            self.attributes.select("source", "image_id", "name", "attribute").distinct()
            .join(self.name_groups, "name")
            .join(self.attribute_groups.withColumnRenamed("gid", "agid"), "attribute")
            .groupBy("source", "image_id")
            .agg(F.collect_set(F.concat_ws("|", "gid", "agid")).alias("attribute_keys"))
        )
        relation_keys = (
            self.relations.select("source", "image_id", "subject", "predicate", "object").distinct()
            .join(self.name_groups.select(F.col("name").alias("subject"), F.col("gid").alias("s")), "subject")
            .join(self.name_groups.select(F.col("name").alias("object"), F.col("gid").alias("o")), "object")
            .join(self.predicate_groups.select("predicate", F.col("gid").alias("p")), "predicate")
            .groupBy("source", "image_id")
            .agg(F.collect_set(F.concat_ws("|", "s", "p", "o")).alias("relation_keys"))
        )
        empty = F.array().cast("array<string>")
        return (
            name_keys.join(attribute_keys, ["source", "image_id"], "left")
            .join(relation_keys, ["source", "image_id"], "left")
            .select("source", "image_id", "names", *[F.coalesce(c, empty).alias(c) for c in
                                                     ("name_keys", "attribute_keys", "relation_keys")])
        )

    @functools.cached_property
    def unique_attribute_sets(self) -> DataFrame:
        """(source, image_id, name, attrs, agids, keyed): a name that is the image's only one of its kind,
        with its attributes.

        ``agids`` (sorted meaning groups) tells two attribute sets apart up to synonyms; ``keyed``
        holds (attribute, attribute_keys) structs.
        """
        single = self.pure_presence.filter(F.col("n") == 1).select("source", "image_id", "name")
        rows = self.attributes.join(single, ["source", "image_id", "name"]).join(self.keys_of("attribute"), "attribute")
        return rows.groupBy("source", "image_id", "name").agg(
            F.array_sort(F.collect_set("attribute")).alias("attrs"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("attribute_keys")))).alias("agids"),
            F.array_sort(F.collect_set(F.struct("attribute", "attribute_keys"))).alias("keyed"),
        )

    @functools.cached_property
    def unique_pair_relations(self) -> DataFrame:
        """(source, image_id, subject, object, preds, pgids): every relation between two unique objects."""
        single = self.pure_presence.filter(F.col("n") == 1).select("source", "image_id", "name")
        rows = (
            self.triples.join(single.withColumnRenamed("name", "subject"), ["source", "image_id", "subject"])
            .join(single.withColumnRenamed("name", "object"), ["source", "image_id", "object"])
            .join(self.predicate_groups.select("predicate", "gid"), "predicate")
        )
        return rows.groupBy("source", "image_id", "subject", "object").agg(
            F.array_sort(F.collect_set("predicate")).alias("preds"),
            F.array_sort(F.collect_set("gid")).alias("pgids"),
        )

    @functools.cached_property
    def scenes(self) -> DataFrame:
        """(source, image_id, objs, attrs, rels): each image's whole content as arrays, for the checker.

        Straight from the flat rows (no pools, no draws): ``objs`` (name, n, name_keys), ``attrs``
        (object_id, name, attribute, name_keys, attribute_keys), ``rels`` (subject, predicate,
        object with their keys). One row per image, so re-counting an item's images is one join.
        """
        image = ["source", "image_id"]
        name_keys = self.keys_of("name")
        objs = self.objects.join(name_keys, "name").groupBy(*image, "name", "name_keys").agg(
            F.count(F.lit(1)).cast("int").alias("n")
        ).groupBy(*image).agg(F.collect_list(F.struct("name", "n", "name_keys")).alias("objs"))
        attrs = self.attributes.join(name_keys, "name").join(self.keys_of("attribute"), "attribute").groupBy(*image).agg(
            F.collect_list(F.struct("object_id", "name", "attribute", "name_keys", "attribute_keys")).alias("attrs")
        )
        rels = (
            self.relations
            .join(name_keys.toDF("subject", "subject_keys"), "subject")
            .join(name_keys.toDF("object", "object_keys"), "object")
            .join(self.keys_of("predicate"), "predicate")
            .groupBy(*image)
            .agg(F.collect_list(F.struct("subject", "predicate", "object", "subject_keys", "predicate_keys",
                                         "object_keys")).alias("rels"))
        )
        return objs.join(attrs, image, "left").join(rels, image, "left")


def load_inputs(
    spark: SparkSession,
    objects: DataFrame,
    attributes: DataFrame,
    relations: DataFrame,
    sources: list[str] | None = None,
) -> MultiInputs:
    """``MultiInputs`` from rows shaped like the ``objects``, ``attributes`` and ``relations`` tables.

    Per (image, source) the scene graph is the objects of one model version (the greatest, so a
    re-detection with a newer model replaces the older one); attributes and relations follow
    their objects.
    """
    if sources:
        objects = objects.filter(F.col("source").isin(sources))
    latest = objects.groupBy("image_id", "source").agg(F.max("model_version").alias("model_version"))
    objs = objects.join(latest, ["image_id", "source", "model_version"]).select(
        "source", "image_id", "object_id", "name"
    )
    attrs = attributes.select("image_id", "object_id", "attribute").join(objs, ["image_id", "object_id"]).select(
        "source", "image_id", "object_id", "name", "attribute"
    ).distinct()
    ends = objs.select("image_id", "object_id", "name")
    rels = (
        relations.select("image_id", "subject_id", "predicate", "object_id")
        .join(objs.select("source", "image_id", F.col("object_id").alias("subject_id"), F.col("name").alias("subject")),
              ["image_id", "subject_id"])
        .join(ends.withColumnRenamed("name", "object"), ["image_id", "object_id"])
        .select("source", "image_id", "subject_id", "subject", "predicate", "object_id", "object")
        .distinct()
    )
    names = [r[0] for r in objs.select("name").distinct().collect()]
    attribute_words = [r[0] for r in attrs.select("attribute").distinct().collect()]
    predicates = [r[0] for r in rels.select("predicate").distinct().collect()]
    name_keys = meaning_groups("object", names)
    attribute_keys = meaning_groups("attribute", attribute_words)
    predicate_keys = meaning_groups("predicate", predicates)
    return MultiInputs(
        objects=objs,
        attributes=attrs,
        relations=rels,
        names=_vocabulary(spark, [(n, name_keys[n], not vocab.is_uncountable(n)) for n in names],
                          "name string, name_keys array<string>, countable boolean"),
        attribute_words=_vocabulary(spark, [(a, attribute_keys[a]) for a in attribute_words],
                                    "attribute string, attribute_keys array<string>"),
        predicates=_vocabulary(spark, [(p, predicate_keys[p], vocab.is_vague_predicate(p)) for p in predicates],
                               "predicate string, predicate_keys array<string>, vague boolean"),
    )


def meaning_groups(kind: str, words: list[str]) -> dict[str, list[str]]:
    """word -> its meaning-group ids: the synonym groups of ``synonyms.yaml`` holding it, else the word.

    ``vocab.same_meaning(kind, a, b)`` holds exactly when the two lists intersect.
    """
    groups = _synonym_groups(kind)
    out: dict[str, list[str]] = {}
    for word in words:
        key = vocab.norm(word)
        out[word] = [f"#{i}" for i, members in enumerate(groups) if key in members] or [key]
    return out


@functools.cache
def _synonym_groups(kind: str) -> tuple[frozenset[str], ...]:
    raw = yaml.safe_load((vocab.VOCAB_DIR / "synonyms.yaml").read_text()) or {}
    return tuple(frozenset(vocab.norm(w) for w in group) for group in raw.get(_PLURAL[kind], []))


_PLURAL = {"object": "objects", "attribute": "attributes", "predicate": "predicates"}


def _vocabulary(spark: SparkSession, rows: list[tuple], ddl: str) -> DataFrame:
    """A small word table, broadcast to every join (built on the driver from the distinct words)."""
    return F.broadcast(spark.createDataFrame(rows, ddl))
