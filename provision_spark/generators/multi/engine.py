"""``generate-multi``: run the registered multi-image generators, check, write, account for shortfall.

One Spark plan per generator (relational: runs of images per key, bucket draws, anti-joins on
meaning keys), their union measured against the images' whole content (the independent checker's
re-derivation), worded and judged in one Python pass (``render``) and kept for the run, passing
rows MERGEd into ``instructions``. Nothing loops until a quota is met: each generator builds at
most ``count * oversample`` candidates, so a corpus that cannot supply the count (attribute
questions on an attribute-free corpus) yields what exists, and the shortfall per generator goes to
MLflow and the returned summary.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.generators.multi.base import Params, multi_generators
from provision_spark.generators.multi.checker import judged
from provision_spark.generators.multi.inputs import MultiInputs, load_inputs, release
from provision_spark.generators.multi.render import render, rendered_schema
from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import failed_instructions


def inputs_from_tables(spark: SparkSession, settings: Settings, sources: Sequence[str] | None = None) -> MultiInputs:
    # read side by side: opening a Delta table replays its log in a few small jobs
    with ThreadPoolExecutor(max_workers=3) as pool:
        objects, attributes, relations = pool.map(
            lambda name: tables.read_table(spark, settings, name), ("objects", "attributes", "relations")
        )
    return load_inputs(spark, objects, attributes, relations, list(sources or []))


def generate(inputs: MultiInputs, params: Params, names: Sequence[str] | None = None) -> DataFrame:
    """The facts rows (``FACT_COLUMNS``) of every selected generator, unchecked and unworded.

    The generators' plans are built side by side, in threads: building one runs small jobs (the
    key-size histograms of its round cutoffs, the first computation of the pools it reads) that
    would otherwise leave the cluster idle one after the other.
    """
    generators = multi_generators(list(names) if names else None)
    if not generators:
        raise ValueError("no multi-image generators selected")
    inputs.derive()  # every shared relation made once, here, before the threads read them
    with ThreadPoolExecutor(max_workers=len(generators) + 1) as pool:
        sized = pool.submit(lambda: inputs.broadcast_scenes)  # the checker's join strategy, meanwhile
        parts = list(pool.map(lambda generator: generator.facts(inputs, params), generators))
        sized.result()
    return functools.reduce(DataFrame.unionByName, parts)


@dataclasses.dataclass
class Produced:
    """A run's rows before the write: all worded rows (with the checker's ``ok`` and ``reason``), the
    passing ones, the verdicts, counts per generator."""

    rendered: DataFrame
    passed: DataFrame
    verdicts: DataFrame
    counts: dict[str, dict[str, int]]

    def unpersist(self) -> None:
        release(self.rendered)


def produce(inputs: MultiInputs, params: Params, names: Sequence[str] | None = None) -> Produced:
    """Generate, measure, word and check (kept for the run); counts per generator of what came out.

    One Spark job: the generators' plans, their union measured against the images' content, and
    the Python pass that words and judges each row.
    """
    selected = [g.name for g in multi_generators(list(names) if names else None)]
    facts = generate(inputs, params, selected).drop("anchor_rank", "anchor_hash")
    rendered = render(judged(inputs, facts, selected, params.k), params.seed, selected).localCheckpoint(
        eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK
    )
    counts = {g: {"requested": params.count, "produced": 0, "failed": 0} for g in selected}
    for row in rendered.groupBy("generator", "ok").count().collect():
        counts[row["generator"]]["produced"] += row["count"]
        if not row["ok"]:
            counts[row["generator"]]["failed"] += row["count"]
    for c in counts.values():
        c["written"] = c["produced"] - c["failed"]
        c["shortfall"] = max(0, c["requested"] - c["written"])
    columns = [f.name for f in rendered_schema().fields]
    return Produced(
        rendered,
        rendered.filter("ok").select(*columns),
        rendered.select("instruction_id", "generator", "ok", "reason"),
        counts,
    )


def generate_multi(
    spark: SparkSession,
    settings: Settings,
    run,
    params: Params,
    generators: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> None:
    """Generate, check and MERGE multi-image instructions; items the checker refuses go to
    ``quarantine``. Logs to ``run`` (a :class:`~provision_spark.lakehouse.tracking.JobRun`):

    ``multi.<generator>.{requested,produced,failed,written,shortfall}``, ``multi.written``,
    ``multi.failed``, ``multi.shortfall``, ``multi.seconds``, ``multi.per_second`` and the phases'
    ``multi.seconds.{inputs,produce,write}`` (flat rows read and kept; generated, checked and worded;
    MERGEd), and ``multi.scenes.{bytes,broadcast}`` (the estimated size of the per-image scene arrays
    the checker joins, and whether that join was a broadcast).
    """
    tables.ensure_tables(spark, settings)
    started = time.perf_counter()
    inputs = inputs_from_tables(spark, settings, sources).persist()
    phases = {"inputs": time.perf_counter() - started}
    produced = produce(inputs, params, generators)
    phases["produce"] = time.perf_counter() - started - phases["inputs"]
    counts = produced.counts
    try:
        # instruction ids hash (generator, images, seed, item key): one row each by construction
        tables.merge_into(spark, settings, "instructions", produced.passed, run.run_id, unique_keys=True, kept=True)
        if any(c["failed"] for c in counts.values()):
            failed = failed_instructions(produced.rendered.filter(~F.col("ok")), "reason")
            tables.merge_into(spark, settings, "quarantine", failed, run.run_id)
    finally:
        produced.unpersist()
        inputs.unpersist()
    seconds = time.perf_counter() - started
    phases["write"] = seconds - phases["inputs"] - phases["produce"]
    metrics: dict[str, float] = {f"multi.seconds.{phase}": round(s, 3) for phase, s in phases.items()}
    metrics.update({"multi.scenes.bytes": inputs.scenes_bytes, "multi.scenes.broadcast": int(inputs.broadcast_scenes)})
    for name, c in counts.items():
        metrics.update({f"multi.{name}.{key}": value for key, value in c.items()})
    written = sum(c["written"] for c in counts.values())
    metrics.update(
        {
            "multi.written": written,
            "multi.failed": sum(c["failed"] for c in counts.values()),
            "multi.shortfall": sum(c["shortfall"] for c in counts.values()),
            "multi.seconds": round(seconds, 3),
            "multi.per_second": round(written / seconds, 1) if seconds else 0.0,
        }
    )
    run.log_metrics(metrics)
