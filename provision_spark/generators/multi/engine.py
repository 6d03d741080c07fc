"""``generate-multi``: run the registered multi-image generators, check, write, account for shortfall.

One Spark plan per generator (relational: anchors, hash-bucket draws, anti-joins on meaning keys),
their union worded once (``render``) and kept on disk, the independent checker over it, passing
rows MERGEd into ``instructions``. Nothing loops until a quota is met: each generator builds at
most ``count * oversample`` candidates, so a corpus that cannot supply the count (attribute
questions on an attribute-free corpus) yields what exists, and the shortfall per generator goes to
MLflow and the returned summary.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import mlflow
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark import tables
from provision_spark.config import Settings
from provision_spark.generators.multi.base import Params, multi_generators
from provision_spark.generators.multi.checker import check
from provision_spark.generators.multi.inputs import MultiInputs, load_inputs
from provision_spark.generators.multi.render import render
from provision_spark.tracking import job_run


def inputs_from_tables(spark: SparkSession, settings: Settings, sources: Sequence[str] | None = None) -> MultiInputs:
    read = lambda name: tables.read_table(spark, settings, name)  # noqa: E731
    return load_inputs(spark, read("objects"), read("attributes"), read("relations"), list(sources or []))


def generate(inputs: MultiInputs, params: Params, names: Sequence[str] | None = None) -> DataFrame:
    """The worded (unchecked) ``instructions`` rows of every selected generator."""
    facts = None
    for generator in multi_generators(list(names) if names else None):
        part = generator.facts(inputs, params)
        facts = part if facts is None else facts.unionByName(part)
    if facts is None:
        raise ValueError("no multi-image generators selected")
    return render(facts, params.seed)


@dataclasses.dataclass
class Produced:
    """A run's rows before the write: all worded rows, the checker's verdicts, counts per generator."""

    rendered: DataFrame
    passed: DataFrame
    verdicts: DataFrame
    counts: dict[str, dict[str, int]]

    def unpersist(self) -> None:
        self.verdicts.unpersist()
        self.rendered.unpersist()


def produce(inputs: MultiInputs, params: Params, names: Sequence[str] | None = None) -> Produced:
    """Generate, word and check (both kept for the run); counts per generator of what came out."""
    selected = [g.name for g in multi_generators(list(names) if names else None)]
    # checkpointed: the checker's plan starts from these rows, not from the generators' plans
    rendered = generate(inputs, params, selected).localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
    passed, judged = check(inputs, rendered, selected)
    judged = judged.persist(StorageLevel.MEMORY_AND_DISK)
    counts = {g: {"requested": params.count, "produced": 0, "failed": 0} for g in selected}
    for row in judged.groupBy("generator", "ok").count().collect():
        counts[row["generator"]]["produced"] += row["count"]
        if not row["ok"]:
            counts[row["generator"]]["failed"] += row["count"]
    for c in counts.values():
        c["written"] = c["produced"] - c["failed"]
        c["shortfall"] = max(0, c["requested"] - c["written"])
    return Produced(rendered, passed, judged, counts)


def run_generate_multi(
    spark: SparkSession,
    settings: Settings,
    params: Params,
    generators: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> dict[str, float]:
    """The job: generate, check and MERGE multi-image instructions; returns the logged summary.

    Summary keys: ``multi.<generator>.{requested,produced,failed,written,shortfall}``,
    ``multi.written``, ``multi.shortfall``, ``multi.seconds``, ``multi.per_second``.
    """
    tables.ensure_tables(spark, settings)
    job_params = {"k": params.k, "count_per_generator": params.count, "seed": params.seed,
                  "generators": ",".join(generators or []) or "all", "sources": ",".join(sources or []) or "all"}
    with job_run(settings, "generate-multi", job_params) as run:
        started = time.perf_counter()
        inputs = inputs_from_tables(spark, settings, sources).persist()
        produced = produce(inputs, params, generators)
        try:
            tables.merge_into(spark, settings, "instructions", produced.passed, run.run_id)
            failures = produced.verdicts.filter(~F.col("ok")).select("generator", "reason").limit(20).collect()
        finally:
            produced.unpersist()
            inputs.unpersist()
        counts = produced.counts
        seconds = time.perf_counter() - started
        metrics: dict[str, float] = {}
        for name, c in counts.items():
            metrics.update({f"multi.{name}.{key}": value for key, value in c.items()})
        written = sum(c["written"] for c in counts.values())
        metrics.update({
            "multi.written": written,
            "multi.failed": sum(c["failed"] for c in counts.values()),
            "multi.shortfall": sum(c["shortfall"] for c in counts.values()),
            "multi.seconds": round(seconds, 3),
            "multi.per_second": round(written / seconds, 1) if seconds else 0.0,
        })
        run.log_metrics(metrics)
        if failures:
            mlflow.log_dict({"failures": [r.asDict() for r in failures]}, "multi_checker_failures.json",
                            run_id=run.run_id)
        return run.summary
