"""Visual Genome's raw JSON (``image_data``, ``objects``, ``attributes``, ``relationships``), any subset.

VG's quirks handled here: objects carry ``name`` or ``names``; ``merged_object_ids`` are aliases that
other records may still use; many objects (and images) appear only inside ``relationships.json``
or ``attributes.json``; some records lack ``image_id``; without ``image_data.json`` image sizes are
unknown. The files are read by Spark with explicit schemas (one row per image record), never
loaded into Python lists.
"""

from __future__ import annotations

import glob
import os

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.ingest.common import Candidates, box_from_xywh, clean_text, image_id, lineage
from provision_spark.lakehouse.quarantine import to_quarantine
from provision_spark.lakehouse.tables import one_row_per_key

MODEL_NAME = "visual_genome_json"
FILES = ("image_data", "objects", "attributes", "relationships")

_OBJECT = (
    "struct<object_id:bigint,x:double,y:double,w:double,h:double,name:string,names:array<string>,"
    "synsets:array<string>,merged_object_ids:array<bigint>,attributes:array<string>>"
)
RAW_SCHEMAS = {
    "image_data": "image_id bigint, id bigint, width int, height int, url string",
    "objects": f"image_id bigint, objects array<{_OBJECT}>",
    "attributes": f"image_id bigint, attributes array<{_OBJECT}>",
    "relationships": (
        f"image_id bigint, relationships array<struct<relationship_id:bigint,predicate:string,"
        f"synsets:array<string>,subject:{_OBJECT},object:{_OBJECT}>>"
    ),
}


def read_raw(spark: SparkSession, src: str) -> dict[str, DataFrame]:
    """The VG files present under ``src``, one row per top-level record, with the file name.

    ``src`` may be a glob (``drop/shard_*``): a large corpus split into shards is read in parallel.
    """
    present = {}
    for name in FILES:
        path = os.path.join(src, f"{name}.json")
        if glob.glob(path):
            present[name] = (
                spark.read.schema(RAW_SCHEMAS[name])
                .option("multiLine", True)
                .json(path)
                .withColumn("_file", F.lit(f"{name}.json"))
            )
    if not present:
        raise FileNotFoundError(f"no Visual Genome JSON ({', '.join(FILES)}) under {src}")
    return present


def candidates(spark: SparkSession, src: str, dataset: str = "visual_genome") -> Candidates:
    raw = read_raw(spark, src)
    if "image_data" in raw:
        raw["image_data"] = raw["image_data"].withColumn("image_id", F.coalesce("image_id", "id")).drop("id")

    records = None
    for df in raw.values():
        part = df.select("_file", "image_id")
        records = part if records is None else records.unionByName(part)
    rejected = [_missing_image_id(df, dataset) for df in raw.values()]

    keyed = {
        name: df.filter(F.col("image_id").isNotNull()).withColumn("image_id", image_id(dataset, F.col("image_id")))
        for name, df in raw.items()
    }
    occurrences = _object_occurrences(keyed)
    aliases = _aliases(occurrences)
    occurrences = _resolve(occurrences, aliases, "object_id")
    objects = one_row_per_key(occurrences, ["image_id", "object_id"], [F.col("_priority")])
    attributes = (
        occurrences.select("image_id", "object_id", F.explode("attributes").alias("attribute"))
        .withColumn("attribute", clean_text(F.col("attribute")))
        .distinct()
    )
    relations = _relations(keyed["relationships"], aliases) if "relationships" in keyed else None

    return Candidates(
        dataset=dataset,
        images=_images(keyed, dataset, src),
        objects=lineage(objects.drop("_priority", "attributes"), MODEL_NAME),
        attributes=lineage(attributes, MODEL_NAME),
        relations=lineage(relations if relations is not None else _no_relations(spark), MODEL_NAME),
        records=records,
        rejected=rejected,
    )


def _missing_image_id(df: DataFrame, dataset: str) -> DataFrame:
    """Records without ``image_id`` cannot be placed: quarantined whole, keyed by a hash of the record."""
    payload = F.to_json(F.struct(*[c for c in df.columns if c != "_file"]))
    missing = df.filter(F.col("image_id").isNull()).select(
        "_file",
        F.substring(F.sha2(payload, 256), 1, 16).alias("record_hash"),
        payload.alias("_payload"),
        F.concat(F.col("_file"), F.lit(" record has no image_id")).alias("reason"),
    )
    return to_quarantine(
        missing,
        dataset=dataset,
        entity="record",
        stage="parse",
        key_cols=["_file", "record_hash"],
        payload=F.col("_payload"),
    )


def _object_columns(obj: Column) -> list[Column]:
    return [
        obj["object_id"].cast("string").alias("object_id"),
        clean_text(F.coalesce(obj["name"], F.element_at(obj["names"], 1))).alias("name"),
        box_from_xywh(obj["x"], obj["y"], obj["w"], obj["h"]).alias("box"),
        F.lit(None).cast("double").alias("score"),
        obj["synsets"].alias("synsets"),
        F.transform(obj["merged_object_ids"], lambda i: i.cast("string")).alias("merged_object_ids"),
        F.coalesce(obj["attributes"], F.array().cast("array<string>")).alias("attributes"),
    ]


def _object_occurrences(keyed: dict[str, DataFrame]) -> DataFrame:
    """Every place an object is written down; ``_priority`` prefers objects.json, then attributes.json."""
    parts = []
    if "objects" in keyed:
        parts.append(keyed["objects"].select("image_id", F.explode("objects").alias("o"), F.lit(0).alias("_priority")))
    if "attributes" in keyed:
        parts.append(
            keyed["attributes"].select("image_id", F.explode("attributes").alias("o"), F.lit(1).alias("_priority"))
        )
    if "relationships" in keyed:
        rels = keyed["relationships"].select("image_id", F.explode("relationships").alias("r"))
        for end in ("subject", "object"):
            parts.append(rels.select("image_id", F.col(f"r.{end}").alias("o"), F.lit(2).alias("_priority")))
    occurrences = None
    for part in parts:
        rows = part.select("image_id", *_object_columns(F.col("o")), "_priority")
        occurrences = rows if occurrences is None else occurrences.unionByName(rows)
    if occurrences is None:
        raise ValueError("no objects.json, attributes.json or relationships.json: nothing holds objects")
    return occurrences


def _aliases(occurrences: DataFrame) -> DataFrame:
    """(image_id, alias_id) -> canonical object_id from ``merged_object_ids``; the smallest id wins a clash."""
    return (
        occurrences.select("image_id", "object_id", F.explode("merged_object_ids").alias("alias_id"))
        .filter(F.col("alias_id") != F.col("object_id"))
        .groupBy("image_id", "alias_id")
        .agg(F.min("object_id").alias("canonical_id"))
    )


def _resolve(df: DataFrame, aliases: DataFrame, column: str) -> DataFrame:
    """Replace ids that VG merged into another object by that object's id."""
    renamed = aliases.withColumnRenamed("alias_id", column)
    return (
        df.join(renamed, ["image_id", column], "left")
        .withColumn(column, F.coalesce("canonical_id", column))
        .drop("canonical_id")
    )


def _relations(relationships: DataFrame, aliases: DataFrame) -> DataFrame:
    rows = relationships.select("image_id", F.explode("relationships").alias("r")).select(
        "image_id",
        F.col("r.subject.object_id").cast("string").alias("subject_id"),
        clean_text(F.col("r.predicate")).alias("predicate"),
        F.col("r.object.object_id").cast("string").alias("object_id"),
        F.col("r.relationship_id").cast("string").alias("relationship_id"),
        F.col("r.predicate").alias("raw_predicate"),
        F.lit(None).cast("double").alias("score"),
    )
    return _resolve(_resolve(rows, aliases, "subject_id"), aliases, "object_id")


def _no_relations(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [],
        "image_id string, subject_id string, predicate string, object_id string, relationship_id string, "
        "raw_predicate string, score double",
    )


def _images(keyed: dict[str, DataFrame], dataset: str, src: str) -> DataFrame:
    """Images from image_data.json (sizes known) and every other image id seen (size unknown, flagged)."""
    seen = None
    for name, df in keyed.items():
        if name == "image_data":
            continue
        ids = df.select("image_id")
        seen = ids if seen is None else seen.unionByName(ids)
    unknown = seen.distinct() if seen is not None else None
    parts = []
    if "image_data" in keyed:
        sized = keyed["image_data"]
        valid_size = (F.col("width") > 0) & (F.col("height") > 0)
        parts.append(
            sized.select(
                "image_id",
                F.col("url").alias("uri"),
                F.when(valid_size, F.col("width")).alias("width"),
                F.when(valid_size, F.col("height")).alias("height"),
                F.coalesce(valid_size, F.lit(False)).alias("size_known"),
            )
        )
    if unknown is not None:
        parts.append(
            unknown.select(
                "image_id",
                F.lit(None).cast("string").alias("uri"),
                F.lit(None).cast("int").alias("width"),
                F.lit(None).cast("int").alias("height"),
                F.lit(False).alias("size_known"),
            )
        )
    images = parts[0]
    for part in parts[1:]:
        images = images.unionByName(part)
    images = one_row_per_key(images, ["image_id"], [F.col("size_known").desc()])
    return images.withColumn("dataset", F.lit(dataset)).withColumn("source", F.lit("human"))
