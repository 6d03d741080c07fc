"""Facts rows -> ``instructions`` rows: English and multiple-choice form, per row, in Python.

The relational generators decide *what* is asked; this step only words it, with the shared
``language`` helpers and ``choices.build_mc`` (the same formatting as the single-image items). It
runs as ``mapInArrow`` on the executors, seeded per item (``stable_hash(seed, generator, key)``),
so the text does not depend on partitioning.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from provision_spark import tables
from provision_spark.generators import registry
from provision_spark.generators.choices import build_mc
from provision_spark.generators.multi.base import FACTS_DDL, MULTI

KIND = "multi"


def rendered_schema() -> StructType:
    """The ``instructions`` columns a run produces (``run_id`` is stamped at the write)."""
    return StructType([f for f in tables.schema_of("instructions").fields if f.name != "run_id"])


def render(facts: DataFrame, seed: int) -> DataFrame:
    """Word every facts row (``FACT_COLUMNS``) as an ``instructions`` row."""
    schema = rendered_schema()
    arrow_schema = to_arrow_schema(schema)

    def words(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        registry.load_builtin()
        for batch in batches:
            rows = [render_row(row, seed) for row in batch.to_pylist()]
            yield pa.RecordBatch.from_pylist(rows, schema=arrow_schema)

    return facts.select("generator", "source", "item_key", "image_ids", "facts").mapInArrow(words, schema)


def render_row(row: dict[str, Any], seed: int) -> dict[str, Any]:
    generator = MULTI[row["generator"]]
    rng = random.Random(registry.stable_hash(seed, row["generator"], row["item_key"]))
    text = generator.render(row, rng)
    mc = build_mc(text.mc_stem or text.question, text.mc_answer or text.answer, text.distractors, rng)
    metadata = {k: v for k, v in row["facts"].items() if v is not None}
    metadata["mc"] = {"style": mc.style, "label": mc.label}
    return {
        "instruction_id": registry.instruction_id(row["generator"], row["image_ids"], seed, row["item_key"]),
        "generator": row["generator"],
        "family": generator.family,
        "kind": KIND,
        "image_ids": row["image_ids"],
        "question": text.question,
        "answer": text.answer,
        "mc_question": mc.question,
        "choices": mc.choices,
        "correct_index": mc.correct_index,
        "metadata": json.dumps(metadata, sort_keys=True, separators=(",", ":")),
        "split": registry.split_for(row["source"], KIND),
        "source": row["source"],
        "seed": seed,
    }


def facts_of(instructions: DataFrame) -> DataFrame:
    """(instruction_id, generator, source, image_ids, facts): the stored items with their facts parsed back."""
    return instructions.select(
        "instruction_id", "generator", "source", "image_ids", F.from_json("metadata", FACTS_DDL).alias("facts")
    )
