"""The foundation on a real local SparkSession with Delta: schemas, ingestion of each fixture
format, quarantine reasons, idempotence, and the scene-graph join."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from provision_spark import stages
from provision_spark.lakehouse import tables
from provision_spark.lakehouse.tracking import CountMismatch, JobRun

from .conftest import FIXTURES

VG = FIXTURES / "vg_raw_subset"
GQA = FIXTURES / "gqa_sample14" / "sceneGraphs.json"


def rows(spark, settings, sql):
    return spark.sql(sql.format(ns=settings.namespace)).collect()


def count(spark, settings, sql):
    return rows(spark, settings, sql)[0][0]


def test_every_table_is_created_with_its_yaml_schema(spark, settings):
    for name in tables.table_names():
        spec = tables.spec(name)
        assert set(spec.keys) <= set(spec.column_names), name
        created = spark.table(tables.table_name(settings, name)).schema
        expected = tables.schema_of(name)
        assert [(f.name, f.dataType) for f in created.fields] == [(f.name, f.dataType) for f in expected.fields]
        assert [f.nullable for f in created.fields] == [f.nullable for f in expected.fields], name


def test_count_mismatch_is_an_error():
    with pytest.raises(CountMismatch):
        JobRun.log_counts(JobRun("unused"), "objects", 10, 8, 1)


@pytest.fixture(scope="module")
def vg_summary(spark, settings):
    return stages.ingest(spark, settings, "visual_genome", str(VG))


def test_visual_genome_counts_match_the_fixture(spark, settings, vg_summary):
    # 15 images in objects.json; the other 34 only appear inside relationships.json.
    assert count(spark, settings, "SELECT count(*) FROM {ns}.images WHERE dataset = 'visual_genome'") == 49
    # No image_data.json: every size is unknown and flagged.
    assert count(spark, settings, "SELECT count(*) FROM {ns}.images WHERE size_known") == 0
    # 460 objects in objects.json plus those that exist only inside relationships.
    assert count(spark, settings, "SELECT count(*) FROM {ns}.objects") == 1435
    assert vg_summary["visual_genome.object.in"] == 1435
    # 50 relationship records + 15 object records; the one without image_id is quarantined whole.
    assert vg_summary["visual_genome.record.in"] == 65
    assert vg_summary["visual_genome.record.quarantined"] == 1
    quarantined = rows(spark, settings, "SELECT reason, payload FROM {ns}.quarantine WHERE entity = 'record'")
    assert [r.reason for r in quarantined] == ["relationships.json record has no image_id"]
    assert len(json.loads(quarantined[0].payload)["relationships"]) == 44


def test_visual_genome_relations_and_their_quarantine(spark, settings, vg_summary):
    assert vg_summary["visual_genome.relation.in"] == 1606
    reasons = dict(
        (r.reason.split(" relationship")[0].split(":")[0], r.n)
        for r in rows(
            spark,
            settings,
            "SELECT reason, count(*) AS n FROM {ns}.quarantine WHERE entity = 'relation' GROUP BY reason",
        )
        if not r.reason.startswith("duplicate")
    )
    assert reasons == {"subject and object are the same object": 58}
    # 265 statements repeat an earlier one; 6 of those are also self-relations, reported as such.
    duplicates = count(spark, settings, "SELECT count(*) FROM {ns}.quarantine WHERE reason LIKE 'duplicate of%'")
    assert duplicates == 265 - 6
    written = count(spark, settings, "SELECT count(*) FROM {ns}.relations")
    assert written == 1606 - 58 - 259 == vg_summary["visual_genome.relation.written"]
    # "man wears shoes" of image 1, names lower-cased, ids as strings.
    wears = rows(
        spark,
        settings,
        "SELECT subject_id, predicate, object_id FROM {ns}.relations "
        "WHERE image_id = 'visual_genome/1' AND relationship_id = '15928'",
    )
    assert [tuple(r) for r in wears] == [("1058529", "wears", "1058525")]


def test_reingesting_changes_nothing(spark, settings, vg_summary):
    before = stages.table_counts(spark, settings)
    version = spark.sql(f"DESCRIBE HISTORY {settings.namespace}.objects").first().version
    again = stages.ingest(spark, settings, "visual_genome", str(VG))
    assert stages.table_counts(spark, settings) == before
    assert again == vg_summary
    # Unchanged rows are not rewritten: the MERGE updates nothing.
    history = spark.sql(f"DESCRIBE HISTORY {settings.namespace}.objects").first()
    assert history.version == version + 1
    assert history.operationMetrics["numTargetRowsUpdated"] == "0"
    assert history.operationMetrics["numTargetRowsInserted"] == "0"


def test_gqa_ingest(spark, settings):
    summary = stages.ingest(spark, settings, "gqa", str(GQA))
    assert summary["gqa.image.written"] == 14
    assert summary["gqa.object.in"] == 239
    assert summary["gqa.relation.in"] == 755
    assert count(spark, settings, "SELECT count(*) FROM {ns}.images WHERE dataset = 'gqa' AND size_known") == 14
    zebra = rows(
        spark,
        settings,
        "SELECT o.name, a.attribute FROM {ns}.objects o JOIN {ns}.attributes a "
        "USING (image_id, object_id) WHERE image_id = 'gqa/2331146' AND object_id = '2708845'",
    )
    assert [tuple(r) for r in zebra] == [("zebra", "black")]


def _write_json(path, value):
    path.write_text(json.dumps(value))


@pytest.fixture(scope="module")
def quirky_vg(tmp_path_factory):
    """A hand-made VG folder with every quirk the reader must handle."""
    src = tmp_path_factory.mktemp("quirky_vg")
    _write_json(
        src / "image_data.json",
        [
            {"image_id": 7, "width": 100, "height": 80, "url": "https://example.org/7.jpg"},
            {"id": 8, "width": 50, "height": 50, "url": "https://example.org/8.jpg"},
        ],
    )
    _write_json(
        src / "objects.json",
        [
            {
                "image_id": 7,
                "objects": [
                    {"object_id": 1, "names": ["Dog "], "x": 10, "y": 10, "w": 20, "h": 20, "merged_object_ids": [11]},
                    {"object_id": 2, "name": "ball", "x": 90, "y": 70, "w": 30, "h": 30, "merged_object_ids": []},
                    {"object_id": 3, "names": ["stick"], "x": 5, "y": 5, "w": 0, "h": 10, "merged_object_ids": []},
                    {"object_id": 4, "names": ["  "], "x": 5, "y": 5, "w": 5, "h": 5, "merged_object_ids": []},
                    {"object_id": 5, "names": ["cloud"], "x": 200, "y": 5, "w": 5, "h": 5, "merged_object_ids": []},
                ],
            },
            {"objects": [{"object_id": 9, "names": ["orphan"], "x": 0, "y": 0, "w": 1, "h": 1}]},
        ],
    )
    _write_json(
        src / "attributes.json",
        [
            {
                "image_id": 7,
                "attributes": [
                    {
                        "object_id": 11,
                        "names": ["dog"],
                        "x": 10,
                        "y": 10,
                        "w": 20,
                        "h": 20,
                        "attributes": ["Brown", "brown "],
                    },
                    {"object_id": 3, "names": ["stick"], "x": 5, "y": 5, "w": 0, "h": 10, "attributes": ["long"]},
                ],
            },
        ],
    )
    _write_json(
        src / "relationships.json",
        [
            {
                "image_id": 7,
                "relationships": [
                    {
                        "relationship_id": 100,
                        "predicate": "Chasing",
                        "subject": {"object_id": 11, "name": "dog", "x": 10, "y": 10, "w": 20, "h": 20},
                        "object": {"object_id": 2, "name": "ball", "x": 90, "y": 70, "w": 30, "h": 30},
                    },
                    {
                        "relationship_id": 101,
                        "predicate": "holding",
                        "subject": {"object_id": 1, "name": "dog", "x": 10, "y": 10, "w": 20, "h": 20},
                        "object": {"object_id": 3, "name": "stick", "x": 5, "y": 5, "w": 0, "h": 10},
                    },
                ],
            },
            {
                "image_id": 8,
                "relationships": [
                    {
                        "relationship_id": 200,
                        "predicate": "on",
                        "subject": {"object_id": 20, "name": "cup", "x": 1, "y": 1, "w": 5, "h": 5},
                        "object": {"object_id": 21, "names": ["table"], "x": 0, "y": 0, "w": 50, "h": 50},
                    },
                ],
            },
        ],
    )
    return src


@pytest.fixture(scope="module")
def quirky_summary(spark, settings, quirky_vg):
    return stages.ingest(spark, settings, "visual_genome", str(quirky_vg), dataset="quirky")


def test_quirks_are_resolved_or_quarantined_with_reasons(spark, settings, quirky_summary):
    reasons = {
        (r.entity, r.record_key): r.reason
        for r in rows(
            spark, settings, "SELECT entity, record_key, reason FROM {ns}.quarantine WHERE dataset = 'quirky'"
        )
    }
    assert reasons[("object", "quirky/7/3")] == "degenerate box: width 0.0, height 10.0"
    assert reasons[("object", "quirky/7/4")] == "empty object name"
    assert reasons[("object", "quirky/7/5")] == "box [200.0, 5.0, 205.0, 10.0] lies outside the 100x80 image"
    assert reasons[("attribute", "quirky/7/3/long")].startswith("object was quarantined: degenerate box")
    assert reasons[("relation", "quirky/7/1/holding/3/101")].startswith("object was quarantined: degenerate box")
    assert [k for k in reasons if k[0] == "record"] and all(
        r == "objects.json record has no image_id" for (e, _), r in reasons.items() if e == "record"
    )


def test_quirks_names_aliases_and_clipping(spark, settings, quirky_summary):
    objects = {r.object_id: r for r in rows(spark, settings, "SELECT * FROM {ns}.objects WHERE image_id = 'quirky/7'")}
    assert sorted(objects) == ["1", "2"]
    assert objects["1"].name == "dog"  # 'names' list, trimmed and lower-cased
    assert objects["2"].clipped and (objects["2"].box.x2, objects["2"].box.y2) == (100.0, 80.0)
    # Alias 11 (merged into 1) resolves for both the attribute and the relation.
    attributes = rows(spark, settings, "SELECT object_id, attribute FROM {ns}.attributes WHERE image_id = 'quirky/7'")
    assert [tuple(r) for r in attributes] == [("1", "brown")]
    chasing = rows(
        spark, settings, "SELECT subject_id, predicate, object_id FROM {ns}.relations WHERE image_id = 'quirky/7'"
    )
    assert [tuple(r) for r in chasing] == [("1", "chasing", "2")]
    # image_data's legacy 'id' column; image 8's objects exist only inside relationships.json.
    sizes = {
        r.image_id: (r.width, r.height, r.size_known)
        for r in rows(spark, settings, "SELECT * FROM {ns}.images WHERE dataset = 'quirky'")
    }
    assert sizes == {"quirky/7": (100, 80, True), "quirky/8": (50, 50, True)}
    assert count(spark, settings, "SELECT count(*) FROM {ns}.objects WHERE image_id = 'quirky/8'") == 2


def test_counts_in_equal_written_plus_quarantined(quirky_summary):
    for entity in ("record", "image", "object", "attribute", "relation"):
        prefix = f"quirky.{entity}"
        assert (
            quirky_summary[f"{prefix}.in"]
            == quirky_summary[f"{prefix}.written"] + quirky_summary[f"{prefix}.quarantined"]
        )
    assert quirky_summary["quirky.object.quarantined"] == 3


def test_scene_graphs_join_the_flat_tables(spark, settings, vg_summary, quirky_summary):
    summary = stages.build_scene_graphs(spark, settings)
    graph = spark.table(f"{settings.namespace}.scene_graphs").filter(F.col("image_id") == "quirky/7").first()
    assert [(o.object_id, o.name, o.attributes, [tuple(r) for r in o.relations]) for o in graph.objects] == [
        ("1", "dog", ["brown"], [("chasing", "2")]),
        ("2", "ball", [], []),
    ]
    assert (graph.n_objects, graph.n_attributes, graph.n_relations) == (2, 1, 1)
    n_images = count(spark, settings, "SELECT count(*) FROM {ns}.images")
    assert summary["scene_graph.in"] == n_images
    # Every image with at least one valid object has a graph; the others are quarantined as empty.
    assert summary["scene_graph.written"] == count(spark, settings, "SELECT count(DISTINCT image_id) FROM {ns}.objects")
    assert stages.build_scene_graphs(spark, settings) == summary


def test_provision_sample_ingest_with_depth_and_masks(spark, settings):
    summary = stages.ingest(spark, settings, "provision", str(FIXTURES / "provision_baseball"))
    assert summary["provision_sample.image.written"] == 2
    # 4 detections in baseball_1, 8 in baseball_2; one mask and one depth summary per box.
    assert summary["provision_sample.object.written"] == 12
    for table in ("masks", "object_depth"):
        assert (
            count(spark, settings, "SELECT count(*) FROM {ns}." + table + " WHERE image_id LIKE 'provision_sample/%'")
            == 12
        )
    assert count(spark, settings, "SELECT count(*) FROM {ns}.image_depth") == 2
    batter = rows(
        spark,
        settings,
        "SELECT o.name, collect_list(a.attribute) AS attrs FROM {ns}.objects o "
        "JOIN {ns}.attributes a USING (image_id, object_id) "
        "WHERE image_id = 'provision_sample/baseball_1' AND object_id = '0' GROUP BY o.name",
    )
    assert [(r.name, sorted(r.attrs)) for r in batter] == [("batter", ["swinging", "white"])]
    holding = rows(
        spark,
        settings,
        "SELECT subject_id, object_id FROM {ns}.relations "
        "WHERE image_id = 'provision_sample/baseball_1' AND predicate = 'holding'",
    )
    assert [tuple(r) for r in holding] == [("0", "1")]
