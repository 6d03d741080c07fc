"""What every scene-graph source shares: validation rules, lineage columns, and the write step.

Each reader turns its format into candidate rows of the flat tables (images, objects, attributes,
relations) plus rows already rejected while parsing. ``validate_and_write`` then applies the same
rules to every source, quarantines what fails with a reason, checks that nothing was lost
(in = written + quarantined, per entity) and MERGEs the rest.
"""

from __future__ import annotations

import dataclasses

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import reason_of, split_valid, to_quarantine
from provision_spark.lakehouse.tracking import JobRun

HUMAN = "human"


@dataclasses.dataclass
class Candidates:
    """One source's rows before validation.

    ``records`` has one row per top-level record read (an image entry of a JSON file), so the
    record count can be checked; ``rejected`` holds quarantine rows for records that failed to parse.
    """

    dataset: str
    images: DataFrame
    objects: DataFrame
    attributes: DataFrame
    relations: DataFrame
    records: DataFrame
    rejected: list[DataFrame] = dataclasses.field(default_factory=list)


def clean_text(col: Column) -> Column:
    """Lower case, trimmed, inner whitespace collapsed: 'Baseball  Bat ' -> 'baseball bat'."""
    return F.lower(F.trim(F.regexp_replace(col, r"\s+", " ")))


def box_from_xywh(x: Column, y: Column, w: Column, h: Column) -> Column:
    return F.struct(x.alias("x1"), y.alias("y1"), (x + w).alias("x2"), (y + h).alias("y2"))


def lineage(df: DataFrame, model_name: str) -> DataFrame:
    """Human annotations: the dataset's format is the 'model', version 'human'."""
    return (
        df.withColumn("source", F.lit(HUMAN))
        .withColumn("model_name", F.lit(model_name))
        .withColumn("model_version", F.lit(HUMAN))
    )


def image_id(dataset: str, raw_id: Column) -> Column:
    return F.concat(F.lit(f"{dataset}/"), raw_id.cast("string"))


def object_rules(objects: DataFrame, images: DataFrame) -> DataFrame:
    """Objects with a ``reason`` (null when valid) and boxes clipped to the image where they overhang."""
    joined = objects.join(images.select("image_id", "width", "height", "size_known"), "image_id", "left")
    box = F.col("box")
    outside = F.col("size_known") & (
        (box["x2"] <= 0) | (box["y2"] <= 0) | (box["x1"] >= F.col("width")) | (box["y1"] >= F.col("height"))
    )
    reason = reason_of(
        (F.col("name").isNull() | (F.col("name") == ""), "empty object name"),
        (
            box.isNull() | box["x1"].isNull() | box["y1"].isNull() | box["x2"].isNull() | box["y2"].isNull(),
            "box missing a coordinate",
        ),
        (
            (box["x2"] - box["x1"] <= 0) | (box["y2"] - box["y1"] <= 0),
            F.format_string("degenerate box: width %s, height %s", box["x2"] - box["x1"], box["y2"] - box["y1"]),
        ),
        (
            outside,
            F.format_string(
                "box [%s, %s, %s, %s] lies outside the %sx%s image",
                box["x1"],
                box["y1"],
                box["x2"],
                box["y2"],
                F.col("width"),
                F.col("height"),
            ),
        ),
    )
    overhangs = F.col("size_known") & (
        (box["x1"] < 0) | (box["y1"] < 0) | (box["x2"] > F.col("width")) | (box["y2"] > F.col("height"))
    )
    clipped_box = F.struct(
        F.greatest(box["x1"], F.lit(0.0)).alias("x1"),
        F.greatest(box["y1"], F.lit(0.0)).alias("y1"),
        F.least(box["x2"], F.col("width").cast("double")).alias("x2"),
        F.least(box["y2"], F.col("height").cast("double")).alias("y2"),
    )
    return (
        joined.withColumn("reason", reason)
        .withColumn("clipped", F.coalesce(overhangs, F.lit(False)))
        .withColumn("box", F.when(F.col("clipped") & F.col("reason").isNull(), clipped_box).otherwise(box))
        .drop("width", "height", "size_known")
    )


def validate_and_write(spark: SparkSession, settings: Settings, candidates: Candidates, run: JobRun) -> None:
    """Validate every entity, quarantine failures with reasons, MERGE the rest, log the counts."""
    dataset = candidates.dataset
    quarantined: list[DataFrame] = list(candidates.rejected)
    # Each frame is counted and merged, so parse the source once and reuse it.
    cached = [
        candidates.objects.persist(),
        candidates.attributes.persist(),
        candidates.relations.persist(),
        candidates.records.persist(),
    ]

    images = candidates.images.persist()
    checked_objects = object_rules(candidates.objects, images).persist()
    objects = checked_objects.filter(F.col("reason").isNull()).drop("reason")
    bad_objects = checked_objects.filter(F.col("reason").isNotNull())
    quarantined.append(
        to_quarantine(
            bad_objects, dataset=dataset, entity="object", stage="validate", key_cols=["image_id", "object_id"]
        )
    )
    known = objects.select("image_id", "object_id", F.lit(True).alias("_known"))
    rejected_ids = bad_objects.select("image_id", "object_id", F.col("reason").alias("_object_reason"))

    attributes, bad_attributes = split_valid(
        candidates.attributes.join(known, ["image_id", "object_id"], "left").join(
            rejected_ids, ["image_id", "object_id"], "left"
        ),
        reason_of(
            (F.col("attribute").isNull() | (F.col("attribute") == ""), "empty attribute"),
            (F.col("_object_reason").isNotNull(), F.concat(F.lit("object was quarantined: "), F.col("_object_reason"))),
            (F.col("_known").isNull(), "attribute of an unknown object"),
        ),
    )
    attributes = attributes.drop("_known", "_object_reason").persist()
    quarantined.append(
        to_quarantine(
            bad_attributes.drop("_known", "_object_reason"),
            dataset=dataset,
            entity="attribute",
            stage="validate",
            key_cols=["image_id", "object_id", "attribute"],
        )
    )

    relations = _mark_duplicate_relations(candidates.relations)
    for end in ("subject", "object"):
        relations = relations.join(
            known.withColumnRenamed("object_id", f"{end}_id").withColumnRenamed("_known", f"_{end}_known"),
            ["image_id", f"{end}_id"],
            "left",
        ).join(
            rejected_ids.withColumnRenamed("object_id", f"{end}_id").withColumnRenamed(
                "_object_reason", f"_{end}_reason"
            ),
            ["image_id", f"{end}_id"],
            "left",
        )
    relations, bad_relations = split_valid(
        relations,
        reason_of(
            (F.col("predicate").isNull() | (F.col("predicate") == ""), "empty predicate"),
            (F.col("subject_id") == F.col("object_id"), "subject and object are the same object"),
            (
                F.col("_subject_reason").isNotNull(),
                F.concat(F.lit("subject was quarantined: "), F.col("_subject_reason")),
            ),
            (F.col("_object_reason").isNotNull(), F.concat(F.lit("object was quarantined: "), F.col("_object_reason"))),
            (F.col("_subject_known").isNull(), "relation references an unknown subject"),
            (F.col("_object_known").isNull(), "relation references an unknown object"),
            (F.col("_duplicate_of").isNotNull(), F.concat(F.lit("duplicate of relationship "), F.col("_duplicate_of"))),
        ),
    )
    helper_cols = ["_subject_known", "_object_known", "_subject_reason", "_object_reason", "_duplicate_of"]
    relations = relations.drop(*helper_cols).persist()
    quarantined.append(
        to_quarantine(
            bad_relations.drop(*helper_cols),
            dataset=dataset,
            entity="relation",
            stage="validate",
            key_cols=["image_id", "subject_id", "predicate", "object_id", "relationship_id"],
        )
    )

    quarantine = quarantined[0]
    for part in quarantined[1:]:
        quarantine = quarantine.unionByName(part)
    quarantine = quarantine.persist()

    tables.merge_into(spark, settings, "images", images, run.run_id)
    tables.merge_into(spark, settings, "objects", objects, run.run_id)
    tables.merge_into(spark, settings, "attributes", attributes, run.run_id)
    tables.merge_into(spark, settings, "relations", relations, run.run_id)
    tables.merge_into(spark, settings, "quarantine", quarantine, run.run_id)

    per_entity = dict(quarantine.groupBy("entity").count().collect())
    counts = {
        "record": (candidates.records.count(), per_entity.get("record", 0)),
        "image": (images.count(), 0),
        "object": (candidates.objects.count(), per_entity.get("object", 0)),
        "attribute": (candidates.attributes.count(), per_entity.get("attribute", 0)),
        "relation": (candidates.relations.count(), per_entity.get("relation", 0)),
    }
    written = {"record": None, "image": images, "object": objects, "attribute": attributes, "relation": relations}
    for entity, (n_in, n_quarantined) in counts.items():
        n_written = n_in - n_quarantined if written[entity] is None else written[entity].count()
        run.log_counts(f"{dataset}.{entity}", n_in, n_written, n_quarantined)
    for df in (images, checked_objects, quarantine, attributes, relations, *cached):
        df.unpersist()


def _mark_duplicate_relations(relations: DataFrame) -> DataFrame:
    """The same (subject, predicate, object) stated twice: keep the lowest relationship id, flag the rest."""
    from pyspark.sql import Window

    key = ["image_id", "subject_id", "predicate", "object_id"]
    window = Window.partitionBy(*key).orderBy(F.col("relationship_id").asc_nulls_last())
    return relations.withColumn(
        "_duplicate_of",
        F.when(F.row_number().over(window) > 1, F.first("relationship_id").over(window)),
    )
