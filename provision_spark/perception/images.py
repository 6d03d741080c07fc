"""Reading and checking image files, shared by ingestion and every perception stage.

A file is refused (with a reason that goes to ``quarantine``) when it is not an image, when its
header promises more pixels than ``max_pixels`` (a decompression bomb: a few kilobytes that decode
to gigabytes), or when its data ends early (truncated). The check decodes the whole image, since
truncation only shows then.
"""

from __future__ import annotations

import hashlib
import io
import sys
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from provision_spark.perception.weights import fuse_path


class ImageRejected(ValueError):
    """The bytes are not a usable image; the message is the quarantine reason."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    content_hash: str


def read_bytes(uri: str) -> bytes:
    """Bytes behind a ``file:``/``dbfs:``/local/``/Volumes`` path, or any fsspec URL (s3://, abfss://...)."""
    if "://" in uri and not uri.startswith(("file:", "dbfs:")):
        import fsspec

        with fsspec.open(uri, "rb") as handle:
            return handle.read()
    return fuse_path(uri).read_bytes()


def _pillow_open():
    """Pillow's own ``Image.open``: importing ultralytics replaces it process-wide with a wrapper that
    answers an unknown format by trying to pip-install a HEIF plugin (it keeps the original)."""
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open) if patches is not None else Image.open


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """The decoded image, or ``ImageRejected`` saying why not."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _pillow_open()(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageRejected(f"decompression bomb: {error}") from None
        except UnidentifiedImageError:
            raise ImageRejected("not an image: no image format recognises the bytes") from None
        except Exception as error:  # noqa: BLE001 - a broken header can raise almost anything
            raise ImageRejected(f"unreadable image header: {type(error).__name__}: {error}") from None
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(f"decompression bomb: {width}x{height} pixels is over the {max_pixels} limit")
        try:
            image.load()
        except Exception as error:  # noqa: BLE001 - truncated or corrupt data, whatever the codec raises
            raise ImageRejected(f"unreadable {image.format} data: {error}") from None
    return image


def inspect(data: bytes, max_pixels: int) -> ImageInfo:
    image = open_checked(data, max_pixels)
    return ImageInfo(image.format or "unknown", image.width, image.height, hashlib.sha256(data).hexdigest())


def load_rgb(uri: str, max_pixels: int) -> Image.Image:
    """Decode once per stage: the RGB image every model of the stage works on."""
    image = open_checked(read_bytes(uri), max_pixels)
    return image if image.mode == "RGB" else image.convert("RGB")
