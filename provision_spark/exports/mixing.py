"""Training mixes: our instructions mixed into a base instruction dataset, as in the paper's experiments.

- **augment**: the whole base plus ``round(ratio * |base|)`` of ours;
- **replace**: ``round(ratio * |base|)`` base records swapped for as many of ours (size unchanged).

Ours are written in the base's own format (LLaVA, LLaVA-interleave, Mantis or ShareGPT records,
recognised from its fields) with image paths from the path map, so one ``--image_folder`` serves
both. Which records go in or out and their order are seeded hashes: the same inputs and seed give
the same file. JSON lines of the base are kept verbatim; a ``.json`` array is re-serialised.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from provision_spark.exports.formats import Format

MODES = ("augment", "replace")


class BaseNotParsed(ValueError):
    """The base is not a JSON array / JSON lines file of a known record layout."""


def base_format(fields: dict) -> Format:
    """The record layout of the base, from its (Spark-inferred) top-level fields."""
    if "conversation" in fields:
        return Format.mantis
    if "conversations" not in fields:
        raise BaseNotParsed("records have neither 'conversations' (LLaVA/ShareGPT) nor 'conversation' (Mantis)")
    if "images" in fields:
        return Format.sharegpt_jsonl
    image = fields.get("image")
    if isinstance(image, ArrayType):
        return Format.llava_interleave
    if image is None or isinstance(image, StringType):
        return Format.llava
    raise BaseNotParsed(f"'image' is neither a path nor a list of paths ({image.simpleString()})")


def read_base(spark: SparkSession, path: str) -> tuple[DataFrame, Format]:
    """(json): one row per base record, and its format; refused in one line when unreadable."""
    if not path.endswith((".json", ".jsonl")):
        raise BaseNotParsed(f"base must be a .json array or .jsonl file, not {path}")
    multiline = path.endswith(".json")
    try:
        records = spark.read.option("multiLine", multiline).option("mode", "PERMISSIVE").json(path)
        fields = {f.name: f.dataType for f in records.schema.fields}
    except Exception as error:  # a missing file, or not JSON at all
        raise BaseNotParsed(f"cannot read base {path}: {str(error).splitlines()[0]}") from None
    if "_corrupt_record" in fields:
        bad = records.filter(F.col("_corrupt_record").isNotNull()).count() if len(fields) > 1 else "all"
        raise BaseNotParsed(f"cannot parse base {path}: {bad} records are not JSON")
    try:
        fmt = base_format(fields)
    except BaseNotParsed as error:
        raise BaseNotParsed(f"cannot parse base {path}: {error}") from None
    if multiline:
        return records.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in records.columns])).alias("json")), fmt
    lines = spark.read.text(path).filter(F.trim("value") != "").select(F.col("value").alias("json"))
    return lines, fmt


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
