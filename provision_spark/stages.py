"""Every job step as a plain function, (spark, settings, options) -> summary: the CLI, the ``jobs/``
entry points, notebooks and the tests all call these, so each step has exactly one implementation
and records its lineage the same way wherever it is called: each step opens its own MLflow run
(``lakehouse.tracking.job_run``) and returns the counts and metrics it logged there.

The work itself lives with its concern (``ingest/``, ``scene_graphs``, ``generators/``,
``perception/``, ``exports/``); the modules there take the open run and never start one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

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
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys.columns)
    tables.merge_sql(spark, tables.table_name(settings, name), keys.distinct(), f"ON {on} WHEN MATCHED THEN DELETE")


def table_counts(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """Rows per table: the state of the lakehouse at a glance (the demo's closing table)."""
    return {name: tables.read_table(spark, settings, name).count() for name in tables.table_names()}


def run_sql(spark: SparkSession, query: str, limit: int = 100):
    """Rows of a query, at most ``limit`` of them: the CLI prints what a person can read."""
    df = spark.sql(query)
    return df.columns, df.limit(limit).collect()


def generate_single(
    spark: SparkSession,
    settings: Settings,
    *,
    seed: int = 0,
    per_image: int = 2,
    generators: Sequence[str] | None = None,
) -> dict[str, float]:
    """Single-image instructions from ``scene_graphs``: generated, checked, MERGEd; failures quarantined."""
    from provision_spark.generators.single import engine

    params = {"seed": seed, "per_image": per_image, "generators": ",".join(generators or []) or "all"}
    with job_run(settings, "generate-single", params) as run:
        engine.generate_single(spark, settings, run, seed=seed, per_image=per_image, generators=generators)
        return dict(run.summary)


def generate_multi(
    spark: SparkSession,
    settings: Settings,
    params,
    generators: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> dict[str, float]:
    """Multi-image instructions (``params``: ``generators.multi.base.Params``); see ``multi.engine``."""
    from provision_spark.generators.multi import engine

    job_params = {
        "k": params.k,
        "count_per_generator": params.count,
        "seed": params.seed,
        "generators": ",".join(generators or []) or "all",
        "sources": ",".join(sources or []) or "all",
    }
    with job_run(settings, "generate-multi", job_params) as run:
        engine.generate_multi(spark, settings, run, params, generators, sources)
        return dict(run.summary)


def ingest_images(spark: SparkSession, settings: Settings, src: str, dataset: str | None = None, **limits) -> dict:
    """Register a folder of images (``perception.ingest``, which opens its run); ``limits``:
    ``max_pixels``, ``max_bytes``."""
    from provision_spark.perception.ingest import ingest_images as run

    return run(spark, settings, src, dataset, **limits)


def perceive(
    spark: SparkSession,
    settings: Settings,
    config,
    stages: Sequence[str] | None = None,
    dataset: str | None = None,
) -> dict[str, dict[str, object]]:
    """The perception stages (``config``: a ``PerceptionConfig``), each its own run inside one ``perceive`` run."""
    from provision_spark.perception.pipeline import perceive as run

    return run(spark, settings, config, stages, dataset)


def create_views(spark: SparkSession, settings: Settings) -> list[str]:
    """(Re)create the SQL views users query; returns their names."""
    from provision_spark.lakehouse import views

    with job_run(settings, "create-views", {}) as run:
        created = views.create_views(spark, settings)
        run.log_metrics({"views": len(created)})
        return created


def tiny_perception(settings: Settings):
    """The tiny random perception models (built once under the lakehouse) and their config."""
    from provision_spark.perception.tiny import build_tiny_models

    return build_tiny_models(Path(settings.lakehouse).resolve() / "models" / "tiny")


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
