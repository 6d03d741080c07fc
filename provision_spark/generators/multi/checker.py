"""The independent check of multi-image items: re-derive every answer from the flat tables, drop failures.

For each row, what its images hold is re-counted by joining the row's image ids back to all
objects, attributes and relations of those images (``measures``, one pass for every generator),
never through the pools and draws that built it; the generator's ``truth`` turns those counts into
the facts. The job judges each item right after wording it (``problem``, in the same pass over
the rows); ``verdicts`` judges stored rows. A row passes when the short answer those facts imply is the stored
answer, the multiple-choice form is consistent with them, and the English passes
``language.lint``. Failures are returned with a reason so the job can count and show them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from provision_spark.generators import language
from provision_spark.generators.choices import choice_problems
from provision_spark.generators.multi.base import FACTS_DDL, MULTI, MultiGenerator
from provision_spark.generators.multi.inputs import MultiInputs
from provision_spark.generators.multi.measures import Images, per_image

VERDICT_DDL = "instruction_id string, generator string, ok boolean, reason string"


def truths(generators: list[str], k: int) -> tuple[Column, dict[str, frozenset[str]]]:
    """Each row's facts as its generator's ``truth`` re-derives them from the measures of its (at
    most ``k``) images, as JSON; and, per generator, the measures its truth reads (noted while the
    expression is built), so that each row is measured for those alone."""
    truth, reads = F.lit(None), {}
    for name in generators:
        seen: set[str] = set()
        truth = F.when(F.col("generator") == name, MULTI[name].truth(Images.of(k, seen), F.col("facts"))).otherwise(
            truth
        )
        reads[name] = frozenset(seen)
    return F.to_json(truth), reads


def judged(inputs: MultiInputs, items: DataFrame, generators: list[str], k: int) -> DataFrame:
    """``items`` (facts rows of at most ``k`` images) with ``truth``: their facts re-derived from
    what their images hold (``per_image``), as JSON."""
    truth, reads = truths(generators, k)
    return per_image(inputs, items, reads, k).withColumn("truth", truth)


def verdicts(inputs: MultiInputs, instructions: DataFrame, generators: list[str]) -> DataFrame:
    """(instruction_id, generator, ok, reason) for every row of ``instructions`` (multi-image rows)."""
    items = instructions.select(
        "instruction_id",
        "generator",
        "source",
        "image_ids",
        F.from_json("metadata", FACTS_DDL).alias("facts"),
        "question",
        "answer",
        "choices",
        "correct_index",
        F.get_json_object("metadata", "$.mc.style").alias("mc_style"),
    )
    k = items.agg(F.max(F.size("image_ids"))).first()[0] or 0
    rows = judged(inputs, items, generators, k).select(
        "instruction_id", "generator", "question", "answer", "choices", "correct_index", "mc_style", "truth"
    )

    shipped = {name: MULTI[name] for name in generators}  # travel in the closure, as in render

    def judge(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = []
            for row in batch.to_pylist():
                reason = problem(row, orjson.loads(row["truth"]) if row["truth"] else None, shipped[row["generator"]])
                out.append(
                    {
                        "instruction_id": row["instruction_id"],
                        "generator": row["generator"],
                        "ok": reason is None,
                        "reason": reason,
                    }
                )
            yield pa.RecordBatch.from_pylist(out, schema=_VERDICT_ARROW)

    return rows.mapInArrow(judge, VERDICT_DDL)


_VERDICT_ARROW = pa.schema(
    [("instruction_id", pa.string()), ("generator", pa.string()), ("ok", pa.bool_()), ("reason", pa.string())]
)


@functools.lru_cache(maxsize=65536)
def _lint(text: str) -> tuple[str, ...]:
    """``language.lint``, once per distinct text: questions and answers repeat across items."""
    return tuple(language.lint(text))


def problem(row: dict[str, Any], truth: dict[str, Any] | None, generator: MultiGenerator) -> str | None:
    """What is wrong with one worded row (question, answer, choices, correct_index) of ``generator``
    given its re-derived ``truth``; None when it is right."""
    expected = generator.answer(truth) if truth else None
    if expected is None:
        return "the scene graphs do not support the item (facts do not re-derive)"
    if row["answer"] != expected:
        return f"answer {row['answer']!r} but the scene graphs say {expected!r}"
    choices, correct = list(row["choices"]), row["correct_index"]
    if not 0 <= correct < len(choices) or len(set(choices)) != len(choices):
        return f"malformed choices {choices} (correct index {correct})"
    wrong = generator.check_choices(truth, expected, choices, correct)
    if wrong:
        return wrong
    shown = choice_problems(choices, row.get("mc_style"))
    if shown:
        return "; ".join(shown)
    for field in ("question", "answer"):
        issues = _lint(row[field])
        if issues:
            return f"{field}: {'; '.join(issues)}"
    return None
