"""Image checks without Spark: what is refused, and why."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from provision_spark.perception.images import ImageRejected, inspect, load_rgb, read_bytes
from provision_spark.perception.ingest import folder_root, without_scheme

from .conftest import MAX_PIXELS


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_real_image_is_described(real_images):
    data = real_images[2].read_bytes()
    info = inspect(data, MAX_PIXELS)
    assert (info.format, info.width, info.height) == ("JPEG", 810, 1080)
    assert info.content_hash == hashlib.sha256(data).hexdigest()


def test_rgba_fixture_decodes_to_rgb(real_images):
    image = load_rgb(f"file:{real_images[0]}", MAX_PIXELS)
    assert image.mode == "RGB" and image.size == (401, 400)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"plain text, not pixels", "not an image"),
        (png(2500, 2500, "L"), "decompression bomb: 2500x2500 pixels is over the 4000000 limit"),
    ],
)
def test_unusable_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        inspect(data, MAX_PIXELS)


def test_a_truncated_file_is_refused(real_images):
    with pytest.raises(ImageRejected, match="unreadable JPEG data: image file is truncated"):
        inspect(real_images[2].read_bytes()[:4000], MAX_PIXELS)


def test_pillows_own_bomb_error_is_reported_as_a_bomb(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # Pillow refuses over twice its limit
    with pytest.raises(ImageRejected, match="decompression bomb"):
        inspect(png(2500, 2500, "L"), max_pixels=10**12)


def test_uris_resolve_to_local_files(real_images, tmp_path):
    path = real_images[0]
    assert read_bytes(f"file:{path}") == read_bytes(str(path)) == path.read_bytes()
    assert without_scheme("dbfs:/Volumes/main/raw/images/a.png") == "/Volumes/main/raw/images/a.png"
    assert without_scheme("s3://bucket/images/a.png") == "/images/a.png"
    assert folder_root("dbfs:/Volumes/main/raw/images/") == "/Volumes/main/raw/images/"
    assert folder_root(str(tmp_path)) == f"{tmp_path}/"
