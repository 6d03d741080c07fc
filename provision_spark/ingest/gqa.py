"""GQA scene graphs (``sceneGraphs.json``: images keyed by id, objects keyed by id, each with
``name, x, y, w, h, attributes, relations``).

The file is one JSON object keyed by image id, which Spark's JSON reader cannot turn into rows
directly; it is read as whole text and parsed with ``from_json`` into a map, then exploded.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from provision_spark.ingest.common import Candidates, box_from_xywh, clean_text, lineage

MODEL_NAME = "gqa_scene_graphs"
RAW_SCHEMA = (
    "map<string,struct<width:int,height:int,objects:map<string,struct<name:string,x:double,y:double,"
    "w:double,h:double,attributes:array<string>,relations:array<struct<name:string,object:string>>>>>>"
)


def candidates(spark: SparkSession, path: str, dataset: str = "gqa") -> Candidates:
    raw = spark.read.text(path, wholetext=True).select(
        F.explode(F.from_json("value", RAW_SCHEMA)).alias("raw_id", "image")
    )
    images = raw.select(
        F.concat(F.lit(f"{dataset}/"), "raw_id").alias("image_id"),
        F.lit(None).cast("string").alias("uri"),
        F.col("image.width").alias("width"),
        F.col("image.height").alias("height"),
        ((F.col("image.width") > 0) & (F.col("image.height") > 0)).alias("size_known"),
        F.lit(dataset).alias("dataset"),
        F.lit("human").alias("source"),
    )
    exploded = raw.select(
        F.concat(F.lit(f"{dataset}/"), "raw_id").alias("image_id"),
        F.explode("image.objects").alias("object_id", "o"),
    ).persist()
    objects = exploded.select(
        "image_id",
        "object_id",
        clean_text(F.col("o.name")).alias("name"),
        box_from_xywh(F.col("o.x"), F.col("o.y"), F.col("o.w"), F.col("o.h")).alias("box"),
    )
    attributes = (
        exploded.select("image_id", "object_id", F.explode("o.attributes").alias("attribute"))
        .withColumn("attribute", clean_text(F.col("attribute")))
        .distinct()
    )
    relations = exploded.select(
        "image_id", F.col("object_id").alias("subject_id"), F.explode("o.relations").alias("r")
    ).select(
        "image_id",
        "subject_id",
        clean_text(F.col("r.name")).alias("predicate"),
        F.col("r.object").alias("object_id"),
        F.lit(None).cast("string").alias("relationship_id"),
        F.col("r.name").alias("raw_predicate"),
    )
    return Candidates(
        dataset=dataset,
        images=images,
        objects=lineage(objects, MODEL_NAME),
        attributes=lineage(attributes, MODEL_NAME),
        relations=lineage(relations, MODEL_NAME),
        records=raw.select("raw_id"),
        rejected=[],
    )
