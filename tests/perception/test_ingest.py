"""``ingest-images`` on a real local SparkSession: registered images, quarantined files, re-runs."""

from __future__ import annotations

import hashlib

import pytest
from mlflow import MlflowClient
from pyspark.sql import functions as F

from provision_spark.lakehouse import tables
from provision_spark.perception.ingest import ingest_images

from .conftest import MAX_PIXELS, make_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory, real_images):
    return make_image_folder(tmp_path_factory.mktemp("ingest") / "camera", real_images)


@pytest.fixture(scope="module")
def first(spark, settings, folder):
    return ingest_images(spark, settings, str(folder), max_pixels=MAX_PIXELS)


def images(spark, settings, dataset="camera"):
    return (
        tables.read_table(spark, settings, "images").filter(F.col("dataset") == dataset).orderBy("image_id").collect()
    )


def test_usable_images_are_registered(spark, settings, folder, first):
    rows = images(spark, settings)
    assert [r.image_id for r in rows] == [
        "camera/baseball_1.png",
        "camera/baseball_2.png",
        "camera/bus.jpg",
        "camera/more/late.jpg",
        "camera/strip.png",
        "camera/zidane.jpg",
    ]
    bus = rows[2]
    assert (rows[4].width, rows[4].height, rows[4].format) == (4000, 1, "PNG")
    assert (bus.width, bus.height, bus.format, bus.source, bus.size_known) == (810, 1080, "JPEG", "model", True)
    assert bus.uri == f"file:{folder / 'bus.jpg'}"
    assert bus.content_hash == hashlib.sha256((folder / "bus.jpg").read_bytes()).hexdigest()
    assert MlflowClient().get_run(bus.run_id).data.tags["job"] == "ingest-images"


def test_unusable_files_are_quarantined_with_their_reason(spark, settings, first):
    quarantined = {
        r.record_key: r.reason
        for r in tables.read_table(spark, settings, "quarantine").filter(F.col("stage") == "ingest").collect()
    }
    assert quarantined == {
        "camera/bomb.png": "decompression bomb: 2500x2500 pixels is over the 4000000 limit",
        "camera/notes.txt": "not an image: no image format recognises the bytes",
        "camera/truncated.jpg": quarantined["camera/truncated.jpg"],
    }
    assert quarantined["camera/truncated.jpg"].startswith("unreadable JPEG data: image file is truncated")
    assert first == {"images.in": 9, "images.written": 6, "images.quarantined": 3}


def test_a_rerun_changes_nothing(spark, settings, folder, first):
    before = images(spark, settings)
    n_quarantined = tables.read_table(spark, settings, "quarantine").count()
    assert ingest_images(spark, settings, str(folder), max_pixels=MAX_PIXELS) == first
    assert images(spark, settings) == before  # same rows, the first run's id kept
    assert tables.read_table(spark, settings, "quarantine").count() == n_quarantined


def test_files_too_large_are_quarantined_unread(spark, settings, folder, first):
    summary = ingest_images(spark, settings, str(folder), dataset="capped", max_pixels=MAX_PIXELS, max_bytes=60_000)
    too_large = (
        tables.read_table(spark, settings, "quarantine")
        .filter((F.col("dataset") == "capped") & F.col("reason").startswith("file too large to read"))
        .count()
    )
    assert too_large == 4  # both baseball PNGs, bus.jpg and its copy
    assert [r.image_id for r in images(spark, settings, "capped")] == ["capped/strip.png", "capped/zidane.jpg"]
    assert summary == {"images.in": 9, "images.written": 2, "images.quarantined": 7}
