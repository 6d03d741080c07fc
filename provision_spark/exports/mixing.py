"""Training mixes: our instructions mixed into a base LLaVA-style dataset, as in the paper's experiments.

- **augment**: the whole base plus ``round(ratio * |base|)`` of ours;
- **replace**: ``round(ratio * |base|)`` base records swapped for as many of ours (size unchanged).

Ours are drawn from the chosen splits (VG-S / VG-M human scene graphs, DC-S / DC-M model-made), each
shown in its short-answer or multiple-choice form (``mc_ratio`` of them multiple choice); which
records go in or out and their order are seeded hashes, so the same inputs and seed give the same
file. The base (``.json`` array or ``.jsonl``) is read by Spark; its records are kept verbatim for
JSON lines. ``manifest.json`` beside the output records what went in: counts per split,
generator and form, the base's size and checksum, the Delta version of ``instructions``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from provision_spark.exports.llava import llava_frame
from provision_spark.exports.multi_image import is_multiple_choice, multi_frame, write_lines
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.tables import read_table, table_name

MODES = ("augment", "replace")
SPLITS = ("VG-S", "VG-M", "DC-S", "DC-M")


def read_base(spark: SparkSession, path: Path) -> DataFrame:
    """(json): one row per base record; ``.jsonl`` lines verbatim, a ``.json`` array re-serialised."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return spark.read.text(str(path)).filter(F.trim("value") != "").select(F.col("value").alias("json"))
    if path.suffix == ".json":
        records = spark.read.option("multiLine", True).json(str(path))
        return records.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in records.columns])).alias("json"))
    raise ValueError(f"base must be a .json array or .jsonl file, not {path.name}")


def ours_frame(instructions: DataFrame, images: DataFrame, *, mc_ratio: float, seed: int) -> DataFrame:
    """(instruction_id, split, generator, multiple_choice, json): our rows in LLaVA form, single and multi."""
    single_rows = instructions.filter(F.col("kind") == "single")
    single = (
        llava_frame(single_rows, images, mc_ratio=mc_ratio, seed=seed)
        .join(single_rows.select("instruction_id", "split", "generator"), "instruction_id")
        .withColumn("multiple_choice", is_multiple_choice(seed, mc_ratio))
    )
    multi = multi_frame(instructions.filter(F.col("kind") == "multi"), images, mc_ratio=mc_ratio, seed=seed)
    columns = ["instruction_id", "split", "generator", "multiple_choice", "json"]
    return single.select(*columns).unionByName(multi.select(*columns))


def plan_mix(
    base: DataFrame, ours: DataFrame, *, mode: str, ratio: float, seed: int
) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """(chosen rows of ours, base rows kept, counts). Pure: DataFrames in, DataFrames out.

    The rows of ours and the base rows to replace are the first in a seeded hash order; identical
    base lines are told apart by their occurrence number, so the choice depends on content only.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if ratio < 0 or (mode == "replace" and ratio > 1):
        raise ValueError("ratio must be >= 0 (and <= 1 to replace)")
    n_base = base.count()
    wanted = round(ratio * n_base)
    chosen = (
        ours.withColumn("_h", F.xxhash64(F.lit(seed), F.lit("mix"), "instruction_id"))
        .orderBy("_h", "instruction_id")
        .limit(wanted)
    )
    n_ours = chosen.count()
    occurrence = F.row_number().over(Window.partitionBy("json").orderBy("json"))
    keyed = base.withColumn("_occurrence", occurrence).withColumn(
        "_h", F.xxhash64(F.lit(seed), F.lit("replace"), "json", "_occurrence")
    )
    n_replaced = n_ours if mode == "replace" else 0
    replaced = keyed.orderBy("_h", "_occurrence").limit(n_replaced)
    kept = keyed.join(replaced.select("json", "_occurrence"), ["json", "_occurrence"], "left_anti")
    counts = {
        "base": n_base,
        "wanted": wanted,
        "ours": n_ours,
        "base_replaced": n_replaced,
        "base_kept": n_base - n_replaced,
        "shortfall": wanted - n_ours,
    }
    return chosen.drop("_h"), kept.select("json", "_occurrence"), counts


def mix(
    spark: SparkSession,
    settings: Settings,
    base_path: Path,
    out_dir: Path,
    *,
    mode: str,
    ratio: float,
    mc_ratio: float = 0.5,
    splits: Sequence[str] = SPLITS,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``out_dir/mix.<json|jsonl>`` (the base's format) and ``out_dir/manifest.json``; return the manifest."""
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; one of {SPLITS}")
    base_path, out_dir = Path(base_path), Path(out_dir)
    instructions = read_table(spark, settings, "instructions").filter(F.col("split").isin(list(splits)))
    ours = ours_frame(instructions, read_table(spark, settings, "images"), mc_ratio=mc_ratio, seed=seed)
    base = read_base(spark, base_path).persist()
    try:
        chosen, kept, counts = plan_mix(base, ours, mode=mode, ratio=ratio, seed=seed)
        chosen = chosen.persist()
        form = F.when(F.col("multiple_choice"), "multiple_choice").otherwise("short_answer").alias("form")
        breakdown = {
            key: {r[0]: r[1] for r in chosen.groupBy(column).count().collect()}
            for key, column in (("split", F.col("split")), ("generator", F.col("generator")), ("form", form))
        }
        order_key = F.xxhash64(F.lit(seed), F.lit("order"), "json", "_occurrence")
        rows = kept.unionByName(chosen.select("json", F.lit(0).alias("_occurrence")))
        out = out_dir / f"mix{base_path.suffix}"
        write_lines(rows, out, order_key, as_array=base_path.suffix == ".json")
        chosen.unpersist()
    finally:
        base.unpersist()
    manifest = {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "output": {"path": str(out), "rows": counts["base_kept"] + counts["ours"]},
        "base": {"path": str(base_path), "rows": counts["base"], "sha256": _sha256(base_path)},
        "mode": mode,
        "ratio": ratio,
        "mc_ratio": mc_ratio,
        "seed": seed,
        "splits": list(splits),
        "ours": {
            "requested": counts["wanted"],
            "added": counts["ours"],
            "shortfall": counts["shortfall"],
            "by_split": breakdown["split"],
            "by_generator": breakdown["generator"],
            "by_form": {
                "short_answer": breakdown["form"].get("short_answer", 0),
                "multiple_choice": breakdown["form"].get("multiple_choice", 0),
            },
        },
        "base_kept": counts["base_kept"],
        "base_replaced": counts["base_replaced"],
        "instructions": {"table": table_name(settings, "instructions"), "version": _delta_version(spark, settings)},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _delta_version(spark: SparkSession, settings: Settings) -> int:
    """The ``instructions`` table version the mix was drawn from (reproducible with time travel)."""
    return spark.sql(f"DESCRIBE HISTORY {table_name(settings, 'instructions')} LIMIT 1").collect()[0]["version"]
