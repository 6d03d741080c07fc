"""``perceive`` end to end on a real local SparkSession: the five stages as UDFs with the tiny
models, through the same loading code as real weights; lineage, per-worker loading, quarantine,
re-runs, new model versions, a model from the MLflow registry, and the scene-graph build after."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from pycocotools import mask as mask_utils
from pyspark.sql import functions as F

from provision_spark import stages as foundation
from provision_spark.lakehouse import tables
from provision_spark.perception import ledger
from provision_spark.perception.ingest import ingest_images
from provision_spark.perception.pipeline import perceive
from provision_spark.perception.stages import STAGES

from .conftest import MAX_PIXELS, make_image_folder

LATE = "street/more/late.jpg"
STRIP = "street/strip.png"
ANNOTATIONS = ["objects", "masks", "object_depth", "image_depth", "attributes", "relations"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, real_images):
    return make_image_folder(tmp_path_factory.mktemp("perceive") / "street", real_images)


@pytest.fixture(scope="module")
def perceived(spark, settings, folder, tiny):
    ingest_images(spark, settings, str(folder), max_pixels=MAX_PIXELS)
    late = folder / "more" / "late.jpg"
    late.write_bytes(late.read_bytes()[:4000])  # the file broke after ingestion: the detector cannot read it
    return perceive(spark, settings, tiny)


def table(spark, settings, name):
    return tables.read_table(spark, settings, name)


def counts(spark, settings):
    return {name: table(spark, settings, name).count() for name in ANNOTATIONS + ["quarantine"]}


def test_every_stage_ran_over_its_images(spark, settings, perceived):
    assert list(perceived) == list(STAGES)
    with_objects = table(spark, settings, "objects").select("image_id").distinct().count()
    assert 1 <= with_objects <= 4
    assert perceived["detect"]["images.in"] == 6 and perceived["detect"]["images.quarantined"] == 1
    assert perceived["depth"]["images.in"] == 6 and perceived["depth"]["images.quarantined"] == 2
    for stage in ("segment", "attributes", "relations"):
        assert perceived[stage]["images.in"] == with_objects
        assert perceived[stage]["images.quarantined"] == 0
    for name in ANNOTATIONS[:-1]:
        assert table(spark, settings, name).count() > 0, name


def test_every_row_carries_its_model_and_run(spark, settings, perceived, tiny):
    for stage, summary in perceived.items():
        config = getattr(tiny, stage)
        run = MlflowClient().get_run(summary["run_id"])
        assert run.data.tags["model_version"] == summary["model_version"]
        assert run.data.metrics["images.in"] == summary["images.in"]
        for name in STAGES[stage].tables:
            lineage = table(spark, settings, name).select("source", "model_name", "model_version", "run_id").distinct()
            assert [tuple(r) for r in lineage.collect()] in (
                [("model", config.model_name, summary["model_version"], summary["run_id"])],
                [],
            ), name
    # The object ids name the detector's version, so versions never collide.
    tag = table(spark, settings, "objects").select(F.split("object_id", "-")[1]).distinct().collect()
    assert len(tag) == 1 and len(tag[0][0]) == 8


def test_each_worker_loads_each_model_once(perceived):
    for stage, summary in perceived.items():
        assert summary["max_loads_per_worker"] == 1, stage
        assert summary["model_loads"] == summary["workers"], stage
    detect = perceived["detect"]
    assert detect["batches"] == 6 > detect["workers"]  # one image per batch: several batches per worker


def test_a_broken_image_is_quarantined_per_stage_and_the_rest_goes_on(spark, settings, perceived):
    quarantine = table(spark, settings, "quarantine")
    late = quarantine.filter(F.col("record_key").startswith(LATE)).collect()
    assert sorted(r.stage for r in late) == ["depth", "detect"]
    assert all(r.reason.startswith("unreadable JPEG data: image file is truncated") for r in late)
    assert all(r.run_id == perceived[r.stage]["run_id"] for r in late)
    entries = spark.table(ledger.table(settings)).filter(F.col("image_id") == LATE).collect()
    assert {(r.stage, r.status) for r in entries} == {("detect", "quarantined"), ("depth", "quarantined")}
    assert table(spark, settings, "objects").filter(F.col("image_id") == LATE).count() == 0


def test_a_model_error_quarantines_only_that_image(spark, settings, perceived):
    """The 4000 x 1 strip decodes, but Depth Anything's preprocessing cannot resize it: the batch is
    retried image by image, the strip is quarantined with the library's error, the others get depth."""
    (strip,) = table(spark, settings, "quarantine").filter(F.col("record_key").startswith(STRIP)).collect()
    assert strip.stage == "depth" and strip.reason.startswith("depth failed: ValueError")
    depth_done = spark.table(ledger.table(settings)).filter((F.col("stage") == "depth") & (F.col("status") == "done"))
    assert depth_done.count() == 4


def test_masks_are_compressed_rle_of_the_image_size(spark, settings, perceived):
    for row in table(spark, settings, "masks").collect():
        mask = mask_utils.decode({"counts": row.rle_counts.encode(), "size": [row.height, row.width]})
        assert mask.shape == (row.height, row.width) and int(mask.sum()) == row.area
    images = {r.image_id: (r.height, r.width) for r in table(spark, settings, "images").collect()}
    assert all(images[r.image_id] == (r.height, r.width) for r in table(spark, settings, "masks").collect())


def test_depth_maps_and_object_statistics(spark, settings, perceived):
    maps = table(spark, settings, "image_depth").collect()
    assert len(maps) == 4
    for row in maps:
        values = np.frombuffer(row.depth_map, dtype=np.uint8)
        assert values.size == row.map_height * row.map_width and max(row.map_height, row.map_width) == 64
    for row in table(spark, settings, "object_depth").collect():
        assert row.depth_min <= row.depth_median <= row.depth_max and row.region in ("mask", "box")


def test_attributes_and_relations_use_the_vocabularies(spark, settings, perceived, tiny):
    from provision_spark.perception.grounding import attribute_vocabulary, relation_vocabulary

    attributes = {r.attribute for r in table(spark, settings, "attributes").collect()}
    assert attributes and attributes <= set(attribute_vocabulary(tiny.attributes.vocabulary))
    relations = table(spark, settings, "relations").collect()
    assert {r.predicate for r in relations} <= set(relation_vocabulary(tiny.relations.vocabulary))
    assert all(r.score >= tiny.relations.threshold and r.subject_id != r.object_id for r in relations)
    assert perceived["relations"]["rows.relations"] + perceived["relations"]["relations.ungrounded"] > 0


def test_a_rerun_processes_nothing_and_writes_nothing(spark, settings, perceived, tiny):
    before = counts(spark, settings)
    again = perceive(spark, settings, tiny)
    assert all(summary["images.in"] == 0 for summary in again.values())
    assert counts(spark, settings) == before


def test_the_scene_graph_build_runs_on_the_result(spark, settings, perceived):
    foundation.build_scene_graphs(spark, settings)
    graphs = table(spark, settings, "scene_graphs").filter(F.col("source") == "model").collect()
    n_objects = table(spark, settings, "objects").select("image_id").distinct().count()
    assert len(graphs) == n_objects and all(g.n_objects > 0 for g in graphs)
    assert sum(g.n_attributes for g in graphs) == table(spark, settings, "attributes").count()


def test_a_new_version_writes_beside_the_old(spark, settings, perceived, tiny):
    config = dataclasses.replace(tiny, detect=dataclasses.replace(tiny.detect, score_threshold=0.3))
    second = perceive(spark, settings, config, ["detect"])["detect"]
    assert second["images.in"] == 6  # a new version processes every image again
    versions = {r[0] for r in table(spark, settings, "objects").select("model_version").distinct().collect()}
    assert versions == {perceived["detect"]["model_version"], second["model_version"]}


def test_weights_from_the_mlflow_registry_replace_the_old_version(spark, settings, perceived, tiny):
    """The depth model registered as a plain folder of weights, addressed by alias, written in
    ``replace`` mode: its rows take the place of the path-loaded version's."""
    client = MlflowClient()
    with mlflow.start_run(run_name="register-tiny-depth") as run:
        mlflow.log_artifacts(tiny.depth.weights, artifact_path="weights")
        source = mlflow.get_artifact_uri("weights")
    client.create_registered_model("tiny-depth")
    version = client.create_model_version("tiny-depth", source=source, run_id=run.info.run_id).version
    client.set_registered_model_alias("tiny-depth", "champion", version)
    config = dataclasses.replace(
        tiny, write_mode="replace", depth=dataclasses.replace(tiny.depth, weights="models:/tiny-depth@champion")
    )
    summary = perceive(spark, settings, config, ["depth"])["depth"]
    weights_version, settings_hash = summary["model_version"].split("+")
    assert weights_version == str(version) and settings_hash == perceived["depth"]["model_version"].split("+")[1]
    for name in ("image_depth", "object_depth"):
        versions = {r[0] for r in table(spark, settings, name).select("model_version").distinct().collect()}
        assert versions == {summary["model_version"]}, name
    assert table(spark, settings, "image_depth").count() == 4
