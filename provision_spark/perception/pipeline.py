"""``perceive``: run the stages as Spark UDFs, write their tables with lineage, quarantine failures.

For each stage: resolve the model's version on the driver, select the images (with their objects)
that the ledger says this version has not processed on this input, run the stage's ``mapInArrow``
function over them (the result is checkpointed so the model runs once), then MERGE the output rows,
the quarantined images and the ledger entries, and log counts and worker stats to the MLflow run
whose id every row carries.

Versions: ``model_version`` is ``<weights version>+<settings hash>``; the weights version is the
registry's version number (``models:/``) or a content hash of the files, the settings hash covers
what else changes the output (vocabulary, thresholds, prompts, helper models). Downstream stages read
the objects of the configured detector version only, and record that version as their input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import mlflow
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import to_quarantine
from provision_spark.lakehouse.session import work_partitions
from provision_spark.lakehouse.tracking import job_run
from provision_spark.perception import ledger
from provision_spark.perception.config import PerceptionConfig, settings_fingerprint
from provision_spark.perception.runtime import STAMP_FIELDS, map_function
from provision_spark.perception.stages import STAGES, lineage
from provision_spark.perception.weights import pinned, version_of


@dataclasses.dataclass(frozen=True)
class Model:
    """A stage's model as the driver resolved it: what workers load and what rows record."""

    stage: str
    config: Any
    name: str
    version: str

    @property
    def tag(self) -> str:
        """Eight hex digits naming the version inside ids, e.g. object ids ``yw-<tag>-007``."""
        return hashlib.sha256(self.version.encode()).hexdigest()[:8]


def resolve(config: PerceptionConfig, stage: str, tracking_uri: str | None) -> Model:
    """Pin registry aliases and compute ``<weights version>+<settings hash>``."""
    stage_config = config.stage(stage)
    helpers = {
        field: getattr(stage_config, field)
        for field in ("text_encoder", "grounding_model")
        if hasattr(stage_config, field)
    }
    pins = {field: pinned(uri, tracking_uri) for field, uri in {"weights": stage_config.weights, **helpers}.items()}
    stage_config = dataclasses.replace(stage_config, **pins)
    helper_versions = {field: version_of(pins[field], tracking_uri) for field in helpers}
    version = f"{version_of(pins['weights'], tracking_uri)}+{settings_fingerprint(stage_config, helper_versions)}"
    return Model(stage, stage_config, stage_config.model_name, version)


def worker_for(model: Model, tracking_uri: str | None) -> Any:
    return STAGES[model.stage].worker(model.config, tracking_uri)


# ---- work selection ------------------------------------------------------------------------------


def model_images(spark: SparkSession, settings: Settings, dataset: str | None) -> DataFrame:
    """Images whose scene graphs the models make (``source = 'model'``), optionally one dataset's."""
    images = tables.read_table(spark, settings, "images").filter(F.col("source") == "model")
    if dataset is not None:
        images = images.filter(F.col("dataset") == dataset)
    return images.select("image_id", "dataset", "uri", "width", "height")


def detected_objects(spark: SparkSession, settings: Settings, detector: Model) -> DataFrame:
    objects = tables.read_table(spark, settings, "objects")
    return objects.filter(
        (F.col("source") == "model")
        & (F.col("model_name") == detector.name)
        & (F.col("model_version") == detector.version)
    ).select("image_id", "object_id", "name", "box", "score")


def with_objects(images: DataFrame, objects: DataFrame, how: str) -> DataFrame:
    """One row per image with its objects as an array (``how='left'`` keeps images without any)."""
    grouped = objects.groupBy("image_id").agg(
        F.collect_list(F.struct(*[c for c in objects.columns if c != "image_id"])).alias("objects")
    )
    return images.join(grouped, "image_id", how)


def work_for(
    spark: SparkSession, settings: Settings, stage: str, dataset: str | None, detector: Model, segmenter: Model | None
) -> tuple[DataFrame, str]:
    """(work rows, input version) for one stage: what it reads, whatever the ledger says."""
    images = model_images(spark, settings, dataset)
    reads = STAGES[stage].reads
    if reads == "images":
        return images, ""
    objects = detected_objects(spark, settings, detector)
    if reads == "objects":
        return with_objects(images, objects, "inner"), detector.version
    if segmenter is None:
        return with_objects(images, objects, "left"), f"{detector.version}/-"
    masks = (
        tables.read_table(spark, settings, "masks")
        .filter((F.col("source") == "model") & (F.col("model_version") == segmenter.version))
        .select("image_id", "object_id", "rle_counts")
    )
    return with_objects(
        images, objects.join(masks, ["image_id", "object_id"], "left"), "left"
    ), f"{detector.version}/{segmenter.version}"


def pending(work: DataFrame, done: DataFrame) -> DataFrame:
    return work.join(done, "image_id", "left_anti")


# ---- output rows ---------------------------------------------------------------------------------


def quarantine_rows(failed: DataFrame, model: Model) -> DataFrame:
    """One quarantine row per image the stage could not process, keyed by image and model version."""
    return to_quarantine(
        failed.select("image_id", "dataset", "reason", *lineage(model)[1:]),
        dataset=F.col("dataset"),
        entity="image",
        stage=model.stage,
        key_cols=["image_id", "model_version"],
    )


def ledger_rows(results: DataFrame, model: Model, input_version: str) -> DataFrame:
    failed = F.col("reason").isNotNull()
    return results.select(
        F.lit(model.stage).alias("stage"),
        "image_id",
        F.lit(model.name).alias("model_name"),
        F.lit(model.version).alias("model_version"),
        F.lit(input_version).alias("input_version"),
        F.when(failed, "quarantined").otherwise("done").alias("status"),
        F.when(~failed, F.size(STAGES[model.stage].counted)).alias("n_outputs"),
    )


def delete_other_versions(
    spark: SparkSession, settings: Settings, table: str, processed: DataFrame, model: Model
) -> None:
    """``replace`` mode: drop this model's rows of other versions for the images just processed."""
    # The model's name and version travel as columns of the source: no literal is spliced into the SQL.
    images = (
        processed.select("image_id")
        .distinct()
        .select("image_id", F.lit(model.name).alias("model_name"), F.lit(model.version).alias("model_version"))
    )
    tables.merge_sql(
        spark,
        tables.table_name(settings, table),
        images,
        "ON t.image_id = s.image_id AND t.source = 'model' AND t.model_name = s.model_name"
        " AND t.model_version != s.model_version WHEN MATCHED THEN DELETE",
    )


# ---- running -------------------------------------------------------------------------------------


def task_count(images: int, batch_size: int, partitions: int) -> int:
    """``partitions`` tasks, but no more than there are full batches: every task costs a Python
    worker round trip and, on a worker that has not run the stage yet, a model load, so a small
    input is not scattered over tasks of an image or two (nor a GPU's batch left mostly empty)."""
    return max(1, min(partitions, math.ceil(images / max(1, batch_size))))


#: The order of the work rows in a task: batches of images of one size where the input allows.
SIZE_ORDER = ("height", "width", "image_id")


def run_udf(
    work: DataFrame, model: Model, config: PerceptionConfig, tracking_uri: str | None, partitions: int
) -> DataFrame:
    """The stage's ``mapInArrow`` over the work rows (counted first: pass them checkpointed), split
    into ``task_count`` tasks by image size and sorted by it within each. A batch of one image size
    costs less: ultralytics letterboxes it to its own aspect ratio instead of a padded square (a
    quarter less detector work on the benchmark's images) and Depth Anything runs images that resize
    alike in one forward pass."""
    worker = worker_for(model, tracking_uri)
    schema = StructType.fromDDL(f"{STAGES[model.stage].result_ddl}, {STAMP_FIELDS}")
    function = map_function(worker, schema, config.max_image_pixels, config.device)
    tasks = task_count(work.count(), worker.batch_size, partitions)
    return work.repartitionByRange(tasks, *SIZE_ORDER).sortWithinPartitions(*SIZE_ORDER).mapInArrow(function, schema)


def stage_stats(results: DataFrame, stage: str) -> dict[str, int]:
    """Counts behind a stage's results, in one job: images in and failed, output rows, and per
    Python worker the model loads and batches (``max_loads_per_worker`` > 1 would mean the
    per-worker model cache failed)."""
    succeeded = F.col("reason").isNull()
    per_worker = results.groupBy("_worker").agg(
        F.count(F.lit(1)).alias("images"),
        F.sum((~succeeded).cast("int")).alias("failed"),
        F.sum(F.when(succeeded, F.size(STAGES[stage].counted)).otherwise(0)).alias("outputs"),
        F.sum(F.col("ungrounded") if stage == "relations" else F.lit(0)).alias("ungrounded"),
        F.sum("_loads").alias("loads"),
        F.countDistinct("_chunk").alias("batches"),
    )
    row = per_worker.agg(
        F.sum("images").alias("images"),
        F.sum("failed").alias("failed"),
        F.sum("outputs").alias("outputs"),
        F.sum("ungrounded").alias("ungrounded"),
        F.sum("loads").alias("model_loads"),
        F.count(F.lit(1)).alias("workers"),
        F.sum("batches").alias("batches"),
        F.max("loads").alias("max_loads_per_worker"),
    ).first()
    return {key: int(value or 0) for key, value in row.asDict().items()}


def rows_written(stats: dict[str, int], stage: str) -> dict[str, int]:
    """Rows per output table: one per element of the result arrays, and one map per depth image."""
    counts = {f"rows.{STAGES[stage].tables[0]}": stats["outputs"]}
    if stage == "depth":
        counts["rows.image_depth"] = stats["images"] - stats["failed"]
    if stage == "relations":
        counts["relations.ungrounded"] = stats["ungrounded"]
    return counts


def run_stage(
    spark: SparkSession, settings: Settings, config: PerceptionConfig, stage: str, dataset: str | None = None
) -> dict[str, object]:
    """One stage over the images it has not processed yet (its tables must exist: ``perceive``
    creates them); returns the logged counts and stats."""
    tracking_uri = settings.resolved_tracking_uri
    detector = resolve(config, "detect", tracking_uri)
    segmenter = resolve(config, "segment", tracking_uri) if config.segment is not None else None
    model = resolve(config, stage, tracking_uri)
    work, input_version = work_for(spark, settings, stage, dataset, detector, segmenter)
    work = pending(work, ledger.processed(spark, settings, stage, model.version, input_version))
    params = {
        "stage": stage,
        "model_name": model.name,
        "model_version": model.version,
        "input_version": input_version,
        "write_mode": config.write_mode,
        "dataset": dataset or "*",
        "device": config.device,
        "config": json.dumps(dataclasses.asdict(model.config), default=str)[:6000],
    }
    partitions = config.num_partitions or work_partitions(spark)
    with job_run(settings, f"perceive-{stage}", params) as run:
        mlflow.set_tags({"model_name": model.name, "model_version": model.version, "stage": stage})
        started = time.perf_counter()
        # Cut the lineage: writing the ledger and the tables below must not make Spark recompute
        # (and re-infer) results whose input was read from those very tables. The work is
        # checkpointed too, since run_udf counts it before running the model over it.
        work = work.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        results = run_udf(work, model, config, tracking_uri, partitions).localCheckpoint(
            eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK
        )
        seconds = time.perf_counter() - started
        stats = stage_stats(results, stage)
        n_in, n_failed = stats["images"], stats["failed"]
        if n_in:
            ok = results.filter(F.col("reason").isNull())
            for table, rows in STAGES[stage].outputs:
                if config.write_mode == "replace":
                    delete_other_versions(spark, settings, table, ok, model)
                tables.merge_into(spark, settings, table, rows(ok, model), run_id=run.run_id)
            if n_failed:
                failed = results.filter(F.col("reason").isNotNull())
                tables.merge_into(spark, settings, "quarantine", quarantine_rows(failed, model), run_id=run.run_id)
            ledger.record(
                spark, settings, ledger_rows(results, model, input_version).withColumn("run_id", F.lit(run.run_id))
            )
            run.log_metrics(
                {
                    **rows_written(stats, stage),
                    "model_loads": stats["model_loads"],
                    "workers": stats["workers"],
                    "batches": stats["batches"],
                    "max_loads_per_worker": stats["max_loads_per_worker"],
                    "udf_seconds": seconds,
                    "images_per_second": n_in / seconds,
                }
            )
        run.log_counts("images", n_in, n_in - n_failed, n_failed)
    return {**run.summary, "run_id": run.run_id, "model_version": model.version}


def perceive(
    spark: SparkSession,
    settings: Settings,
    config: PerceptionConfig,
    stages: Sequence[str] | None = None,
    dataset: str | None = None,
) -> dict[str, dict[str, object]]:
    """The requested stages (default: every configured one) in pipeline order, each its own MLflow
    run nested in one ``perceive`` run."""
    unknown = set(stages or ()) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    ordered = [s for s in STAGES if s in stages] if stages else [s for s in STAGES if getattr(config, s) is not None]
    tables.ensure_tables(spark, settings)
    ledger.ensure(spark, settings)
    with job_run(settings, "perceive", {"stages": ",".join(ordered), "dataset": dataset or "*"}):
        return {stage: run_stage(spark, settings, config, stage, dataset) for stage in ordered}
