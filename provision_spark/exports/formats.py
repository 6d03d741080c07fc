"""The record layouts trainers read, built as Spark columns from one conversation per instruction.

Every row of ``instructions`` holds both forms; ``mc_ratio`` picks the multiple-choice form for
that share of rows (a seeded hash of the id, so the same seed gives the same file whatever the
partitioning). The human turn carries one ``<image>`` token per image:

- one image: ``<image>\\n`` before the prompt (``image_placement`` before/after/random);
- several: ``Image 1: <image>\\nImage 2: <image>\\n`` then the prompt, numbered as the question names them.

A short answer gets LLaVA-1.5's instruction (``short_answer_suffix``), a multiple-choice reply is
the right choice's label, as its prompt asks.

Layouts (checked against each trainer's loader, see docs/exports.md):

- ``llava`` (LLaVA-1.5): JSON array; ``image`` a string, ``conversations`` with ``from``/``value``;
  single-image rows only (its loader opens one image).
- ``llava-interleave`` (LLaVA-NeXT / OneVision): JSON array; ``image`` always a list.
- ``mantis`` (Mantis): JSON array; ``images`` a list, ``conversation`` with ``role``/``content``.
- ``sharegpt-jsonl`` (LLaMA-Factory ShareGPT, ``datasets.load_dataset("json")``): one record a line;
  ``images`` a list, ``conversations`` with ``from``/``value``.
- ``hf-parquet``: a Hugging Face dataset folder, see ``exports/hf.py``.
"""

from __future__ import annotations

import enum

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LLAVA_SHORT_ANSWER = "Answer the question using a single word or phrase."


class Format(str, enum.Enum):
    llava = "llava"
    llava_interleave = "llava-interleave"
    mantis = "mantis"
    sharegpt_jsonl = "sharegpt-jsonl"
    hf_parquet = "hf-parquet"


class Placement(str, enum.Enum):
    before = "before"
    after = "after"
    random = "random"


#: Formats whose loader reads one image per record.
SINGLE_IMAGE_ONLY = {Format.llava}
#: Formats written as one JSON array (``json.load``), the rest as JSON lines or Parquet.
JSON_ARRAY = {Format.llava, Format.llava_interleave, Format.mantis}


def unit_hash(seed: int, salt: str, column: str = "instruction_id") -> Column:
    """A number in [0, 1) from (seed, salt, column): the same per row whatever the partitioning."""
    return F.pmod(F.xxhash64(F.lit(int(seed)), F.lit(salt), F.col(column)), F.lit(1_000_000)) / F.lit(1_000_000.0)


def conversation(
    rows: DataFrame,
    *,
    mc_ratio: float = 0.5,
    image_placement: Placement | str = Placement.before,
    short_answer_suffix: str | None = LLAVA_SHORT_ANSWER,
    seed: int = 0,
) -> DataFrame:
    """``rows`` (instructions with ``image_paths``) plus ``multiple_choice``, ``prompt`` (with ``<image>``
    tokens) and ``reply``."""
    if not 0.0 <= mc_ratio <= 1.0:
        raise ValueError("mc_ratio must be between 0 and 1")
    placement = Placement(image_placement)
    is_mc = unit_hash(seed, "mc") < F.lit(float(mc_ratio))
    short = F.col("question")
    if short_answer_suffix:
        short = F.concat(short, F.lit("\n" + short_answer_suffix))
    text = F.when(F.col("multiple_choice"), F.col("mc_question")).otherwise(short)
    reply = F.when(F.col("multiple_choice"), F.get_json_object("metadata", "$.mc.label")).otherwise(F.col("answer"))
    if placement is Placement.random:
        before = unit_hash(seed, "placement") < F.lit(0.5)
    else:
        before = F.lit(placement is Placement.before)
    one = F.when(before, F.concat(F.lit("<image>\n"), text)).otherwise(F.concat(text, F.lit("\n<image>")))
    labels = F.transform("image_ids", lambda _, i: F.format_string("Image %d: <image>", i + 1))
    many = F.when(before, F.concat(F.array_join(labels, "\n"), F.lit("\n"), text)).otherwise(
        F.concat(text, F.lit("\n"), F.array_join(labels, "\n"))
    )
    prompt = F.when(F.size("image_ids") == 1, one).otherwise(many)
    return rows.withColumn("multiple_choice", is_mc).withColumn("prompt", prompt).withColumn("reply", reply)


def _turns(user: str, assistant: str, speaker: str, text: str) -> Column:
    return F.array(
        F.struct(F.lit(user).alias(speaker), F.col("prompt").alias(text)),
        F.struct(F.lit(assistant).alias(speaker), F.col("reply").alias(text)),
    )


def record(fmt: Format | str) -> Column:
    """The JSON text of one record in ``fmt`` (any JSON format), from a ``conversation`` row."""
    fmt = Format(fmt)
    sharegpt = _turns("human", "gpt", "from", "value").alias("conversations")
    ident = F.col("instruction_id").alias("id")
    if fmt is Format.llava:
        fields = [ident, F.col("image_paths")[0].alias("image"), sharegpt]
    elif fmt is Format.llava_interleave:
        fields = [ident, F.col("image_paths").alias("image"), sharegpt]
    elif fmt is Format.mantis:
        fields = [
            ident,
            F.col("image_paths").alias("images"),
            _turns("user", "assistant", "role", "content").alias("conversation"),
        ]
    elif fmt is Format.sharegpt_jsonl:
        fields = [ident, F.col("image_paths").alias("images"), sharegpt]
    else:
        raise ValueError(f"{fmt.value} is not a JSON format")
    return F.to_json(F.struct(*fields))
