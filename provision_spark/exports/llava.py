"""Export ``instructions`` to the LLaVA conversation format (JSON lines), in Spark.

One line per instruction::

    {"id": "...", "image": "images/baseball_1.png",
     "conversations": [{"from": "human", "value": "<image>\\nHow many bats are there?"},
                       {"from": "gpt", "value": "1"}]}

Every row holds both forms; ``mc_ratio`` picks the mix (0 = all short answer, 1 = all multiple
choice, 0.5 = half-half, any ratio between). The pick and, with ``image_placement="random"``, the
placement of ``<image>`` are hashes of (seed, instruction id): the same seed gives the same file
whatever the partitioning. Multi-image rows get one ``<image>`` per image and ``image`` as a list.
A multiple-choice answer is the label of the right choice ("B", "2", ...), as its prompt asks.
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

PLACEMENTS = ("before", "after", "random")


def _unit_hash(seed: int, salt: str, column: str) -> Column:
    """A number in [0, 1) from (seed, salt, column): deterministic per row."""
    return F.pmod(F.xxhash64(F.lit(int(seed)), F.lit(salt), F.col(column)), F.lit(1_000_000)) / F.lit(1_000_000.0)


def llava_frame(
    instructions: DataFrame,
    images: DataFrame | None = None,
    *,
    mc_ratio: float = 0.5,
    image_placement: str = "before",
    seed: int = 0,
) -> DataFrame:
    """``instructions`` rows -> one column ``json`` (a LLaVA record) plus ``instruction_id`` to order by."""
    if not 0.0 <= mc_ratio <= 1.0:
        raise ValueError("mc_ratio must be between 0 and 1")
    if image_placement not in PLACEMENTS:
        raise ValueError(f"image_placement must be one of {PLACEMENTS}")
    df = instructions
    if images is not None:
        exploded = df.select("instruction_id", F.posexplode("image_ids").alias("pos", "image_id"))
        paths = (
            exploded.join(images.select("image_id", "uri"), "image_id", "left")
            .select("instruction_id", "pos", F.coalesce("uri", "image_id").alias("path"))
            .groupBy("instruction_id")
            .agg(F.sort_array(F.collect_list(F.struct("pos", "path"))).alias("paths"))
            .select("instruction_id", F.col("paths.path").alias("image_paths"))
        )
        df = df.join(paths, "instruction_id", "left")
        df = df.withColumn("image_paths", F.coalesce("image_paths", "image_ids"))
    else:
        df = df.withColumn("image_paths", F.col("image_ids"))

    is_mc = _unit_hash(seed, "mc", "instruction_id") < F.lit(float(mc_ratio))
    prompt = F.when(is_mc, F.col("mc_question")).otherwise(F.col("question"))
    reply = F.when(is_mc, F.get_json_object("metadata", "$.mc.label")).otherwise(F.col("answer"))
    n_images = F.size("image_ids")
    tokens = F.array_join(F.array_repeat(F.lit("<image>"), n_images), "\n")
    if image_placement == "before":
        before = F.lit(True)
    elif image_placement == "after":
        before = F.lit(False)
    else:
        before = _unit_hash(seed, "placement", "instruction_id") < F.lit(0.5)
    human = F.when(before, F.concat(tokens, F.lit("\n"), prompt)).otherwise(F.concat(prompt, F.lit("\n"), tokens))
    conversations = F.array(
        F.struct(F.lit("human").alias("from"), human.alias("value")),
        F.struct(F.lit("gpt").alias("from"), reply.alias("value")),
    )
    single = F.to_json(
        F.struct(
            F.col("instruction_id").alias("id"),
            F.col("image_paths")[0].alias("image"),
            conversations.alias("conversations"),
        )
    )
    multi = F.to_json(
        F.struct(
            F.col("instruction_id").alias("id"),
            F.col("image_paths").alias("image"),
            conversations.alias("conversations"),
        )
    )
    return df.select("instruction_id", F.when(n_images == 1, single).otherwise(multi).alias("json"))


def export_llava(
    spark: SparkSession,
    settings: Settings,
    out: Path,
    *,
    mc_ratio: float = 0.5,
    image_placement: str = "before",
    splits: Sequence[str] | None = None,
    generators: Sequence[str] | None = None,
    kind: str | None = None,
    seed: int = 0,
) -> int:
    """Write the LLaVA JSONL file ``out`` (ordered by instruction id) and return its number of lines.

    Spark writes part files into a temporary folder beside ``out``; they are then concatenated
    in order on the driver by streaming bytes (nothing is collected into memory).
    """
    instructions = read_table(spark, settings, "instructions")
    if splits:
        instructions = instructions.filter(F.col("split").isin(list(splits)))
    if generators:
        instructions = instructions.filter(F.col("generator").isin(list(generators)))
    if kind:
        instructions = instructions.filter(F.col("kind") == kind)
    images = read_table(spark, settings, "images")
    frame = llava_frame(instructions, images, mc_ratio=mc_ratio, image_placement=image_placement, seed=seed)
    frame = frame.persist()
    try:
        n = frame.count()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            frame.orderBy("instruction_id").select("json").write.mode("overwrite").text(str(staging / "parts"))
            with out.open("wb") as sink:
                for part in sorted((staging / "parts").glob("part-*")):
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, sink, length=1 << 20)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        frame.unpersist()
    return n
