"""The one file writer of the exports: Spark writes part files, the driver streams them into one file.

Nothing is collected: the parts are read and written through fsspec in blocks, so the output can
be a local path, a Unity Catalog volume (``/Volumes/...``) or a cloud URI (``s3://...``) alike.
"""

from __future__ import annotations

import uuid

import fsspec
from pyspark.sql import Column, DataFrame

BLOCK = 1 << 20


def _staging(out: str) -> str:
    parent, _, name = out.rstrip("/").rpartition("/")
    return f"{parent or '.'}/.{name}.{uuid.uuid4().hex[:8]}.parts"


def write_json(frame: DataFrame, out: str, order: Column, *, as_array: bool) -> None:
    """Write ``frame.json`` (one JSON text a row) to ``out`` in ``order``: a JSON array or JSON lines."""
    out = str(out)
    fs, target = fsspec.core.url_to_fs(out)
    staging = _staging(out)
    _, staging_path = fsspec.core.url_to_fs(staging)
    fs.makedirs(fs._parent(target), exist_ok=True)
    try:
        frame.orderBy(order).select("json").write.mode("overwrite").text(staging)
        parts = sorted(p for p in fs.ls(staging_path, detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
        with fs.open(target, "wb") as sink:
            if as_array:
                _stream_array(fs, parts, sink)
            else:
                for part in parts:
                    with fs.open(part, "rb") as source:
                        while block := source.read(BLOCK):
                            sink.write(block)
    finally:
        if fs.exists(staging_path):
            fs.rm(staging_path, recursive=True)


def _stream_array(fs, parts: list[str], sink) -> None:
    """JSON lines -> one JSON array, ``,\\n`` between records, line by line."""
    sink.write(b"[\n")
    first = True
    for part in parts:
        with fs.open(part, "rb") as source:
            for line in source:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                sink.write(line if first else b",\n" + line)
                first = False
    sink.write(b"\n]\n")


def write_text(out: str, text: str) -> None:
    """A small file (manifest, dataset card) beside an export, through fsspec."""
    fs, target = fsspec.core.url_to_fs(str(out))
    fs.makedirs(fs._parent(target), exist_ok=True)
    with fs.open(target, "w", encoding="utf-8") as f:
        f.write(text)
