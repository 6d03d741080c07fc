"""The SQL views return the right numbers.

The lakehouse: the Visual Genome subset through the real ingest (numbers checked against its raw
JSON), plus a few hand-made rows whose aggregates are known by construction: a folder of photos
(``my_photos``) that two detector versions annotated, and a handful of instructions.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from pyspark.sql import Row
from typer.testing import CliRunner

from provision_spark import stages
from provision_spark.lakehouse import tables, views
from provision_spark.scene_graphs import EMPTY_GRAPH

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
VG = FIXTURES / "vg_raw_subset"


def box(x1, y1, x2, y2):
    return Row(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2))


def model(version):
    return dict(source="model", model_name="yolo-world", model_version=version)


MY_PHOTOS = [
    dict(
        image_id=f"my_photos/{name}",
        dataset="my_photos",
        source="model",
        uri=f"/Volumes/x/{name}.jpg",
        width=640,
        height=480,
        size_known=True,
    )
    for name in ("a", "b", "c")  # c: nothing detected, so no scene graph
]
MODEL_OBJECTS = [
    dict(
        image_id="my_photos/a",
        object_id="yw-v1-000",
        name="robot",
        box=box(0, 0, 100, 100),
        clipped=False,
        **model("v1"),
    ),
    dict(
        image_id="my_photos/a",
        object_id="yw-v1-001",
        name="drone",
        box=box(200, 50, 300, 150),
        clipped=False,
        **model("v1"),
    ),
    dict(
        image_id="my_photos/b",
        object_id="yw-v1-000",
        name="robot",
        box=box(10, 10, 50, 90),
        clipped=False,
        **model("v1"),
    ),
    dict(
        image_id="my_photos/a",
        object_id="yw-v2-000",
        name="robot",
        box=box(0, 0, 110, 100),
        clipped=False,
        **model("v2"),
    ),
]
MODEL_ATTRIBUTES = [
    dict(image_id="my_photos/a", object_id="yw-v1-000", attribute="chrome", **model("v1")),
    dict(image_id="my_photos/a", object_id="yw-v1-000", attribute="tiny", **model("v1")),
    dict(image_id="my_photos/b", object_id="yw-v1-000", attribute="chrome", **model("v1")),
]
MODEL_RELATIONS = [
    dict(
        image_id="my_photos/a", subject_id="yw-v1-001", predicate="hovering over", object_id="yw-v1-000", **model("v1")
    ),
]


def instruction(n, generator, family, kind, split, answer, correct_index, n_choices, images=("visual_genome/1",)):
    choices = [f"choice {i}" for i in range(n_choices)]
    choices[correct_index] = answer
    return dict(
        instruction_id=f"i{n}",
        generator=generator,
        family=family,
        kind=kind,
        image_ids=list(images),
        question="q?",
        answer=answer,
        mc_question="q? choices",
        choices=choices,
        correct_index=correct_index,
        metadata="{}",
        split=split,
        source="model" if split.startswith("DC") else "human",
        seed=0,
    )


INSTRUCTIONS = [
    instruction(1, "object_count", "objects", "single", "VG-S", "1", 0, 4),
    instruction(2, "object_count", "objects", "single", "VG-S", "1", 1, 4),
    instruction(3, "object_count", "objects", "single", "VG-S", "2", 2, 4),
    instruction(4, "object_count", "objects", "single", "DC-S", "1", 0, 4, images=("my_photos/a",)),
    instruction(5, "depth_point_closer", "depth", "single", "VG-S", "(0.1, 0.2)", 0, 2),
    instruction(6, "depth_point_closer", "depth", "single", "VG-S", "(0.3, 0.4)", 1, 2),
    instruction(
        7,
        "select_has_object",
        "select",
        "multi",
        "VG-M",
        "Image 2",
        1,
        3,
        images=("visual_genome/1", "visual_genome/2", "visual_genome/3"),
    ),
]


def merge(spark, settings, table, rows):
    tables.merge_into(spark, settings, table, spark.createDataFrame([Row(**r) for r in rows]), run_id="hand-made")


@pytest.fixture(scope="module")
def lakehouse(spark, settings):
    stages.ingest(spark, settings, "visual_genome", str(VG))
    merge(spark, settings, "images", MY_PHOTOS)
    merge(spark, settings, "objects", MODEL_OBJECTS)
    merge(spark, settings, "attributes", MODEL_ATTRIBUTES)
    merge(spark, settings, "relations", MODEL_RELATIONS)
    stages.build_scene_graphs(spark, settings)
    merge(spark, settings, "instructions", INSTRUCTIONS)
    created = views.create_views(spark, settings)
    return settings, created


def rows(spark, settings, view, order):
    return [r.asDict() for r in spark.sql(f"SELECT * FROM {settings.namespace}.{view} ORDER BY {order}").collect()]


@pytest.fixture(scope="module")
def raw_vg():
    """Counts taken straight from the VG subset's JSON, without Spark."""
    records = json.loads((VG / "relationships.json").read_text())
    relations = [r for rec in records if "image_id" in rec for r in rec["relationships"]]
    return {
        "records_without_image_id": sum("image_id" not in rec for rec in records),
        "relations": len(relations),
        "self_relations": sum(r["subject"]["object_id"] == r["object"]["object_id"] for r in relations),
        "images": len({rec["image_id"] for rec in records if "image_id" in rec}),
    }


def test_views_are_created_in_the_namespace_and_can_be_recreated(spark, lakehouse):
    settings, created = lakehouse
    assert created == [f"{settings.namespace}.{name}" for name in views.VIEWS]
    assert not set(views.VIEWS) & set(tables.table_names()), "a view would shadow a table"
    assert views.create_views(spark, settings) == created  # CREATE OR REPLACE: idempotent
    listed = {t.name for t in spark.catalog.listTables(settings.namespace) if t.tableType == "VIEW"}
    assert set(views.VIEWS) <= listed
    comment = (
        spark.sql(f"DESCRIBE TABLE EXTENDED {settings.namespace}.quarantine_by_reason")
        .where("col_name = 'Comment'")
        .first()
    )
    assert comment and "set aside" in comment.data_type


def test_instructions_by_generator(spark, lakehouse):
    settings, _ = lakehouse
    got = {
        (r["generator"], r["split"]): (r["family"], r["kind"], r["source"], r["n_instructions"])
        for r in rows(spark, settings, "instructions_by_generator", "generator, split")
    }
    assert got == {
        ("depth_point_closer", "VG-S"): ("depth", "single", "human", 2),
        ("object_count", "DC-S"): ("objects", "single", "model", 1),
        ("object_count", "VG-S"): ("objects", "single", "human", 3),
        ("select_has_object", "VG-M"): ("select", "multi", "human", 1),
    }


def test_answer_distribution(spark, lakehouse):
    settings, _ = lakehouse
    got = [
        (r["generator"], r["answer"], r["n"], r["share"], r["rank"])
        for r in rows(spark, settings, "answer_distribution", "generator, rank, answer")
    ]
    assert got == [
        ("depth_point_closer", "(0.1, 0.2)", 1, 0.5, 1),
        ("depth_point_closer", "(0.3, 0.4)", 1, 0.5, 1),
        ("object_count", "1", 3, 0.75, 1),
        ("object_count", "2", 1, 0.25, 2),
        ("select_has_object", "Image 2", 1, 1.0, 1),
    ]


def test_mc_answer_positions(spark, lakehouse):
    settings, _ = lakehouse
    got = [
        (r["generator"], r["n_choices"], r["correct_index"], r["n"], r["share"])
        for r in rows(spark, settings, "mc_answer_positions", "generator, correct_index")
    ]
    assert got == [
        ("depth_point_closer", 2, 0, 1, 0.5),
        ("depth_point_closer", 2, 1, 1, 0.5),
        ("object_count", 4, 0, 2, 0.5),
        ("object_count", 4, 1, 1, 0.25),
        ("object_count", 4, 2, 1, 0.25),
        ("select_has_object", 3, 1, 1, 1.0),
    ]


def test_object_frequency(spark, lakehouse, raw_vg):
    settings, _ = lakehouse
    got = rows(spark, settings, "object_frequency", "n_objects DESC, name")
    objects = tables.read_table(spark, settings, "objects").select("image_id", "name", "source").collect()
    expected = collections.Counter(o.name for o in objects)
    assert [(r["name"], r["n_objects"]) for r in got] == sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))
    assert sum(r["n_human"] for r in got) == len(objects) - len(MODEL_OBJECTS)
    by_name = {r["name"]: r for r in got}
    assert (
        by_name["robot"]["n_objects"],
        by_name["robot"]["n_images"],
        by_name["robot"]["n_model"],
        by_name["robot"]["n_human"],
    ) == (3, 2, 3, 0)
    assert (by_name["drone"]["n_objects"], by_name["drone"]["n_images"]) == (1, 1)
    top = got[0]  # Visual Genome's most common object, present in many of its images
    images_with_top = {o.image_id for o in objects if o.name == top["name"]}
    assert top["n_images"] == len(images_with_top) and top["n_human"] == top["n_objects"]
    assert len({o.image_id for o in objects if o.source == "human"}) == raw_vg["images"]


def test_attribute_and_predicate_frequency(spark, lakehouse):
    settings, _ = lakehouse
    attributes = {
        r["attribute"]: (r["n_objects"], r["n_images"], r["n_model"])
        for r in rows(spark, settings, "attribute_frequency", "attribute")
    }
    assert attributes == {"chrome": (2, 2, 2), "tiny": (1, 1, 1)}  # the VG subset has no attributes.json
    got = rows(spark, settings, "predicate_frequency", "n_relations DESC, predicate")
    relations = tables.read_table(spark, settings, "relations").select("image_id", "predicate").collect()
    expected = collections.Counter(r.predicate for r in relations)
    assert {r["predicate"]: r["n_relations"] for r in got} == dict(expected)
    assert [r["n_relations"] for r in got] == sorted(expected.values(), reverse=True)
    hovering = next(r for r in got if r["predicate"] == "hovering over")
    assert (hovering["n_relations"], hovering["n_images"], hovering["n_model"]) == (1, 1, 1)


def test_scene_graph_sizes(spark, lakehouse, raw_vg):
    settings, _ = lakehouse
    got = {r["image_id"]: r for r in rows(spark, settings, "scene_graph_sizes", "image_id")}
    assert len(got) == raw_vg["images"] + len(MY_PHOTOS)
    objects = collections.Counter(r.image_id for r in tables.read_table(spark, settings, "objects").collect())
    relations = collections.Counter(r.image_id for r in tables.read_table(spark, settings, "relations").collect())
    for image_id, row in got.items():
        assert row["n_objects"] == objects[image_id], image_id
        assert row["n_relations"] == relations[image_id], image_id
        assert row["has_scene_graph"] == (objects[image_id] > 0)
        assert (row["n_masks"], row["n_object_depths"], row["has_depth_map"]) == (0, 0, False)
    a = got["my_photos/a"]
    assert (a["n_objects"], a["n_attributes"], a["n_relations"], a["width"]) == (3, 2, 1, 640)
    c = got["my_photos/c"]
    assert (c["has_scene_graph"], c["n_objects"], c["n_attributes"]) == (False, 0, 0)


def test_perception_coverage(spark, lakehouse, raw_vg):
    settings, _ = lakehouse
    got = {
        (r["table_name"], r["dataset"], r["model_version"]): (
            r["n_rows"],
            r["n_images"],
            r["images_total"],
            r["coverage"],
        )
        for r in rows(spark, settings, "perception_coverage", "table_name, dataset, model_version")
    }
    assert got[("objects", "my_photos", "v1")] == (3, 2, 3, pytest.approx(2 / 3))
    assert got[("objects", "my_photos", "v2")] == (1, 1, 3, pytest.approx(1 / 3))
    assert got[("attributes", "my_photos", "v1")] == (3, 2, 3, pytest.approx(2 / 3))
    assert got[("relations", "my_photos", "v1")] == (1, 1, 3, pytest.approx(1 / 3))
    vg_objects = tables.read_table(spark, settings, "objects").where("source = 'human'").count()
    assert got[("objects", "visual_genome", "human")] == (vg_objects, raw_vg["images"], raw_vg["images"], 1.0)
    assert {key[0] for key in got} == {"objects", "attributes", "relations"}  # no masks or depth here


def test_quarantine_by_reason(spark, lakehouse, raw_vg):
    settings, _ = lakehouse
    got = {
        (r["dataset"], r["entity"], r["stage"], r["reason"]): r
        for r in rows(spark, settings, "quarantine_by_reason", "n DESC")
    }
    written = tables.read_table(spark, settings, "relations").where("source = 'human'").count()
    self_relations = got[("visual_genome", "relation", "validate", "subject and object are the same object")]
    duplicates = got[("visual_genome", "relation", "validate", "duplicate of relationship #")]
    no_image_id = got[("visual_genome", "record", "parse", "relationships.json record has no image_id")]
    assert self_relations["n"] == raw_vg["self_relations"] == 58
    assert duplicates["n"] == raw_vg["relations"] - raw_vg["self_relations"] - written
    assert duplicates["example"].startswith("duplicate of relationship ") and duplicates["example"][-1].isdigit()
    assert no_image_id["n"] == raw_vg["records_without_image_id"] == 1
    assert got[("my_photos", "scene_graph", "build", EMPTY_GRAPH)]["n"] == 1
    total = tables.read_table(spark, settings, "quarantine").count()
    assert sum(r["n"] for r in got.values()) == total


def test_provision_sql_queries_the_views(spark, lakehouse):
    settings, _ = lakehouse
    from provision_spark.cli import app

    result = CliRunner().invoke(
        app,
        [
            "--lakehouse",
            str(settings.lakehouse),
            "--schema",
            settings.schema,
            "sql",
            "--json",
            f"SELECT generator, n_instructions FROM {settings.namespace}.instructions_by_generator "
            "WHERE split = 'VG-S' ORDER BY generator",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines == [
        {"generator": "depth_point_closer", "n_instructions": 2},
        {"generator": "object_count", "n_instructions": 3},
    ]
