"""The independent check of multi-image items: re-derive every answer from the flat tables, drop failures.

For each stored row, what its images hold is re-counted by joining the row's image ids back to all
objects, attributes and relations of those images (``measures``, one pass for every generator),
never through the pools and draws that built it; the generator's ``truth`` turns those counts into
the facts. A row passes when the short answer those facts imply is the stored
answer, the multiple-choice form is consistent with them, and the English passes
``language.lint``. Failures are returned with a reason so the job can count and show them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from provision_spark.generators import language, registry
from provision_spark.generators.multi.base import MULTI
from provision_spark.generators.multi.inputs import MultiInputs
from provision_spark.generators.multi.measures import per_image
from provision_spark.generators.multi.render import facts_of

VERDICT_DDL = "instruction_id string, generator string, ok boolean, reason string"


def verdicts(inputs: MultiInputs, instructions: DataFrame, generators: list[str]) -> DataFrame:
    """(instruction_id, generator, ok, reason) for every row of ``instructions`` (multi-image rows)."""
    measured = per_image(inputs, facts_of(instructions), {g: MULTI[g].requires for g in generators})
    truth = F.lit(None)
    for name in generators:
        truth = F.when(F.col("generator") == name, MULTI[name].truth(F.col("m"), F.col("facts"))).otherwise(truth)
    joined = instructions.select(
        "instruction_id", "generator", "question", "answer", "mc_question", "choices", "correct_index"
    ).join(measured.select("instruction_id", truth.alias("truth")), "instruction_id", "left")

    def judge(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        registry.load_builtin()
        for batch in batches:
            out = []
            for row in batch.to_pylist():
                reason = problem(row)
                out.append({"instruction_id": row["instruction_id"], "generator": row["generator"],
                            "ok": reason is None, "reason": reason})
            yield pa.RecordBatch.from_pylist(out, schema=_VERDICT_ARROW)

    return joined.mapInArrow(judge, VERDICT_DDL)


_VERDICT_ARROW = pa.schema([("instruction_id", pa.string()), ("generator", pa.string()),
                            ("ok", pa.bool_()), ("reason", pa.string())])


def problem(row: dict[str, Any]) -> str | None:
    """What is wrong with one row given its re-derived ``truth``; None when it is right."""
    generator = MULTI[row["generator"]]
    truth = row.get("truth")
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
    for field in ("question", "answer"):
        issues = language.lint(row[field])
        if issues:
            return f"{field}: {'; '.join(issues)}"
    return None


def check(inputs: MultiInputs, instructions: DataFrame, generators: list[str]) -> tuple[DataFrame, DataFrame]:
    """(rows that pass, verdicts of all rows). Persist ``instructions`` first: it is read twice."""
    judged = verdicts(inputs, instructions, generators)
    passed = instructions.join(judged.filter("ok").select("instruction_id"), "instruction_id", "left_semi")
    return passed, judged

