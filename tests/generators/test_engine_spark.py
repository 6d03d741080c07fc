"""The Spark part: depth/mask ingest, generation over scene_graphs with mapInArrow, determinism
across partitionings, the checker dropping and counting a planted bug, idempotent MERGE, export."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pyspark import cloudpickle
from pyspark.sql import functions as F

from provision_spark.exports.stage import Wording, run_export
from provision_spark.generators import checker, registry
from provision_spark.generators.checker import checks, get_check
from provision_spark.generators.registry import register
from provision_spark.generators.single import engine
from provision_spark.ingest import provision_maps
from provision_spark.lakehouse import tables, tracking
from tests.generators.scenes import BASEBALL, baseball_rows

# this module's generator runs inside Spark's Python workers: ship it by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def planted_bug_count(ctx):
    """object_count with a planted bug: balls are counted one too many."""
    for item in registry.get("object_count").fn(ctx):
        if item.metadata["name"] == "ball":
            item.answer = str(int(item.answer) + 1)
            item.distractors = [d for d in item.distractors if d != item.answer] + ["9"]
        yield item


@pytest.fixture(scope="module", autouse=True)
def planted_generator():
    register("planted_bug_count", family="objects")(planted_bug_count)
    checks("planted_bug_count")(get_check("object_count"))
    yield
    registry.unregister("planted_bug_count")
    checker.unregister("planted_bug_count")


def scene_graphs_df(spark):
    rows = []
    for r in baseball_rows():
        row = dict(r)
        row["n_objects"] = len(r["objects"])
        row["n_attributes"] = sum(len(o["attributes"]) for o in r["objects"])
        row["n_relations"] = sum(len(o["relations"]) for o in r["objects"])
        rows.append(row)
    return spark.createDataFrame(rows, tables.schema_of("scene_graphs"))


def test_depth_and_mask_ingest(spark, settings):
    with tracking.job_run(settings, "test-maps", {}) as run:
        provision_maps.ingest_depth_and_masks(spark, settings, str(BASEBALL), "provision_sample", run)
        assert run.summary["mask.written"] == 12 and run.summary["mask.quarantined"] == 0
        assert run.summary["image_depth.written"] == 2 and run.summary["object_depth.written"] == 12
    masks = {(r.image_id, r.object_id): r for r in tables.read_table(spark, settings, "masks").collect()}
    raw = np.load(BASEBALL / "seg_masks" / "baseball_2_mask.npz")["masks"]
    m = masks[("provision_sample/baseball_2", "4")]
    decoded = mask_utils.decode({"size": [m.height, m.width], "counts": m.rle_counts.encode()})
    assert (decoded.astype(bool) == raw[4]).all() and m.area == int(raw[4].sum())
    depth = np.load(BASEBALL / "depth_masks" / "baseball_1_depth.npy")
    stats = {
        r.object_id: r
        for r in tables.read_table(spark, settings, "object_depth")
        .filter("image_id = 'provision_sample/baseball_1'")
        .collect()
    }
    raw1 = np.load(BASEBALL / "seg_masks" / "baseball_1_mask.npz")["masks"]
    assert stats["1"].region == "mask"
    assert stats["1"].depth_median == pytest.approx(float(np.median(depth[raw1[1]])))
    image = tables.read_table(spark, settings, "image_depth").filter("image_id = 'provision_sample/baseball_1'").first()
    assert max(image.map_height, image.map_width) == provision_maps.MAP_SIDE
    assert len(image.depth_map) == image.map_height * image.map_width


def test_same_rows_whatever_the_partitioning(spark):
    df = scene_graphs_df(spark)
    freqs = engine.frequencies(df)
    assert freqs.objects["ball"] == 3 and freqs.predicates["wearing"] == 2

    builtin = [s.name for s in registry.registered("single") if s.name != "planted_bug_count"]

    def rows(n):
        out = engine.generated(df.repartition(n), seed=5, per_image=2, freqs=freqs, generators=builtin).collect()
        return sorted(tuple(r) for r in out)

    one, three = rows(1), rows(3)
    assert one == three
    assert {r[1] for r in one} == set(builtin)
    assert all(r[-1] is None for r in one)  # every row passed the checker


def test_generate_checks_merges_and_exports(spark, settings, tmp_path):
    sg = scene_graphs_df(spark)
    names = ["object_count", "planted_bug_count", "relation_between", "caption"]
    with tracking.job_run(settings, "test-generate", {}) as run:
        written = engine.generate_single(spark, settings, run, seed=1, per_image=5, generators=names, scene_graphs=sg)
        summary = dict(run.summary)
    # the planted bug: baseball_2 has 2 balls, baseball_1 one: both wrong answers are dropped and counted
    assert summary["instructions.planted_bug_count.quarantined"] == 2
    assert written["planted_bug_count"] == written["object_count"] - 2
    instructions = tables.read_table(spark, settings, "instructions")
    assert instructions.filter("generator = 'planted_bug_count' AND answer = '3'").count() == 0
    quarantined = tables.read_table(spark, settings, "quarantine").filter("entity = 'instruction'").collect()
    assert len(quarantined) == 2 and all("not re-derived" in q.reason for q in quarantined)
    n = instructions.count()
    assert n == sum(written.values())
    assert set(r.split for r in instructions.select("split").distinct().collect()) == {"VG-S"}

    # idempotent: the same run again inserts and updates nothing
    with tracking.job_run(settings, "test-generate", {}) as run:
        engine.generate_single(spark, settings, run, seed=1, per_image=5, generators=names, scene_graphs=sg)
    assert tables.read_table(spark, settings, "instructions").count() == n
    last = (
        spark.sql(f"DESCRIBE HISTORY {tables.table_name(settings, 'instructions')}").orderBy(F.desc("version")).first()
    )
    assert last.operation == "MERGE"
    assert int(last.operationMetrics["numTargetRowsInserted"]) == 0
    assert int(last.operationMetrics["numTargetRowsUpdated"]) == 0

    # export: all multiple choice, image after the prompt
    out = tmp_path / "llava.json"
    assert run_export(spark, settings, out, wording=Wording(mc_ratio=1.0, image_placement="after", seed=3))["rows"] == n
    lines = json.loads(out.read_text())
    assert len(lines) == n and lines == sorted(lines, key=lambda x: x["id"])
    for line in lines:
        human, gpt = line["conversations"]
        assert human["from"] == "human" and gpt["from"] == "gpt"
        assert human["value"].endswith("\n<image>") and "<image>" not in human["value"][:-8]
        assert gpt["value"] in "ABCDEFGH" or gpt["value"].isdigit() or gpt["value"] in "abcdefgh"
        assert line["image"].startswith("baseball_")  # provision_sample: {file}
    # all short answer, image first; then a half-half mix is about half
    assert run_export(spark, settings, out, wording=Wording(mc_ratio=0.0, image_placement="before"))["rows"] == n
    answers = {r.instruction_id: r.answer for r in instructions.select("instruction_id", "answer").collect()}
    for line in json.loads(out.read_text()):
        assert line["conversations"][0]["value"].startswith("<image>\n")
        assert line["conversations"][1]["value"] == answers[line["id"]]
    run_export(spark, settings, out, wording=Wording(mc_ratio=0.5, image_placement="random"))
    mc = sum(
        "Answer with" in line_ or "Reply with" in line_ or "Choose the correct" in line_
        for line_ in out.read_text().splitlines()
    )
    assert 0.2 * n <= mc <= 0.8 * n
