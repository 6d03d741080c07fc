"""The pipeline's steps as plain functions (session + settings in, summary out): the CLI, the
``jobs/`` entry points and the tests all call these, so each step has exactly one implementation."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession

from provision_spark import scene_graphs
from provision_spark.ingest import gqa, provision_sample, visual_genome
from provision_spark.ingest.common import Candidates, validate_and_write
from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.tracking import job_run

READERS: dict[str, tuple[Callable[..., Candidates], str]] = {
    "visual_genome": (visual_genome.candidates, "visual_genome"),
    "gqa": (gqa.candidates, "gqa"),
    "provision": (provision_sample.candidates, "provision_sample"),
}


def ingest(spark: SparkSession, settings: Settings, fmt: str, src: str, dataset: str | None = None) -> dict[str, int]:
    """Read one scene-graph source, validate, quarantine, MERGE; returns the logged counts."""
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; one of {sorted(READERS)}")
    reader, default_dataset = READERS[fmt]
    dataset = dataset or default_dataset
    tables.ensure_tables(spark, settings)
    with job_run(settings, f"ingest-{fmt}", {"format": fmt, "src": src, "dataset": dataset}) as run:
        validate_and_write(spark, settings, reader(spark, src, dataset), run)
        if fmt == "provision":
            from provision_spark.ingest import provision_maps

            provision_maps.ingest_depth_and_masks(spark, settings, src, dataset, run)
        return run.summary


def build_scene_graphs(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """Rebuild ``scene_graphs`` from the flat tables; images with no objects are quarantined."""
    tables.ensure_tables(spark, settings)
    read = lambda name: tables.read_table(spark, settings, name)  # noqa: E731
    with job_run(settings, "build-scene-graphs", {}) as run:
        graphs = scene_graphs.build(
            read("images"),
            read("objects"),
            read("attributes"),
            read("relations"),
            read("object_depth"),
            read("masks"),
            read("image_depth"),
        ).persist()
        kept, empty = scene_graphs.split_empty(graphs)
        tables.merge_into(spark, settings, "scene_graphs", kept, run.run_id)
        tables.merge_into(spark, settings, "quarantine", empty, run.run_id)
        # Graphs of images that lost all their objects since the last build must not linger.
        stale = tables.read_table(spark, settings, "scene_graphs").join(
            kept.select("image_id"), "image_id", "left_anti"
        )
        _delete_keys(spark, settings, "scene_graphs", stale.select("image_id"))
        run.log_counts("scene_graph", graphs.count(), kept.count(), empty.count())
        graphs.unpersist()
        return run.summary


def _delete_keys(spark: SparkSession, settings: Settings, name: str, keys) -> None:
    from delta.tables import DeltaTable

    key_cols = keys.columns
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key_cols)
    DeltaTable.forName(spark, tables.table_name(settings, name)).alias("t").merge(
        keys.distinct().alias("s"), on
    ).whenMatchedDelete().execute()


def table_counts(spark: SparkSession, settings: Settings) -> dict[str, int]:
    return {name: tables.read_table(spark, settings, name).count() for name in tables.table_names()}


def run_sql(spark: SparkSession, query: str, limit: int = 100):
    """Rows of a query, at most ``limit`` of them: the CLI prints what a person can read."""
    df = spark.sql(query)
    return df.columns, df.limit(limit).collect()


def quality_report(spark: SparkSession, settings: Settings, share_limit: float | None = None) -> dict:
    """The instruction quality report (``provision_spark.quality``), logged to its own MLflow run as
    ``quality_report.json`` and ``quality_report.md``; returns the report."""
    import mlflow

    from provision_spark import quality

    limit = quality.SHARE_LIMIT if share_limit is None else share_limit
    tables.ensure_tables(spark, settings)
    read = lambda name: tables.read_table(spark, settings, name)  # noqa: E731
    with job_run(settings, "quality-report", {"share_limit": limit}) as run:
        report = quality.report(read("instructions"), read("quarantine"), share_limit=limit)
        metrics = {f"defects.{name}": n for name, n in report["hard_defects"].items()}
        metrics.update({f"{g['generator']}.top_share": g["top_share"] for g in report["generators"]})
        metrics["position_p"] = report["position_p"] if report["position_p"] is not None else 1.0
        run.log_metrics(metrics)
        mlflow.log_dict(report, "quality_report.json", run_id=run.run_id)
        mlflow.log_text(quality.to_markdown(report), "quality_report.md", run_id=run.run_id)
        return {**report, "run_id": run.run_id}
