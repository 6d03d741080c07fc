"""Perception fixtures: the tiny random models (built once per session) and a folder of real images
(the ProVision baseball fixtures and ultralytics' sample images) with broken files beside them."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import pytest

from ..conftest import FIXTURES

# PySpark starts Python workers with $PYSPARK_PYTHON (the spark.pyspark.python setting only reaches
# spark-submit); they must run this interpreter, which has torch and the model libraries.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

BASEBALL = FIXTURES / "provision_baseball" / "images"
#: The test bomb is 2500 x 2500 pixels; real images here are at most 1280 x 720.
MAX_PIXELS = 4_000_000


def ultralytics_assets() -> Path:
    import ultralytics

    return Path(ultralytics.__file__).resolve().parent / "assets"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """The tiny models' config, set for tests: one image per detection batch, two tasks per stage."""
    from provision_spark.perception.tiny import build_tiny_models

    config = build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
    return dataclasses.replace(
        config, detect=dataclasses.replace(config.detect, batch_size=1), num_partitions=2, max_image_pixels=MAX_PIXELS
    )


@pytest.fixture(scope="session")
def real_images() -> list[Path]:
    images = sorted(BASEBALL.glob("*.png")) + [ultralytics_assets() / "bus.jpg", ultralytics_assets() / "zidane.jpg"]
    assert len(images) == 4 and all(p.is_file() for p in images)
    return images


def make_image_folder(folder: Path, real_images: list[Path]) -> Path:
    """Real images, a copy of one in a subfolder, a 4000 x 1 strip (a valid image that breaks the
    depth model's preprocessing), and three files that are no usable image."""
    from PIL import Image

    folder.mkdir(parents=True)
    for path in real_images:
        shutil.copy(path, folder / path.name)
    (folder / "more").mkdir()
    shutil.copy(real_images[2], folder / "more" / "late.jpg")
    (folder / "truncated.jpg").write_bytes(real_images[2].read_bytes()[:4000])
    (folder / "notes.txt").write_text("not an image\n")
    Image.new("RGB", (4000, 1), (200, 30, 30)).save(folder / "strip.png")
    Image.new("L", (2500, 2500)).save(folder / "bomb.png")  # a few kB on disk, 6 Mpx decoded
    return folder
