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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import yaml
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from provision_spark.generators import vocab
from provision_spark.generators.canonical import canonical_name, canonical_predicate
from provision_spark.generators.multi.sampling import Buckets, bucketed

#: Draw buckets do not depend on the run's seed (the item's bucket and its pick within it do), so
#: one bucketing serves every run and every generator.
BUCKET_SEED = 0
_SIGNATURE_KEYS = ("name_keys", "attribute_keys", "relation_keys")
#: Spark setting (bytes) under which the checker broadcasts the per-image scene arrays.
BROADCAST_SCENES_CONF = "spark.provision.multi.broadcastScenesBytes"
BROADCAST_SCENES_BYTES = 256 * 2**20
#: Bytes per scene row and per entry of its arrays (estimate for ``scenes_bytes``).
SCENE_BYTES = {"images": 64, "objs": 96, "attrs": 160, "rels": 224}


@dataclasses.dataclass(frozen=True)
class MultiInputs:
    """Scene graphs as rows, each tagged with ``source`` ('human'/'model': one pool per source)."""

    objects: DataFrame  # source, image_id, object_id, name
    attributes: DataFrame  # source, image_id, object_id, name, attribute
    relations: DataFrame  # source, image_id, subject_id, subject, predicate, object_id, object
    names: DataFrame  # name, name_keys (meaning-group ids), countable
    attribute_words: DataFrame  # attribute, attribute_keys
    predicates: DataFrame  # predicate, predicate_keys, vague (too often true to deny)
    name_key_count: int  # the most meaning groups one name belongs to (at least 1)

    #: Relations several generators or the checker read; kept (memory, then disk) for one run. The
    #: images with their signatures (``_signed``) are kept rather than the pools made from them
    #: (``signatures``, ``signed_presence``): repeated once per name an image holds, its arrays cost
    #: more to keep than to explode again.
    SHARED = (
        "presence",
        "_signed",
        "pure_presence",
        "countable_presence",
        "attribute_presence",
        "pure_attribute_presence",
        "countable_attribute_presence",
        "triples",
        "unique_attribute_sets",
        "unique_pair_relations",
    )
    #: Pools cut into draw buckets, shared by the generators that draw from them.
    BUCKETS = ("image_buckets", "attributed_buckets", "related_buckets")

    def persist(self) -> MultiInputs:
        """Keep the derived relations (memory, then disk) once first computed, for one run: fourteen
        generators and their checks read them several times. (The flat rows are kept from the start.)"""
        for name in self.SHARED:
            getattr(self, name).persist(StorageLevel.MEMORY_AND_DISK)
        for name in self.BUCKETS:
            getattr(self, name).persist()
        return self

    def derive(self) -> MultiInputs:
        """Make every derived relation now (as a plan; ``scenes`` is computed): generators built in
        threads then share them, where a cached property first read by two threads could be made twice."""
        for name in ("scenes", "signatures", "signed_presence") + self.SHARED + self.BUCKETS:
            getattr(self, name)
        return self

    def unpersist(self) -> None:
        """Release what this run kept (derived relations never asked for were never computed)."""
        for rows in (self.objects, self.attributes, self.relations, self.names, self.attribute_words, self.predicates):
            release(rows)
        if "scenes" in self.__dict__:
            release(self.scenes)
        for name in self.SHARED + self.BUCKETS:
            if name in self.__dict__:  # a cached property computed this run
                self.__dict__[name].unpersist()

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
    # Each pool's candidates carry only the keys its draws test: a draw reads every candidate of a
    # bucket, and the relation keys are most of an image's signature.
    @functools.cached_property
    def image_buckets(self) -> Buckets:
        """Every image with at least one object, with its names' meaning keys, in draw buckets: "any image"."""
        return bucketed(self.signatures, [], ["name_keys"], BUCKET_SEED)

    @functools.cached_property
    def attributed_buckets(self) -> Buckets:
        """The images holding each name, with their (name, attribute) meaning keys, in draw buckets per name."""
        return bucketed(self.signed_presence, ["name"], ["attribute_keys"], BUCKET_SEED)

    @functools.cached_property
    def related_buckets(self) -> Buckets:
        """The images holding each name, with their relation and name meaning keys, in draw buckets per name."""
        return bucketed(self.signed_presence, ["name"], ["relation_keys", "name_keys"], BUCKET_SEED)

    @functools.cached_property
    def signed_presence(self) -> DataFrame:
        """``presence`` rows with their image's signature: the pool for "an image holding <name>"."""
        return self._signed.select(
            "source", "image_id", "names", "name_list", *_SIGNATURE_KEYS, F.explode("objs").alias("o")
        ).select("source", "image_id", "o.name", "o.n", "names", "name_list", *_SIGNATURE_KEYS)

    @functools.cached_property
    def presence(self) -> DataFrame:
        """(source, image_id, name, n): how many objects of each name an image has."""
        return self.scenes.select("source", "image_id", F.explode("objs").alias("o")).select(
            "source", "image_id", "o.name", "o.n"
        )

    @functools.cached_property
    def pure_presence(self) -> DataFrame:
        """Presence rows whose name is the only one of its meaning groups in the image.

        "How many cars" or "the car" is ambiguous in an image that also holds a truck (same
        group): such images never serve as a counted or referenced image.
        """
        return self.scenes.select(
            "source", "image_id", F.explode(F.filter("objs", _alone_in_meaning)).alias("o")
        ).select("source", "image_id", "o.name", "o.n")

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
            .select(
                "source", "image_id", "object_id", "name", "attribute", F.concat_ws("|", "gid", "agid").alias("key")
            )
        )
        matches = (
            keyed.join(
                keyed.select("source", "image_id", "key", F.col("object_id").alias("match")),
                ["source", "image_id", "key"],
            )
            .groupBy("source", "image_id", "name", "attribute")
            .agg(F.countDistinct("match").cast("int").alias("_m"))
        )
        return (
            self.attribute_presence.join(matches, ["source", "image_id", "name", "attribute"])
            .filter(F.col("n") == F.col("_m"))
            .drop("_m")
        )

    @functools.cached_property
    def countable_attribute_presence(self) -> DataFrame:
        """``pure_attribute_presence`` of countable names."""
        return self.pure_attribute_presence.join(self.countable, "name")

    @functools.cached_property
    def triples(self) -> DataFrame:
        """(source, image_id, subject, predicate, object): distinct relations by name, self-pairs left out."""
        named = F.transform(
            F.filter(F.coalesce("rels", F.array()), lambda r: r["subject"] != r["object"]),
            lambda r: F.struct(
                r["subject"].alias("subject"), r["predicate"].alias("predicate"), r["object"].alias("object")
            ),
        )
        return self.scenes.select("source", "image_id", F.explode(F.array_distinct(named)).alias("t")).select(
            "source", "image_id", "t.subject", "t.predicate", "t.object"
        )

    @functools.cached_property
    def signatures(self) -> DataFrame:
        """(source, image_id, names, name_list, name_keys, attribute_keys, relation_keys): what an image holds.

        ``names`` are (name, name_keys) structs, ``name_list`` the names alone, the others meaning keys.

        Keys are meaning-group ids ("#3", "person") and their combinations ("#3|red",
        "#3|#17|horse"); a candidate image is a valid distractor when none of its keys is among the
        item's (``arrays_overlap``), i.e. it holds nothing that means what the question asks about.
        """
        return self._signed.drop("objs")

    @functools.cached_property
    def _signed(self) -> DataFrame:
        """``scenes`` rows with their signature columns (and ``objs``, for ``signed_presence``)."""
        keys = lambda structs, fields: F.array_distinct(
            F.flatten(
                F.transform(  # noqa: E731
                    F.coalesce(structs, F.array()), lambda x: combine(*[x[f] for f in fields])
                )
            )
        )
        held = held_names(F.col("objs"))
        return self.scenes.select(
            "source",
            "image_id",
            "objs",
            held["names"].alias("names"),
            held["name_list"].alias("name_list"),
            held["name_gids"].alias("name_keys"),
            keys(F.col("attrs"), ["name_keys", "attribute_keys"]).alias("attribute_keys"),
            keys(F.col("rels"), ["subject_keys", "predicate_keys", "object_keys"]).alias("relation_keys"),
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
        """(source, image_id, subject, object, preds, pgids): every relation between two unique objects
        (each the only object of its meaning in the image)."""
        single = F.filter("objs", lambda o: (o["n"] == 1) & _alone_in_meaning(o))["name"]
        between = (
            lambda r: (r["subject"] != r["object"])
            & F.array_contains("_single", r["subject"])
            & F.array_contains(  # noqa: E731
                "_single", r["object"]
            )
        )
        rows = self.scenes.select(
            "source", "image_id", single.alias("_single"), F.coalesce("rels", F.array()).alias("_rels")
        )
        rows = rows.select("source", "image_id", F.filter("_rels", between).alias("_pairs"))
        pairs = F.array_distinct(
            F.transform("_pairs", lambda r: F.struct(r["subject"].alias("subject"), r["object"].alias("object")))
        )
        same_pair = lambda r: (r["subject"] == F.col("p.subject")) & (r["object"] == F.col("p.object"))  # noqa: E731
        return rows.select("source", "image_id", "_pairs", F.explode(pairs).alias("p")).select(
            "source",
            "image_id",
            "p.subject",
            "p.object",
            F.array_sort(F.array_distinct(F.filter("_pairs", same_pair)["predicate"])).alias("preds"),
            F.array_sort(F.array_distinct(F.flatten(F.filter("_pairs", same_pair)["predicate_keys"]))).alias("pgids"),
        )

    @functools.cached_property
    def scenes(self) -> DataFrame:
        """(source, image_id, objs, attrs, rels): each image's whole content as arrays, one row per image.

        Straight from the flat rows: ``objs`` (name, n, name_keys), ``attrs`` (object_id, name,
        attribute, name_keys, attribute_keys), ``rels`` (subject, predicate, object with their keys).
        The checker re-counts items against these rows; the name and relation pools are cut from
        them too, each image's arrays read in place (no further shuffles).
        """
        image = ["source", "image_id"]
        name_keys = self.keys_of("name")
        # counted per name, then gathered per image: both groupings over one shuffle by image
        objs = (
            self.objects.repartition(*image)
            .groupBy(*image, "name")
            .agg(F.count(F.lit(1)).cast("int").alias("n"))
            .join(name_keys, "name")
            .groupBy(*image)
            .agg(F.sort_array(F.collect_list(F.struct("name", "n", "name_keys"))).alias("objs"))
        )
        attrs = (
            self.attributes.join(name_keys, "name")
            .join(self.keys_of("attribute"), "attribute")
            .groupBy(*image)
            .agg(
                F.collect_list(F.struct("object_id", "name", "attribute", "name_keys", "attribute_keys")).alias("attrs")
            )
        )
        rels = (
            self.relations.join(name_keys.toDF("subject", "subject_keys"), "subject")
            .join(name_keys.toDF("object", "object_keys"), "object")
            .join(self.keys_of("predicate"), "predicate")
            .groupBy(*image)
            .agg(
                F.collect_list(
                    F.struct("subject", "predicate", "object", "subject_keys", "predicate_keys", "object_keys")
                ).alias("rels")
            )
        )
        # computed now, once: every pool and the checker read it, and a lazily cached copy could be
        # computed again by stages that start before the first has filled the cache
        return _computed_once(objs.join(attrs, image, "left").join(rels, image, "left"))

    @functools.cached_property
    def broadcast_scenes(self) -> bool:
        """Whether ``scenes`` is small enough to broadcast (estimated at most
        ``spark.provision.multi.broadcastScenesBytes``, default 256 MiB): the checker then looks each
        item's images up where the item is, instead of shuffling a million items once per image."""
        limit = int(self.scenes.sparkSession.conf.get(BROADCAST_SCENES_CONF, str(BROADCAST_SCENES_BYTES)))
        return self.scenes_bytes <= limit

    @functools.cached_property
    def scenes_bytes(self) -> int:
        """A rough size of ``scenes`` as Spark holds it (``SCENE_BYTES`` per row and array entry, from
        Spark's row layout): what a broadcast of it costs each executor. One pass over the kept rows."""
        size = lambda c: F.when(F.col(c).isNotNull(), F.size(c)).otherwise(0)  # noqa: E731
        row = self.scenes.agg(
            F.count(F.lit(1)).alias("images"),
            F.sum(size("objs")).alias("objs"),
            F.sum(size("attrs")).alias("attrs"),
            F.sum(size("rels")).alias("rels"),
        ).first()
        return sum((row[field] or 0) * SCENE_BYTES[field] for field in SCENE_BYTES)


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
    newest = F.max("model_version").over(Window.partitionBy("image_id", "source"))
    raw = _computed_once(
        objects.withColumn("_newest", newest)
        .filter(F.col("model_version") == F.col("_newest"))
        .select("source", "image_id", "object_id", "name")
    )
    # canonical names (generators.canonical): objects with unusable names leave, with their relations
    objs = _computed_once(
        raw.join(_canonical(spark, raw, "name", canonical_name), "name")
        .drop("name")
        .withColumnRenamed("canonical", "name")
    )
    release(raw)
    relations = (
        relations.join(_canonical(spark, relations, "predicate", canonical_predicate), "predicate")
        .drop("predicate")
        .withColumnRenamed("canonical", "predicate")
    )
    ends = objs.select("image_id", "object_id", "name")
    # attributes and relations side by side: each is a few small jobs that leave a core idle alone
    with ThreadPoolExecutor(max_workers=2) as pool:
        attrs_made = pool.submit(
            _computed_once,
            (
                attributes.select("image_id", "object_id", "attribute")
                .join(objs, ["image_id", "object_id"])
                .select("source", "image_id", "object_id", "name", "attribute")
                .distinct()
            ),
        )
        rels_made = pool.submit(
            _computed_once,
            (
                relations.select("image_id", "subject_id", "predicate", "object_id")
                .join(
                    objs.select(
                        "source", "image_id", F.col("object_id").alias("subject_id"), F.col("name").alias("subject")
                    ),
                    ["image_id", "subject_id"],
                )
                .join(ends.withColumnRenamed("name", "object"), ["image_id", "object_id"])
                .select("source", "image_id", "subject_id", "subject", "predicate", "object_id", "object")
                .distinct()
            ),
        )
        attrs, rels = attrs_made.result(), rels_made.result()
    words = (
        objs.select(F.lit("object").alias("kind"), F.col("name").alias("word"))
        .unionByName(attrs.select(F.lit("attribute").alias("kind"), F.col("attribute").alias("word")))
        .unionByName(rels.select(F.lit("predicate").alias("kind"), F.col("predicate").alias("word")))
        .distinct()
        .collect()
    )
    names, attribute_words, predicates = (
        sorted(w for k, w in words if k == kind) for kind in ("object", "attribute", "predicate")
    )
    name_keys = meaning_groups("object", names)
    attribute_keys = meaning_groups("attribute", attribute_words)
    predicate_keys = meaning_groups("predicate", predicates)
    return MultiInputs(
        objects=objs,
        attributes=attrs,
        relations=rels,
        names=_vocabulary(
            spark,
            [(n, name_keys[n], not vocab.is_uncountable(n)) for n in names],
            "name string, name_keys array<string>, countable boolean",
        ),
        attribute_words=_vocabulary(
            spark, [(a, attribute_keys[a]) for a in attribute_words], "attribute string, attribute_keys array<string>"
        ),
        predicates=_vocabulary(
            spark,
            [(p, predicate_keys[p], vocab.is_vague_predicate(p)) for p in predicates],
            "predicate string, predicate_keys array<string>, vague boolean",
        ),
        name_key_count=max((len(keys) for keys in name_keys.values()), default=1),
    )


def held_names(objs: Column) -> dict[str, Column]:
    """What an image's ``objs`` name: ``names`` ((name, name_keys) structs), ``name_list`` (the names
    alone) and ``name_gids`` (all their meaning keys). One definition for the generators' image
    signatures and the checker's per-image lookups."""
    return {
        "names": F.transform(objs, lambda o: F.struct(o["name"].alias("name"), o["name_keys"].alias("name_keys"))),
        "name_list": objs["name"],
        "name_gids": F.array_distinct(F.flatten(objs["name_keys"])),
    }


def _alone_in_meaning(o: Column) -> Column:
    """Whether ``o`` (an entry of a scene's ``objs``) is the only name of each of its meaning groups there."""
    return F.forall(
        o["name_keys"], lambda g: F.size(F.filter("objs", lambda y: F.array_contains(y["name_keys"], g))) == 1
    )


def combine(*arrays: Column) -> Column:
    """All "x|y|..." combinations of the keys in ``arrays``: the keys of a (name, attribute) or a triple."""
    out = arrays[0]
    for other in arrays[1:]:
        out = F.flatten(F.transform(out, _joined_with(other)))
    return out


def _joined_with(other: Column) -> Callable[[Column], Column]:
    return lambda x: F.transform(other, lambda y: F.concat_ws("|", x, y))


def _computed_once(df: DataFrame) -> DataFrame:
    """``df`` computed now and kept (memory, then disk) with its plan cut: every generator and the
    checker start from these rows, not from the Delta tables and the joins that made them."""
    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)


def release(df: DataFrame) -> None:
    """Free the rows ``_computed_once`` kept (or ``df``'s cached rows). A local checkpoint is not in
    Spark's cache, so ``unpersist`` alone would leave its blocks until the DataFrame is garbage
    collected: the checkpointed RDD itself is unpersisted (where the session has a JVM to ask)."""
    plan = df._jdf.queryExecution().analyzed() if hasattr(df, "_jdf") else None
    if plan is not None and plan.getClass().getSimpleName() == "ResolvedHint":  # a broadcast word table
        plan = plan.child()
    if plan is not None and plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:
        df.unpersist()


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


def _canonical(spark: SparkSession, rows: DataFrame, column: str, canonical: Callable[[str], str | None]) -> DataFrame:
    """(``column``, canonical): the usable distinct values of ``column`` and their canonical forms."""
    values = [r[0] for r in rows.select(column).distinct().collect() if r[0] is not None]
    pairs = [(v, c) for v in values if (c := canonical(v)) is not None]
    return _vocabulary(spark, pairs, f"{column} string, canonical string")


def _vocabulary(spark: SparkSession, rows: list[tuple], ddl: str) -> DataFrame:
    """A small word table, broadcast to every join (built on the driver from the distinct words).

    Kept in the JVM: a table made from Python rows is otherwise re-read through a Python worker by
    every query that broadcasts it, which costs each generator's plan a second or more of latency.
    """
    return F.broadcast(_computed_once(spark.createDataFrame(rows, ddl)))
