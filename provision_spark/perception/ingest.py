"""``ingest-images``: a folder (local, a Unity Catalog volume, cloud storage) -> the ``images`` table.

Spark's ``binaryFile`` source lists and reads the files on the executors; each file is decoded
there once to learn its format and size and to catch what is not a usable image (not an image,
truncated, a decompression bomb, too large to read), which goes to ``quarantine`` with the reason.
The image id is ``<dataset>/<path under the folder>``; the dataset defaults to the folder's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import to_quarantine
from provision_spark.lakehouse.tracking import job_run

CHECKED_DDL = "path string, format string, width int, height int, content_hash string, reason string"
#: Spark's binaryFile reader cannot hold files over 2 GiB; no image we want is that large.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000


SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?"


def without_scheme(path: str) -> str:
    """``file:/a/b``, ``dbfs:/Volumes/a/b``, ``s3://bucket/a/b`` -> ``/a/b``, ``/Volumes/a/b``, ``/a/b``."""
    return re.sub(SCHEME, "", path)


def folder_root(src: str) -> str:
    """The folder as it appears (without scheme) at the start of the paths Spark lists under it."""
    root = without_scheme(src) if re.match(SCHEME, src) else os.path.abspath(src)
    return root.rstrip("/") + "/"


def check_files(max_pixels: int, checked_schema: StructType):
    """``mapInArrow`` function: (path, content) -> format, size, sha256, or the reason it is unusable."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        from provision_spark.perception.images import ImageRejected, inspect

        schema = to_arrow_schema(checked_schema)
        for batch in batches:
            out = []
            for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist()):
                row = {"path": path}
                try:
                    info = inspect(content, max_pixels)
                    row.update(format=info.format, width=info.width, height=info.height, content_hash=info.content_hash)
                except ImageRejected as error:
                    row["reason"] = str(error)
                out.append(row)
            yield pa.RecordBatch.from_pylist(out, schema=schema)

    return run


def checked_files(spark: SparkSession, src: str, max_pixels: int, max_bytes: int) -> DataFrame:
    """Every file under ``src`` once: checked, or refused for its size without being read."""
    reader = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
    readable = reader.load(src).filter(F.col("length") <= max_bytes).select("path", "content")
    too_large = (
        reader.load(src)
        .filter(F.col("length") > max_bytes)
        .select(
            "path",
            F.format_string("file too large to read: %d bytes (limit %d)", "length", F.lit(max_bytes)).alias("reason"),
        )
    )
    schema = StructType.fromDDL(CHECKED_DDL)
    checked = readable.mapInArrow(check_files(max_pixels, schema), schema)
    return checked.unionByName(too_large, allowMissingColumns=True)


def image_rows(checked: DataFrame, src: str, dataset: str) -> DataFrame:
    """``images`` rows: id ``<dataset>/<relative path>``; ``source`` 'model' (perception makes their graphs)."""
    start = len(folder_root(src)) + 1
    relative = F.substring(F.regexp_replace("path", SCHEME, ""), start, 1 << 30)
    return checked.select(
        F.concat(F.lit(f"{dataset}/"), relative).alias("image_id"),
        F.lit(dataset).alias("dataset"),
        F.lit("model").alias("source"),
        F.col("path").alias("uri"),
        "width",
        "height",
        F.col("width").isNotNull().alias("size_known"),
        "content_hash",
        "format",
        "reason",
    )


def ingest_images(
    spark: SparkSession,
    settings: Settings,
    src: str,
    dataset: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, float]:
    """Files under ``src`` -> ``images`` (MERGE: a re-run changes nothing) and ``quarantine``."""
    dataset = dataset or folder_root(src).rstrip("/").rsplit("/", 1)[-1]
    tables.ensure_tables(spark, settings, ["images", "quarantine"])
    params = {"src": src, "dataset": dataset, "max_pixels": max_pixels, "max_bytes": max_bytes}
    with job_run(settings, "ingest-images", params) as run:
        rows = image_rows(checked_files(spark, src, max_pixels, max_bytes), src, dataset).persist()
        try:
            good = rows.filter(F.col("reason").isNull()).drop("reason")
            bad = rows.filter(F.col("reason").isNotNull())
            tables.merge_into(spark, settings, "images", good, run_id=run.run_id)
            quarantined = to_quarantine(
                bad.select("image_id", "uri", "reason"),
                dataset=dataset,
                entity="image",
                stage="ingest",
                key_cols=["image_id"],
            )
            tables.merge_into(spark, settings, "quarantine", quarantined, run_id=run.run_id)
            n_in, n_bad = rows.count(), bad.count()
            run.log_counts("images", n_in, n_in - n_bad, n_bad)
        finally:
            rows.unpersist()
        return run.summary
