"""The Spark part of single-image generation.

1. Corpus frequencies of object names, attributes and predicates are counted relationally
   (group-bys over the exploded ``scene_graphs`` objects); only these small count tables reach the
   driver and travel to the tasks inside the UDF's closure.
2. ``mapInArrow`` over ``scene_graphs``: per Arrow batch of images, every registered single-image
   generator runs on every image with the seed ``derive_seed(seed, generator, image_id)``, so the
   output does not depend on partitioning; the independent checker then re-derives each answer and
   marks failures (``check_error``). A generator that raises on an image yields a failed row too:
   nothing disappears silently.
3. The marked rows are kept on disk once; passing rows are MERGEd into ``instructions`` (re-runs
   are idempotent), failing rows go to ``quarantine``, and per-generator counts (generated,
   written, dropped by the checker) are logged to the MLflow run.
"""

from __future__ import annotations

import json
import random
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from provision_spark.generators import checker, registry
from provision_spark.generators.canonical import canonical_name, canonical_predicate
from provision_spark.generators.choices import build_mc
from provision_spark.generators.ids import derive_seed, instruction_id, split_for, stable_hash
from provision_spark.generators.registry import Context, GeneratorSpec, Item
from provision_spark.generators.sampling import Frequencies, Sampler
from provision_spark.generators.scene import Scene, scenes_from_arrow
from provision_spark.generators.vocab import norm
from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import failed_instructions
from provision_spark.lakehouse.session import work_partitions

#: Output is handed back to Spark every this many images (bounded worker memory).
SCENES_PER_OUTPUT_BATCH = 500

#: Most entries per frequency table shipped to the tasks (the rest count as rare).
MAX_FREQUENCY_ENTRIES = 200_000

_STRING_LIST = pa.list_(pa.string())
ARROW_SCHEMA = pa.schema(
    [
        ("instruction_id", pa.string()),
        ("generator", pa.string()),
        ("family", pa.string()),
        ("kind", pa.string()),
        ("image_ids", _STRING_LIST),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("mc_question", pa.string()),
        ("choices", _STRING_LIST),
        ("correct_index", pa.int32()),
        ("metadata", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
        ("seed", pa.int64()),
        ("check_error", pa.string()),
    ]
)
SPARK_SCHEMA = (
    "instruction_id string, generator string, family string, kind string, image_ids array<string>, "
    "question string, answer string, mc_question string, choices array<string>, correct_index int, "
    "metadata string, split string, source string, seed bigint, check_error string"
)


# ------------------------------------------------------------------------------- frequencies
def _clean(col):
    return F.lower(F.trim(col))


def frequencies(scene_graphs: DataFrame, limit: int = MAX_FREQUENCY_ENTRIES) -> Frequencies:
    """Counts of names, attributes and predicates over the corpus (group-bys; small results only)."""
    # one pass: every object contributes its name, its attributes and its predicates as (kind, key)
    keys = (
        scene_graphs.select(F.explode("objects").alias("o"))
        .select(
            F.explode(
                F.concat(
                    F.array(F.struct(F.lit("objects").alias("kind"), _clean(F.col("o.name")).alias("key"))),
                    F.transform(
                        F.coalesce("o.attributes", F.array().cast("array<string>")),
                        lambda a: F.struct(F.lit("attributes").alias("kind"), _clean(a).alias("key")),
                    ),
                    F.transform(
                        F.coalesce("o.relations", F.array().cast("array<struct<predicate:string,object_id:string>>")),
                        lambda r: F.struct(F.lit("predicates").alias("kind"), _clean(r["predicate"]).alias("key")),
                    ),
                )
            ).alias("k")
        )
        .select("k.kind", "k.key")
    )
    ranked = (
        keys.groupBy("kind", "key")
        .count()
        .withColumn("rank", F.row_number().over(Window.partitionBy("kind").orderBy(F.desc("count"), "key")))
        .filter(F.col("rank") <= limit)
    )
    tables_: dict[str, dict[str, int]] = {"objects": {}, "attributes": {}, "predicates": {}}
    canonical = {"objects": canonical_name, "predicates": canonical_predicate, "attributes": norm}
    for kind, key, count in ranked.select("kind", "key", "count").collect():
        key = canonical[kind](key) if key else None  # counted as the generators see them: "trees" is "tree"
        if key:
            tables_[kind][key] = tables_[kind].get(key, 0) + int(count)
    return Frequencies(objects=tables_["objects"], attributes=tables_["attributes"], predicates=tables_["predicates"])


# ------------------------------------------------------------------------------- per image
def to_row(
    spec: GeneratorSpec,
    scenes: Sequence[Scene],
    seed: int,
    item: Item,
    rng: random.Random,
) -> dict[str, Any]:
    """An ``instructions`` row (both forms) for ``item``; ``rng`` places the answer among the choices."""
    image_ids = [s.image_id for s in scenes]
    mc = build_mc(item.mc_stem or item.question, item.answer, item.distractors, rng)
    source = "human" if all(s.source == "human" for s in scenes) else "model"
    metadata = dict(item.metadata)
    metadata["mc"] = {"style": mc.style, "label": mc.label}
    return {
        "instruction_id": instruction_id(spec.name, image_ids, seed, item.key),
        "generator": spec.name,
        "family": spec.family,
        "kind": spec.kind,
        "image_ids": image_ids,
        "question": item.question,
        "answer": item.answer,
        "mc_question": mc.question,
        "choices": mc.choices,
        "correct_index": mc.correct_index,
        "metadata": json.dumps(metadata, sort_keys=True, separators=(",", ":"), default=_json_default),
        "split": split_for(source, spec.kind),
        "source": source,
        "seed": seed,
    }


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_generator(
    spec: GeneratorSpec, scenes: Sequence[Scene], seed: int, limit: int, sampler: Any
) -> list[dict[str, Any]]:
    """All rows one generator makes for one image (tuple): seeded by ``derive_seed``, deduplicated by key."""
    if not spec.applies_to(scenes):
        return []
    item_seed = derive_seed(seed, spec.name, [s.image_id for s in scenes])
    rng = random.Random(item_seed)
    ctx = Context(scenes=scenes, rng=rng, sampler=sampler, limit=limit)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in spec.fn(ctx):
        if item.key in seen or not item.distractors:
            continue
        seen.add(item.key)
        rows.append(to_row(spec, scenes, seed, item, random.Random(stable_hash(item_seed, item.key))))
        if len(rows) >= limit:
            break
    return rows


def _error_row(spec: GeneratorSpec, scene: Scene, seed: int, error: str) -> dict[str, Any]:
    return {
        "instruction_id": instruction_id(spec.name, [scene.image_id], seed, "<generator error>"),
        "generator": spec.name,
        "family": spec.family,
        "kind": spec.kind,
        "image_ids": [scene.image_id],
        "question": "",
        "answer": "",
        "mc_question": "",
        "choices": [],
        "correct_index": 0,
        "metadata": json.dumps({"error": error[-2000:]}),
        "split": split_for(scene.source, spec.kind),
        "source": scene.source,
        "seed": seed,
        "check_error": f"generator raised: {error.strip().splitlines()[-1][:500]}",
    }


def generate_for_scene(
    scene: Scene,
    specs: Sequence[GeneratorSpec],
    seed: int,
    per_image: int,
    sampler: Sampler,
    verify: bool = True,
    check_fns: dict | None = None,
) -> list[dict[str, Any]]:
    """Every row the generators make for one image, each with ``check_error`` (None = passed)."""
    check_fns = check_fns if check_fns is not None else {s.name: checker.get_check(s.name) for s in specs}
    out: list[dict[str, Any]] = []
    for spec in specs:
        try:
            rows = run_generator(spec, [scene], seed, per_image, sampler)
        except Exception:  # noqa: BLE001 - one bad image must not stop the job; it is counted instead
            out.append(_error_row(spec, scene, seed, traceback.format_exc()))
            continue
        for row in rows:
            row["check_error"] = checker.failure_reason(row, [scene], check_fns[spec.name]) if verify else None
            out.append(row)
    return out


def make_udf(names: Sequence[str] | None, seed: int, per_image: int, freqs: Frequencies, verify: bool = True):
    """The ``mapInArrow`` function: Arrow batches of ``scene_graphs`` rows -> instruction rows.

    The generator specs and their checks are resolved here, on the driver, and travel in the
    closure (built-in ones by reference), so a generator registered at run time works too.
    """
    specs = registry.registered("single", list(names) if names else None)
    check_fns = {s.name: checker.get_check(s.name) for s in specs}

    def generate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        checker.load_builtin()
        sampler = Sampler(freqs)
        for batch in batches:
            for start in range(0, batch.num_rows, SCENES_PER_OUTPUT_BATCH):
                out: list[dict[str, Any]] = []
                for scene in scenes_from_arrow(batch.slice(start, SCENES_PER_OUTPUT_BATCH)):
                    out.extend(generate_for_scene(scene, specs, seed, per_image, sampler, verify, check_fns))
                if out:
                    yield pa.RecordBatch.from_pylist(out, schema=ARROW_SCHEMA)

    return generate


def generated(
    scene_graphs: DataFrame,
    *,
    seed: int = 0,
    per_image: int = 2,
    generators: Sequence[str] | None = None,
    freqs: Frequencies | None = None,
    verify: bool = True,
) -> DataFrame:
    """Lazily: every generated row (instructions columns + ``check_error``) for ``scene_graphs``."""
    if generators:
        registry.registered("single", generators)  # fail early on unknown names
    freqs = freqs if freqs is not None else frequencies(scene_graphs)
    columns = ["image_id", "dataset", "source", "width", "height", "size_known", "objects", "depth_map"]
    # spread by image over the cluster's tasks: the Python work costs per scene graph, and a table
    # of few large files would otherwise be read (and generated from) by a task or two
    spread = scene_graphs.select(*columns).repartition(work_partitions(scene_graphs.sparkSession), "image_id")
    return spread.mapInArrow(make_udf(generators, seed, per_image, freqs, verify), SPARK_SCHEMA)


# ------------------------------------------------------------------------------- the job
def generate_single(
    spark: SparkSession,
    settings: Settings,
    run,
    *,
    seed: int = 0,
    per_image: int = 2,
    generators: Sequence[str] | None = None,
    scene_graphs: DataFrame | None = None,
) -> dict[str, int]:
    """Generate, verify, MERGE into ``instructions``; quarantine and count what the checker drops.

    ``run`` is the :class:`~provision_spark.lakehouse.tracking.JobRun`; returns {generator: rows written}.
    """
    tables.ensure_tables(spark, settings, ["instructions", "quarantine"])
    source = scene_graphs if scene_graphs is not None else tables.read_table(spark, settings, "scene_graphs")
    clock = time.perf_counter()
    freqs = frequencies(source)
    timings = {"instructions.seconds.frequencies": time.perf_counter() - clock}
    rows = generated(source, seed=seed, per_image=per_image, generators=generators, freqs=freqs)
    rows = rows.persist(StorageLevel.DISK_ONLY)
    try:
        clock = time.perf_counter()
        counts: dict[str, list[int]] = {}
        for gen, failed, n in rows.groupBy("generator", F.col("check_error").isNotNull()).count().collect():
            counts.setdefault(gen, [0, 0])[1 if failed else 0] += int(n)
        timings["instructions.seconds.generate_and_check"] = time.perf_counter() - clock
        clock = time.perf_counter()
        passed = rows.filter(F.col("check_error").isNull()).drop("check_error")
        tables.merge_into(spark, settings, "instructions", passed, run_id=run.run_id)
        timings["instructions.seconds.merge"] = time.perf_counter() - clock
        failed = rows.filter(F.col("check_error").isNotNull())
        if sum(c[1] for c in counts.values()):
            quarantined = failed_instructions(failed, "check_error")
            tables.merge_into(spark, settings, "quarantine", quarantined, run_id=run.run_id)
    finally:
        rows.unpersist()

    run.log_metrics(timings)
    written: dict[str, int] = {}
    for gen in sorted(counts):
        ok, bad = counts[gen]
        run.log_counts(f"instructions.{gen}", ok + bad, ok, bad)
        written[gen] = ok
    total_ok = sum(c[0] for c in counts.values())
    total_bad = sum(c[1] for c in counts.values())
    run.log_counts("instructions", total_ok + total_bad, total_ok, total_bad)
    return written
