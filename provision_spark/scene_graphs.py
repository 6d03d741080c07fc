"""Scene graphs: one row per image, its objects nested with their attributes, outgoing relations,
depth and mask, built purely by joins and group-bys of the flat tables."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from provision_spark.lakehouse.quarantine import to_quarantine
from provision_spark.lakehouse.tables import one_row_per_key

EMPTY_GRAPH = "empty scene graph: the image has no valid objects"


def build(
    images: DataFrame,
    objects: DataFrame,
    attributes: DataFrame,
    relations: DataFrame,
    object_depth: DataFrame,
    masks: DataFrame,
    image_depth: DataFrame,
) -> DataFrame:
    """Every image with its nested objects (possibly none: see ``split_empty``)."""
    object_keys = ["image_id", "object_id"]
    attribute_lists = attributes.groupBy(*object_keys).agg(F.array_sort(F.collect_set("attribute")).alias("attributes"))
    outgoing = relations.groupBy("image_id", F.col("subject_id").alias("object_id")).agg(
        F.array_sort(F.collect_set(F.struct("predicate", "object_id"))).alias("relations")
    )
    # Several model versions may describe the same object: the newest version name wins, deterministically.
    depth = one_row_per_key(object_depth, object_keys, [F.col("model_version").desc()]).select(
        *object_keys, F.struct("depth_mean", "depth_median", "depth_min", "depth_max").alias("depth")
    )
    mask = one_row_per_key(masks, object_keys, [F.col("model_version").desc()]).select(
        *object_keys, F.struct("height", "width", "rle_counts", "area").alias("mask")
    )
    nested = (
        objects.join(attribute_lists, object_keys, "left")
        .join(outgoing, object_keys, "left")
        .join(depth, object_keys, "left")
        .join(mask, object_keys, "left")
        .select(
            "image_id",
            F.struct(
                "object_id",
                "name",
                "box",
                "score",
                F.coalesce("attributes", F.array().cast("array<string>")).alias("attributes"),
                F.coalesce("relations", F.array().cast("array<struct<predicate:string,object_id:string>>")).alias(
                    "relations"
                ),
                "depth",
                "mask",
            ).alias("object"),
        )
        .groupBy("image_id")
        .agg(F.array_sort(F.collect_list("object")).alias("objects"))
    )
    depth_maps = one_row_per_key(image_depth, ["image_id"], [F.col("model_version").desc()]).select(
        "image_id", F.struct("map_height", "map_width", "depth_map").alias("depth_map")
    )
    graphs = images.join(nested, "image_id", "left").join(depth_maps, "image_id", "left")
    objects_col = F.coalesce("objects", F.array().cast(nested.schema["objects"].dataType))
    return graphs.select(
        "image_id",
        "dataset",
        "source",
        "uri",
        "width",
        "height",
        "size_known",
        objects_col.alias("objects"),
        "depth_map",
        F.size(objects_col).alias("n_objects"),
        F.aggregate(objects_col, F.lit(0), lambda acc, o: acc + F.size(o["attributes"])).alias("n_attributes"),
        F.aggregate(objects_col, F.lit(0), lambda acc, o: acc + F.size(o["relations"])).alias("n_relations"),
    )


def split_empty(graphs: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(non-empty scene graphs, quarantine rows for images whose graph has no objects)."""
    empty = graphs.filter(F.col("n_objects") == 0)
    quarantined = to_quarantine(
        empty.select("image_id", "dataset", "uri", "width", "height", F.lit(EMPTY_GRAPH).alias("reason")),
        dataset=F.col("dataset"),
        entity="scene_graph",
        stage="build",
        key_cols=["image_id"],
    )
    return graphs.filter(F.col("n_objects") > 0), quarantined
