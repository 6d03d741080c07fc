"""The perception stages, one :class:`Stage` record each: everything that defines a stage in one place.

A stage is a settings dataclass (its section of the perception YAML), a worker class that loads the
model once per Python worker and runs batches of images, the schema of what it returns per image,
what it reads (the images alone, or the detector's objects, or those and the segmenter's masks),
and the tables its rows go to, each with the function that turns results into rows. The pipeline
(``pipeline.py``) runs any stage from its record; the tiny random models for the demo and the tests
are built together in ``tiny.py`` (the VLM stages share one model and tokenizer).

To add a stage: write its config dataclass in ``config.py``, its worker beside the others, give
``PerceptionConfig`` a field named after it, and add its record to ``STAGES`` in pipeline order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from provision_spark.perception import depth, detect, segment, vlm
from provision_spark.perception.config import (
    AttributesConfig,
    DepthConfig,
    DetectConfig,
    RelationsConfig,
    SegmentConfig,
)

#: Object ids of detections: ``yw-<version tag>-<index>``.
OBJECT_ID_PREFIX = "yw"


def lineage(model: Any) -> list[Column]:
    """The columns every model-made row carries: source, model name and version."""
    return [
        F.lit("model").alias("source"),
        F.lit(model.name).alias("model_name"),
        F.lit(model.version).alias("model_version"),
    ]


def exploded(ok: DataFrame, column: str) -> DataFrame:
    return ok.select("image_id", F.explode(column).alias("r")).select("image_id", "r.*")


def objects_rows(ok: DataFrame, model: Any) -> DataFrame:
    return exploded(ok, "objects").select(
        "image_id",
        F.format_string(f"{OBJECT_ID_PREFIX}-{model.tag}-%03d", "idx").alias("object_id"),
        "name",
        "box",
        "score",
        "clipped",
        *lineage(model),
    )


def masks_rows(ok: DataFrame, model: Any) -> DataFrame:
    return exploded(ok, "masks").select(
        "image_id", "object_id", "height", "width", "rle_counts", "area", "score", *lineage(model)
    )


def object_depth_rows(ok: DataFrame, model: Any) -> DataFrame:
    return exploded(ok, "objects").select(
        "image_id", "object_id", "depth_mean", "depth_median", "depth_min", "depth_max", "region", *lineage(model)
    )


def image_depth_rows(ok: DataFrame, model: Any) -> DataFrame:
    return ok.select("image_id", "map_height", "map_width", "depth_map", *lineage(model))


def attributes_rows(ok: DataFrame, model: Any) -> DataFrame:
    return exploded(ok, "attributes").select("image_id", "object_id", "attribute", "score", *lineage(model))


def relations_rows(ok: DataFrame, model: Any) -> DataFrame:
    return exploded(ok, "relations").select(
        "image_id", "subject_id", "predicate", "object_id", "raw_predicate", "score", *lineage(model)
    )


@dataclasses.dataclass(frozen=True)
class Stage:
    """One perception stage.

    reads: "images" (the image alone), "objects" (with the detector's objects) or "objects+masks"
      (with the objects and, when a segmenter is configured, their masks; images without objects too).
    outputs: (table, rows) pairs: ``rows(successful results, model)`` gives that table's rows.
    counted: the result array whose elements are the stage's outputs (counted per image).
    """

    name: str
    config: type
    worker: type
    result_ddl: str
    reads: str
    outputs: tuple[tuple[str, Callable[[DataFrame, Any], DataFrame]], ...]
    counted: str

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(table for table, _ in self.outputs)


#: Every stage, in pipeline order (each reads what the ones before it wrote).
STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "detect",
            DetectConfig,
            detect.DetectWorker,
            detect.RESULT_DDL,
            "images",
            (("objects", objects_rows),),
            "objects",
        ),
        Stage(
            "segment",
            SegmentConfig,
            segment.SegmentWorker,
            segment.RESULT_DDL,
            "objects",
            (("masks", masks_rows),),
            "masks",
        ),
        Stage(
            "depth",
            DepthConfig,
            depth.DepthWorker,
            depth.RESULT_DDL,
            "objects+masks",
            (("object_depth", object_depth_rows), ("image_depth", image_depth_rows)),
            "objects",
        ),
        Stage(
            "attributes",
            AttributesConfig,
            vlm.AttributesWorker,
            vlm.ATTRIBUTES_DDL,
            "objects",
            (("attributes", attributes_rows),),
            "attributes",
        ),
        Stage(
            "relations",
            RelationsConfig,
            vlm.RelationsWorker,
            vlm.RELATIONS_DDL,
            "objects",
            (("relations", relations_rows),),
            "relations",
        ),
    )
}
