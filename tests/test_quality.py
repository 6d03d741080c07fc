"""The quality report: one planted item of each hard defect class is caught (by the report's
text detectors and by the checkers' lint / choice rules), clean items are not, answer shares and
position balance are measured, and the stage logs the report to MLflow."""

from __future__ import annotations

import json

import mlflow
import pytest

from provision_spark import quality, stages
from provision_spark.generators.choices import choice_problems
from provision_spark.generators.language import lint
from provision_spark.lakehouse import tables

COLUMNS = "instruction_id string, generator string, question string, answer string, mc_question string, choices array<string>, correct_index int"


def item(i, generator, question, answer, choices=("x", "y"), correct=0, labels="upper"):
    choices = list(choices)
    if labels == "number":
        lines = [f"{n + 1}. {c}" for n, c in enumerate(choices)]
    else:
        lines = [f"{'ABCD'[n]}. {c}" for n, c in enumerate(choices)]
    return (f"i{i}", generator, question, answer, "\n".join([question, *lines]), choices, correct)


#: One item per hard defect class, and the class it belongs to.
PLANTED = {
    "raw_predicate_grammar": item(1, "sgqa", "What is of a the man?", "nose"),
    "lemma_in_text": item(2, "sgqa", "What color is the pant?", "blue"),
    "sentence_like_name": item(3, "sgqa", "What is on the see tail light.?", "car"),
    "numeric_choice_labels": item(4, "count", "How many dogs?", "2", ("4", "2", "1"), 1, labels="number"),
    "image_options_unordered": item(5, "which", "Which image has a dog?", "Image 1", ("Image 3", "Image 1"), 1),
    "repeated_caption_sentence": item(6, "caption", "Describe it.", "The image shows a dog. The image shows a dog."),
    "bare_countable_noun": item(7, "which", "Which image has street?", "Image 2", ("Image 1", "Image 2"), 1),
}
CLEAN = [
    item(10, "sgqa", "What is the man wearing?", "pants"),
    item(11, "which", "Which image has a street?", "Image 1", ("Image 1", "Image 2"), 0),
    item(12, "caption", "Describe it.", "The image shows grass and a dog. The dog is on the grass."),
    item(13, "count", "How many trees can you see?", "3", ("1", "3"), 1),
]


@pytest.fixture(scope="module")
def planted_report(spark):
    rows = list(PLANTED.values()) + CLEAN
    return quality.report(spark.createDataFrame(rows, COLUMNS))


def test_each_planted_defect_is_caught_once_and_clean_items_are_not(planted_report):
    assert planted_report["hard_defects"] == {name: 1 for name in quality.HARD_DEFECTS}
    assert planted_report["passed"] is False


@pytest.mark.parametrize("defect", sorted(PLANTED))
def test_the_checkers_reject_each_planted_defect(defect):
    _, _, question, answer, mc_question, choices, _ = PLANTED[defect]
    style = "number_dot" if defect == "numeric_choice_labels" else "upper_dot"
    problems = lint(question) + lint(answer) + lint(mc_question) + choice_problems(choices, style)
    assert problems, defect


def test_clean_items_pass_the_checkers():
    for _, _, question, answer, mc_question, choices, _ in CLEAN:
        assert lint(question) + lint(answer) + lint(mc_question) + choice_problems(choices, "upper_dot") == []


def test_answer_share_and_position_balance(spark):
    skewed = [item(i, "count", "How many dogs?", "1" if i < 60 else str(i % 4 + 2), ("1", "2"), 0) for i in range(100)]
    balanced = [item(100 + i, "where", "Where?", str(i % 5), ("a", "b", "c"), i % 3) for i in range(300)]
    report = quality.report(spark.createDataFrame(skewed + balanced, COLUMNS), share_limit=0.35)
    by = {g["generator"]: g for g in report["generators"]}
    assert by["count"]["top_answer"] == "1" and by["count"]["top_share"] == 0.6
    assert by["count"]["above_share_limit"] and not by["where"]["above_share_limit"]
    assert by["count"]["position_unbalanced"] and by["count"]["position_p"] < 1e-6
    assert by["where"]["position_p"] == 1.0 and by["where"]["entropy_bits"] == pytest.approx(2.3219, abs=1e-3)


def test_stage_logs_the_report_to_mlflow(spark, settings):
    tables.merge_into(spark, settings, "instructions", _instruction_rows(spark), run_id="test")
    report = stages.quality_report(spark, settings)
    assert report["items"] == 2 and report["hard_defects"]["lemma_in_text"] == 1
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    path = mlflow.artifacts.download_artifacts(run_id=report["run_id"], artifact_path="quality_report.json")
    with open(path) as f:
        assert json.load(f)["hard_defects"] == report["hard_defects"]


def _instruction_rows(spark):
    from pyspark.sql import functions as F

    rows = spark.createDataFrame([PLANTED["lemma_in_text"], CLEAN[0]], COLUMNS)
    return rows.select(
        "instruction_id",
        "generator",
        F.lit("attributes").alias("family"),
        F.lit("single").alias("kind"),
        F.array(F.lit("vg/1")).alias("image_ids"),
        "question",
        "answer",
        "mc_question",
        "choices",
        "correct_index",
        F.lit("{}").alias("metadata"),
        F.lit("VG-S").alias("split"),
        F.lit("human").alias("source"),
        F.lit(0).cast("long").alias("seed"),
    )
