"""The reference ProVision pipeline's per-annotator JSON: one file per annotator, keyed by image name.

``object-detection-annotations.json`` (labels, ``[x1, y1, x2, y2]`` boxes, scores),
``image-attributes-annotations.json`` (attribute lists aligned with the boxes) and
``relation-annotations-parsed.json`` (``[subject_index, predicate, object_index]``). Object ids
are the box indices. Depth maps and masks are ingested by ``provision_maps``.
"""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.ingest.common import Candidates, clean_text, lineage

MODEL_NAME = "provision_annotations"
DETECTIONS = "object-detection-annotations.json"
ATTRIBUTES = "image-attributes-annotations.json"
RELATIONS = "relation-annotations-parsed.json"

_ENTRY = "map<string,struct<data_path:string,annotation:struct<width:int,height:int,{fields}>>>"
SCHEMAS = {
    DETECTIONS: _ENTRY.format(fields="det_scores:array<double>,labels:array<string>,bboxes:array<array<double>>"),
    ATTRIBUTES: _ENTRY.format(fields="attributes:array<array<string>>"),
    # Triples mix numbers and strings; reading them as strings keeps both.
    RELATIONS: _ENTRY.format(fields="relations:array<array<string>>"),
}


def _read(spark: SparkSession, src: str, name: str, dataset: str) -> DataFrame:
    return (
        spark.read.text(os.path.join(src, name), wholetext=True)
        .select(F.explode(F.from_json("value", SCHEMAS[name])).alias("name", "entry"))
        .withColumn("image_id", F.concat(F.lit(f"{dataset}/"), "name"))
    )


def candidates(spark: SparkSession, src: str, dataset: str = "provision_sample") -> Candidates:
    detections = _read(spark, src, DETECTIONS, dataset)
    images_dir = os.path.join(os.path.abspath(src), "images")
    images = detections.select(
        "image_id",
        F.concat(F.lit(images_dir + "/"), F.element_at(F.split("entry.data_path", "/"), -1)).alias("uri"),
        F.col("entry.annotation.width").alias("width"),
        F.col("entry.annotation.height").alias("height"),
        ((F.col("entry.annotation.width") > 0) & (F.col("entry.annotation.height") > 0)).alias("size_known"),
        F.lit(dataset).alias("dataset"),
        F.lit("human").alias("source"),
    )
    boxes = detections.select(
        "image_id",
        F.posexplode(
            F.arrays_zip(
                F.col("entry.annotation.labels").alias("label"),
                F.col("entry.annotation.bboxes").alias("bbox"),
                F.col("entry.annotation.det_scores").alias("score"),
            )
        ).alias("index", "d"),
    )
    objects = boxes.select(
        "image_id",
        F.col("index").cast("string").alias("object_id"),
        clean_text(F.col("d.label")).alias("name"),
        F.struct(*[F.element_at("d.bbox", i + 1).alias(c) for i, c in enumerate(("x1", "y1", "x2", "y2"))]).alias(
            "box"
        ),
        F.col("d.score").alias("score"),
    )
    attributes = (
        _read(spark, src, ATTRIBUTES, dataset)
        .select("image_id", F.posexplode("entry.annotation.attributes").alias("index", "values"))
        .select("image_id", F.col("index").cast("string").alias("object_id"), F.explode("values").alias("attribute"))
        .withColumn("attribute", clean_text(F.col("attribute")))
        .distinct()
    )
    relations = (
        _read(spark, src, RELATIONS, dataset)
        .select("image_id", F.explode("entry.annotation.relations").alias("t"))
        .select(
            "image_id",
            F.element_at("t", 1).alias("subject_id"),
            clean_text(F.element_at("t", 2)).alias("predicate"),
            F.element_at("t", 3).alias("object_id"),
            F.lit(None).cast("string").alias("relationship_id"),
            F.element_at("t", 2).alias("raw_predicate"),
        )
    )
    return Candidates(
        dataset=dataset,
        images=images,
        objects=lineage(objects, MODEL_NAME),
        attributes=lineage(attributes, MODEL_NAME),
        relations=lineage(relations, MODEL_NAME),
        records=detections.select("image_id"),
    )
