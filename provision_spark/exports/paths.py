"""Image paths in exports: a path map turns ``images`` rows into paths relative to one image root.

A trainer joins each path to its image folder (LLaVA: ``os.path.join(image_folder, image)``), so
an export must hold paths relative to that folder, in the layout the photos are kept in. The map
has one template per source dataset; placeholders:

- ``{id}``: the image id without its dataset prefix (Visual Genome/GQA ids; for an ingested folder
  the file's path relative to the folder given to ``--src``);
- ``{file}``: the file name of the image's recorded uri;
- ``{dataset}``: the dataset name.

The defaults follow LLaVA's layout (``vg/VG_100K/<id>.jpg``, ``gqa/images/<id>.jpg``); any other
dataset uses ``*`` (``{id}``: ingested folders relative to their ``--src``). One photo ingested
twice (the same file, or the same content hash) gets one path: the path of its smallest image id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

DEFAULT_TEMPLATES: dict[str, str] = {
    "visual_genome": "vg/VG_100K/{id}.jpg",
    "gqa": "gqa/images/{id}.jpg",
    "provision_sample": "{file}",
    "*": "{id}",
}
PLACEHOLDERS = ("id", "file", "dataset")
SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?"


def path_map(config: Path | None = None, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Defaults, then a YAML/JSON file ``{dataset: template}``, then ``--image-path DATASET=TEMPLATE`` options."""
    templates = dict(DEFAULT_TEMPLATES)
    if config is not None:
        import yaml

        loaded = yaml.safe_load(Path(config).read_text()) or {}
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ValueError(f"{config}: a path map is a mapping of dataset name to path template")
        templates.update({str(k): v for k, v in loaded.items()})
    templates.update(overrides or {})
    for dataset, template in templates.items():
        unknown = set(re.findall(r"{([^}]*)}", template)) - set(PLACEHOLDERS)
        if unknown:
            raise ValueError(f"path template for {dataset!r} uses {sorted(unknown)}; placeholders: {PLACEHOLDERS}")
    return templates


def parse_overrides(values: list[str] | None) -> dict[str, str]:
    """``["vrd=vrd/{id}.jpg"]`` -> ``{"vrd": "vrd/{id}.jpg"}``."""
    out = {}
    for value in values or []:
        dataset, sep, template = value.partition("=")
        if not sep or not dataset.strip():
            raise ValueError(f"--image-path takes DATASET=TEMPLATE, not {value!r}")
        out[dataset.strip()] = template.strip()
    return out


def _render(template: str) -> Column:
    """A template as a column over (local_id, file, dataset)."""
    parts: list[Column] = []
    for literal, name in re.findall(r"([^{]*)(?:{([^}]*)})?", template):
        if literal:
            parts.append(F.lit(literal))
        if name:
            parts.append(F.col({"id": "local_id", "file": "file", "dataset": "dataset"}[name]))
    return F.concat(*parts) if parts else F.lit("")


def _path(templates: Mapping[str, str]) -> Column:
    """The path of a row of (dataset, local_id, file) under its dataset's template."""
    path = _render(templates["*"])
    for dataset, template in templates.items():
        if dataset != "*":
            path = F.when(F.col("dataset") == dataset, _render(template)).otherwise(path)
    return path


def _local_id() -> Column:
    """The image id without its ``<dataset>/`` prefix."""
    return F.expr("substring(image_id, length(substring_index(image_id, '/', 1)) + 2)")


def image_paths(images: DataFrame, templates: Mapping[str, str]) -> DataFrame:
    """(image_id, path): every image's path under the image root, one path per photo."""
    bare_uri = F.regexp_replace("uri", SCHEME, "")
    df = images.select(
        "image_id",
        "dataset",
        "content_hash",
        _local_id().alias("local_id"),
        F.substring_index(bare_uri, "/", -1).alias("file"),
        F.coalesce(bare_uri, "image_id").alias("_file_key"),
    )
    df = df.withColumn("path", _path(templates))
    # The same file under two ids shares its content hash, when either read it.
    df = df.withColumn("_hash", F.max("content_hash").over(Window.partitionBy("_file_key")))
    photo = Window.partitionBy(F.coalesce("_hash", "_file_key"))
    canonical = F.min(F.struct("image_id", "path")).over(photo)["path"]
    return df.select("image_id", canonical.alias("path"))


def with_image_paths(instructions: DataFrame, paths: DataFrame, templates: Mapping[str, str]) -> DataFrame:
    """``instructions`` with ``image_paths`` (in ``image_ids`` order). An image missing from ``images``
    is named from its id alone (dataset = the id's prefix, ``{file}`` = the rest)."""
    exploded = instructions.select("instruction_id", F.posexplode("image_ids").alias("pos", "image_id"))
    from_id = exploded.select(
        "image_id",
        F.substring_index("image_id", "/", 1).alias("dataset"),
        _local_id().alias("local_id"),
        _local_id().alias("file"),
    )
    path = F.coalesce(F.col("path"), _path(templates))
    joined = (
        exploded.join(paths, "image_id", "left")
        .join(from_id.distinct(), "image_id")
        .groupBy("instruction_id")
        .agg(F.array_sort(F.collect_list(F.struct("pos", path.alias("path")))).alias("p"))
        .select("instruction_id", F.col("p.path").alias("image_paths"))
    )
    return instructions.join(joined, "instruction_id")


def _root_join(root: str, path: str) -> str:
    return root.rstrip("/") + "/" + path


def exists_in(root: str) -> Column:
    """Whether ``root/path`` is a file, checked on the executors through fsspec (local, Volumes, s3://...)."""

    def check(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import fsspec

        fs, base = fsspec.core.url_to_fs(root)
        for paths in batches:
            yield paths.map(lambda p: bool(fs.isfile(_root_join(base, p))))

    return F.pandas_udf(check, "boolean")(F.col("path"))


def read_bytes_from(root: str) -> Column:
    """The bytes of ``root/path`` (null when missing), read on the executors through fsspec."""

    def read(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import fsspec

        fs, base = fsspec.core.url_to_fs(root)
        for paths in batches:
            full = paths.map(lambda p: _root_join(base, p))
            yield full.map(lambda p: fs.cat_file(p) if fs.isfile(p) else None)

    return F.pandas_udf(read, "binary")(F.col("path"))


def missing_report(rows: DataFrame, root: str) -> tuple[DataFrame, DataFrame]:
    """(rows with every image present, rows with one missing, with ``missing`` paths), checked once per path."""
    paths = rows.select(F.explode("image_paths").alias("path")).distinct()
    checked = paths.withColumn("present", exists_in(root))
    missing = checked.filter(~F.col("present")).select("path")
    exploded = rows.select("instruction_id", F.explode("image_paths").alias("path"))
    bad = (
        exploded.join(missing, "path")
        .groupBy("instruction_id")
        .agg(F.sort_array(F.collect_set("path")).alias("missing"))
    )
    return rows.join(bad, "instruction_id", "left_anti"), rows.join(bad, "instruction_id")
