"""The ``generate-multi`` job on the attribute-free VRD corpus: it ends promptly with the shortfall per
generator in MLflow and its summary (the reference loops forever there), writes the rest to
``instructions``, and ``export`` writes them in the LLaVA-interleave format."""

from __future__ import annotations

import json
import time

import mlflow
import pytest

from provision_spark import stages
from provision_spark.exports.stage import Wording, run_export
from provision_spark.generators.multi.base import Params
from provision_spark.lakehouse import tables
from tests.generators.test_multi import frames, vrd_scenes

ATTRIBUTE_GENERATORS = [
    "multi_has_attributed_object",
    "multi_has_not_attributed_object",
    "multi_compare_attributes",
    "multi_count_attributed_object",
    "multi_common_attributes",
]
COUNT = 300


@pytest.fixture(scope="module")
def vrd_tables(spark, settings):
    objects, attributes, relations = frames(spark, vrd_scenes(1000))
    assert attributes.count() == 0
    for name, df in (("objects", objects), ("relations", relations)):
        tables.merge_into(spark, settings, name, df, "test")
    return settings


@pytest.fixture(scope="module")
def job(spark, vrd_tables):
    started = time.perf_counter()
    summary = stages.generate_multi(
        spark, vrd_tables, Params(k=2, count=COUNT, seed=4), generators=[*ATTRIBUTE_GENERATORS, "multi_has_object"]
    )
    return summary, time.perf_counter() - started


def test_attribute_questions_on_an_attribute_free_corpus_end_with_a_shortfall(job, vrd_tables):
    summary, seconds = job
    assert seconds < 300  # bounded work, no retry loop (the reference ran 13+ minutes until killed)
    for name in ATTRIBUTE_GENERATORS:
        assert summary[f"multi.{name}.written"] == 0
        assert summary[f"multi.{name}.shortfall"] == COUNT
    assert summary["multi.multi_has_object.written"] == COUNT
    assert summary["multi.multi_has_object.shortfall"] == 0
    assert summary["multi.shortfall"] == COUNT * len(ATTRIBUTE_GENERATORS)
    assert summary["multi.failed"] == 0

    mlflow.set_tracking_uri(vrd_tables.resolved_tracking_uri)
    runs = mlflow.search_runs(
        experiment_names=[vrd_tables.experiment],
        filter_string="tags.job = 'generate-multi'",
        order_by=["start_time DESC"],
        max_results=1,
    )
    logged = runs.iloc[0]
    for name in ATTRIBUTE_GENERATORS:
        assert logged[f"metrics.multi.{name}.shortfall"] == COUNT


def test_rows_land_in_the_instructions_table(spark, job, vrd_tables):
    rows = tables.read_table(spark, vrd_tables, "instructions").collect()
    assert len(rows) == COUNT
    assert {(r["generator"], r["kind"], r["split"], r["family"]) for r in rows} == {
        ("multi_has_object", "multi", "VG-M", "select")
    }
    assert all(r["run_id"] for r in rows)


def test_export_interleave_writes_numbered_images(spark, job, vrd_tables, tmp_path):
    out = tmp_path / "multi.json"
    manifest = run_export(spark, vrd_tables, out, "llava-interleave", wording=Wording(mc_ratio=0.5, seed=2))
    n = manifest["rows"]
    records = json.loads(out.read_text())
    assert n == len(records) == COUNT
    forms = {"short": 0, "mc": 0}
    for record in records:
        human, gpt = record["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert len(record["image"]) == 2 and all(p and not p.startswith("vrd/") for p in record["image"])
        assert human["value"].startswith("Image 1: <image>\nImage 2: <image>\n")
        assert human["value"].count("<image>") == 2
        if gpt["value"] in ("Image 1", "Image 2"):
            forms["short"] += 1
        else:
            assert gpt["value"] in "ABab12" and "Image 1" in human["value"].split("\n", 2)[2]
            forms["mc"] += 1
    assert 0.35 < forms["mc"] / COUNT < 0.65
