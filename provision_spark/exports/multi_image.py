"""Multi-image instructions -> the multi-image conversation format (JSON lines), in Spark.

One line per instruction, the images numbered from 1 in the order the question names them::

    {"id": "...", "images": ["gqa/1.jpg", "gqa/2.jpg"],
     "conversations": [{"from": "human", "value": "Image 1: <image>\\nImage 2: <image>\\nWhich image has a dog?"},
                       {"from": "gpt", "value": "Image 2"}]}

``mc_ratio`` picks the short-answer or multiple-choice form per row by a seeded hash of its id
(0 = all short answer, 1 = all multiple choice); a multiple-choice reply is the right choice's
label, as its prompt asks.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.tables import read_table


def unit_hash(seed: int, salt: str, *cols: str) -> Column:
    """A number in [0, 1) from (seed, salt, cols): the same per row whatever the partitioning."""
    return F.pmod(F.xxhash64(F.lit(int(seed)), F.lit(salt), *[F.col(c) for c in cols]), F.lit(1_000_000)) / F.lit(
        1_000_000.0
    )


def is_multiple_choice(seed: int, mc_ratio: float) -> Column:
    """Whether a row is shown in its multiple-choice form."""
    if not 0.0 <= mc_ratio <= 1.0:
        raise ValueError("mc_ratio must be between 0 and 1")
    return unit_hash(seed, "mc", "instruction_id") < F.lit(float(mc_ratio))


def image_paths(instructions: DataFrame, images: DataFrame) -> DataFrame:
    """``instructions`` with ``image_paths``: each image's uri (its id when the uri is unknown), in order."""
    exploded = instructions.select("instruction_id", F.posexplode("image_ids").alias("pos", "image_id"))
    paths = (
        exploded.join(images.select("image_id", "uri"), "image_id", "left")
        .groupBy("instruction_id")
        .agg(F.array_sort(F.collect_list(F.struct("pos", F.coalesce("uri", "image_id").alias("path")))).alias("p"))
        .select("instruction_id", F.col("p.path").alias("image_paths"))
    )
    return instructions.join(paths, "instruction_id")


def multi_frame(instructions: DataFrame, images: DataFrame, *, mc_ratio: float = 0.5, seed: int = 0) -> DataFrame:
    """(instruction_id, split, generator, multiple_choice, json): one conversation record per row."""
    mc = is_multiple_choice(seed, mc_ratio)
    df = image_paths(instructions, images).withColumn("multiple_choice", mc)
    prompt = F.when(F.col("multiple_choice"), F.col("mc_question")).otherwise(F.col("question"))
    reply = F.when(F.col("multiple_choice"), F.get_json_object("metadata", "$.mc.label")).otherwise(F.col("answer"))
    labels = F.transform(
        "image_ids", lambda _, i: F.concat(F.lit("Image "), (i + 1).cast("string"), F.lit(": <image>"))
    )
    human = F.concat(F.array_join(labels, "\n"), F.lit("\n"), prompt)
    conversations = F.array(
        F.struct(F.lit("human").alias("from"), human.alias("value")),
        F.struct(F.lit("gpt").alias("from"), reply.alias("value")),
    )
    record = F.to_json(
        F.struct(
            F.col("instruction_id").alias("id"),
            F.col("image_paths").alias("images"),
            conversations.alias("conversations"),
        )
    )
    return df.select("instruction_id", "split", "generator", "multiple_choice", record.alias("json"))


def write_lines(frame: DataFrame, out: Path, order: Column, *, as_array: bool = False) -> None:
    """Write ``frame.json`` to the file ``out``, one record a line in ``order`` (a JSON array if asked).

    Spark writes part files into a staging folder beside ``out``; they are concatenated in order by
    streaming, never collected.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        frame.orderBy(order).select("json").write.mode("overwrite").text(str(staging / "parts"))
        with out.open("w", encoding="utf-8") as sink:
            first = True
            if as_array:
                sink.write("[\n")
            for part in sorted((staging / "parts").glob("part-*")):
                with part.open("r", encoding="utf-8") as source:
                    for line in source:
                        if as_array:
                            sink.write(("" if first else ",\n") + line.rstrip("\n"))
                            first = False
                        else:
                            sink.write(line)
            if as_array:
                sink.write("\n]\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_multi(
    spark: SparkSession,
    settings: Settings,
    out: Path,
    *,
    mc_ratio: float = 0.5,
    splits: Sequence[str] | None = None,
    generators: Sequence[str] | None = None,
    seed: int = 0,
) -> int:
    """Write the multi-image instructions (``kind='multi'``) to the JSONL file ``out``; returns the lines."""
    rows = read_table(spark, settings, "instructions").filter(F.col("kind") == "multi")
    if splits:
        rows = rows.filter(F.col("split").isin(list(splits)))
    if generators:
        rows = rows.filter(F.col("generator").isin(list(generators)))
    frame = multi_frame(rows, read_table(spark, settings, "images"), mc_ratio=mc_ratio, seed=seed).persist()
    try:
        write_lines(frame, out, F.col("instruction_id"))
        return frame.count()
    finally:
        frame.unpersist()
