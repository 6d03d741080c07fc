"""Facts rows -> ``instructions`` rows: English and multiple-choice form, per row, in Python.

The relational generators decide *what* is asked; this step only words it, with the shared
``language`` helpers and ``choices.build_mc`` (the same formatting as the single-image items), and
hands each worded item straight to the checker's ``problem`` with the truth re-derived for it. It
runs as ``mapInArrow`` on the executors, seeded per item (``stable_hash(seed, generator, key)``), so
the text does not depend on partitioning. Python reads only what it needs (the facts and the truth
as JSON, read and the metadata written with ``orjson``: with the standard library, JSON was over a
third of the per-row time); the row's ids pass through as Arrow arrays, and constant columns are
added in the JVM.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from provision_spark.generators import ids
from provision_spark.generators.choices import build_mc
from provision_spark.generators.multi.base import MULTI, MultiGenerator
from provision_spark.generators.multi.checker import problem
from provision_spark.lakehouse import tables

KIND = "multi"

#: What the Python pass returns per row.
WORDS = (
    ("question", pa.string()),
    ("answer", pa.string()),
    ("mc_question", pa.string()),
    ("choices", pa.list_(pa.string())),
    ("correct_index", pa.int32()),
    ("metadata", pa.string()),
    ("ok", pa.bool_()),
    ("reason", pa.string()),
)
WORDS_DDL = (
    "question string, answer string, mc_question string, choices array<string>, correct_index int, "
    "metadata string, ok boolean, reason string"
)


def rendered_schema() -> StructType:
    """The ``instructions`` columns a run produces (``run_id`` is stamped at the write)."""
    return StructType([f for f in tables.schema_of("instructions").fields if f.name != "run_id"])


def render(items: DataFrame, seed: int, generators: list[str]) -> DataFrame:
    """Word every facts row and judge it against its re-derived truth, in one pass over the rows.

    ``items``: facts rows (``FACT_COLUMNS``) with the checker's re-derived ``truth`` (``checker.judged``).
    Out: ``instructions`` rows plus ``ok`` and ``reason`` (the checker's verdict).
    """
    family = F.lit(None).cast("string")
    for name in generators:
        family = F.when(F.col("generator") == name, F.lit(MULTI[name].family)).otherwise(family)
    worded = items.select(
        *PASSED_THROUGH,
        "item_key",
        F.size("image_ids").alias("n_images"),
        F.to_json("facts").alias("facts"),
        "truth",
    ).mapInArrow(
        _word_and_judge(seed, {name: MULTI[name] for name in generators}), f"{PASSED_THROUGH_DDL}, {WORDS_DDL}"
    )
    derived = {"family": family, "kind": F.lit(KIND), "split": split(F.col("source")), "seed": F.lit(seed).cast("long")}
    return worded.select(
        *[derived[f.name].alias(f.name) if f.name in derived else F.col(f.name) for f in rendered_schema().fields],
        "ok",
        "reason",
    )


#: Columns that go through the Python pass untouched (as Arrow arrays, never as Python objects).
PASSED_THROUGH = ("instruction_id", "generator", "source", "image_ids")
PASSED_THROUGH_DDL = "instruction_id string, generator string, source string, image_ids array<string>"


def split(source: Column) -> Column:
    """``ids.split_for(source, "multi")`` as a column: VG-M for human scene graphs, DC-M for model-made."""
    return F.when(source == "human", F.lit(ids.split_for("human", KIND))).otherwise(F.lit(ids.split_for("model", KIND)))


def _word_and_judge(seed: int, generators: dict[str, MultiGenerator]):
    """The ``mapInArrow`` function: batches of (passed-through columns, item key, number of images,
    facts JSON, truth JSON) in, the passed-through columns and the ``WORDS`` out.

    The generators travel in the closure (built-in ones by reference), so one registered at run
    time (a notebook, a test) words and judges its items like the built-in ones."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out: dict[str, list] = {name: [] for name, _ in WORDS}
            columns = [
                batch.column(name).to_pylist() for name in ("generator", "item_key", "n_images", "facts", "truth")
            ]
            for g, key, n, facts_json, truth_json in zip(*columns):
                generator = generators[g]
                worded = render_row(generator, key, n, orjson.loads(facts_json), seed)
                truth = orjson.loads(truth_json) if truth_json else None
                reason = problem({"generator": g, **worded}, truth, generator)
                worded.update(ok=reason is None, reason=reason)
                for name, values in out.items():
                    values.append(worded[name])
            arrays = [batch.column(name) for name in PASSED_THROUGH] + [pa.array(out[n], t) for n, t in WORDS]
            yield pa.RecordBatch.from_arrays(arrays, names=[*PASSED_THROUGH, *(n for n, _ in WORDS)])

    return run


def render_row(
    generator: MultiGenerator, item_key: str, n_images: int, facts: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The words of one item: question, answer, multiple-choice form and metadata (the facts asked
    about, which JSON keeps without their null fields, and the choice style)."""
    rng = random.Random(ids.stable_hash(seed, generator.name, item_key))
    text = generator.render({"facts": facts, "n_images": n_images}, rng)
    mc = build_mc(text.mc_stem or text.question, text.mc_answer or text.answer, text.distractors, rng)
    return {
        "question": text.question,
        "answer": text.answer,
        "mc_question": mc.question,
        "choices": mc.choices,
        "correct_index": mc.correct_index,
        "metadata": orjson.dumps({**facts, "mc": {"style": mc.style, "label": mc.label}}).decode(),
    }
