"""Depth maps and segmentation masks of the reference ProVision sample -> ``masks``,
``object_depth`` and ``image_depth``.

The sample ships, per image, ``depth_masks/<image>_depth.npy`` (uint8 relative depth, larger =
nearer, image-sized) and ``seg_masks/<image>_mask.npz`` (key ``masks``: bool ``(n_boxes, H, W)``,
aligned with the boxes of ``segmentation-annotations.json``, whose order is the detection order,
so the object id of mask ``i`` is ``str(i)``). The files are read inside Spark tasks
(``binaryFile`` + ``applyInPandas`` per image); the driver only reads the small JSON indexes.

Written:
- ``masks``: one COCO compressed RLE per object (pycocotools, Fortran-ordered uint8), never pickles;
- ``object_depth``: mean/median/min/max depth over the object's mask, or its box without a mask;
- ``image_depth``: the map box-downsampled to at most ``MAP_SIDE`` pixels a side, uint8 row-major.
Anything unusable (mask count or size not matching the boxes/image, unreadable file) goes to
``quarantine`` with its reason; counts in / written / quarantined are logged on the run.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.quarantine import to_quarantine

SOURCE = "model"
MASK_MODEL = "sam (provision reference sample)"
DEPTH_MODEL = "depth-anything (provision reference sample)"
MODEL_VERSION = "provision_sample"
MAP_SIDE = 128

SEGMENTATION_INDEX = "segmentation-annotations.json"
DEPTH_INDEX = "depth-estimation-annotations.json"

_INDEX_SCHEMA = (
    "map<string,struct<annotation:struct<width:int,height:int,seg_mask_id:string,depth_mask_id:string,"
    "bboxes:array<array<double>>>>>"
)

OUTPUT_SCHEMA = (
    "kind string, image_id string, object_id string, height int, width int, rle_counts string, area long, "
    "depth_mean double, depth_median double, depth_min double, depth_max double, region string, "
    "map_height int, map_width int, depth_map binary, reason string, record_key string"
)
_OUTPUT_COLUMNS = [c.strip().split(" ")[0] for c in OUTPUT_SCHEMA.split(",")]


def _index(spark: SparkSession, src: str, name: str, dataset: str) -> DataFrame:
    path = os.path.join(src, name)
    return (
        spark.read.text(path, wholetext=True)
        .select(F.explode(F.from_json("value", _INDEX_SCHEMA)).alias("name", "entry"))
        .select(
            F.concat(F.lit(f"{dataset}/"), "name").alias("image_id"),
            F.col("entry.annotation.width").alias("image_width"),
            F.col("entry.annotation.height").alias("image_height"),
            F.col("entry.annotation.seg_mask_id").alias("seg_mask_id"),
            F.col("entry.annotation.depth_mask_id").alias("depth_mask_id"),
            F.col("entry.annotation.bboxes").alias("bboxes"),
        )
    )


def _files(spark: SparkSession, folder: Path, pattern: str) -> DataFrame:
    if not folder.is_dir():
        return spark.createDataFrame([], "file string, content binary")
    return (
        spark.read.format("binaryFile")
        .option("pathGlobFilter", pattern)
        .load(str(folder))
        .select(F.element_at(F.split("path", "/"), -1).alias("file"), "content")
    )


def _row(kind: str, image_id: str, **values) -> dict:
    row = dict.fromkeys(_OUTPUT_COLUMNS)
    row.update(kind=kind, image_id=image_id, **values)
    return row


def _stats(values: np.ndarray) -> dict:
    return {
        "depth_mean": float(values.mean()),
        "depth_median": float(np.median(values)),
        "depth_min": float(values.min()),
        "depth_max": float(values.max()),
    }


def _downsample(depth: np.ndarray) -> tuple[int, int, bytes]:
    from PIL import Image

    h, w = depth.shape
    scale = min(1.0, MAP_SIDE / max(h, w))
    mh, mw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(depth).resize((mw, mh), Image.Resampling.BOX), dtype=np.uint8)
    return mh, mw, small.tobytes()


def _per_image(pdf: pd.DataFrame) -> pd.DataFrame:
    """All output rows of one image (its index entry plus its depth and mask file contents)."""
    from pycocotools import mask as mask_utils

    r = pdf.iloc[0]
    image_id = r["image_id"]
    boxes = [list(b) for b in (r["bboxes"] if r["bboxes"] is not None else [])]
    height, width = r["image_height"], r["image_width"]
    out: list[dict] = []

    depth = None
    if r["depth_mask_id"] is not None:
        if r["depth_content"] is None:
            out.append(
                _row(
                    "quarantine_depth",
                    image_id,
                    reason=f"depth file {r['depth_mask_id']} not found",
                    record_key=image_id,
                )
            )
        else:
            try:
                depth = np.load(io.BytesIO(bytes(r["depth_content"])), allow_pickle=False)
                if depth.ndim == 3:
                    depth = depth[..., 0]
                if depth.ndim != 2 or (height and width and depth.shape != (height, width)):
                    raise ValueError(f"depth shape {depth.shape} is not the image size {(height, width)}")
                depth = np.clip(depth, 0, 255).astype(np.uint8)
                mh, mw, data = _downsample(depth)
                out.append(_row("image_depth", image_id, map_height=mh, map_width=mw, depth_map=data))
            except (ValueError, OSError) as exc:
                depth = None
                out.append(
                    _row("quarantine_depth", image_id, reason=f"unreadable depth map: {exc}", record_key=image_id)
                )

    masks = None
    if r["seg_mask_id"] is not None:
        if r["mask_content"] is None:
            out.append(
                _row("quarantine_mask", image_id, reason=f"mask file {r['seg_mask_id']} not found", record_key=image_id)
            )
        else:
            try:
                with np.load(io.BytesIO(bytes(r["mask_content"])), allow_pickle=False) as npz:
                    masks = np.asarray(npz["masks"]).astype(bool)
                if masks.ndim != 3 or masks.shape[0] != len(boxes):
                    raise ValueError(f"{masks.shape[0] if masks.ndim == 3 else '?'} masks for {len(boxes)} boxes")
                if height and width and masks.shape[1:] != (height, width):
                    raise ValueError(f"mask size {masks.shape[1:]} is not the image size {(height, width)}")
            except (ValueError, OSError, KeyError) as exc:
                out.append(_row("quarantine_mask", image_id, reason=f"unusable masks: {exc}", record_key=image_id))
                masks = None
        if masks is not None:
            for i in range(masks.shape[0]):
                m = np.asfortranarray(masks[i].astype(np.uint8))
                rle = mask_utils.encode(m)
                out.append(
                    _row(
                        "mask",
                        image_id,
                        object_id=str(i),
                        height=int(m.shape[0]),
                        width=int(m.shape[1]),
                        rle_counts=rle["counts"].decode("ascii"),
                        area=int(mask_utils.area(rle)),
                    )
                )

    if depth is not None:
        for i, box in enumerate(boxes):
            region, values = "box", None
            if masks is not None and masks[i].shape == depth.shape and masks[i].any():
                region, values = "mask", depth[masks[i]]
            if values is None:
                x1, y1, x2, y2 = (int(round(v)) for v in box)
                x1, y1 = max(0, x1), max(0, y1)
                x2, y2 = min(depth.shape[1], max(x2, x1 + 1)), min(depth.shape[0], max(y2, y1 + 1))
                values = depth[y1:y2, x1:x2].ravel()
            if values.size == 0:
                out.append(
                    _row(
                        "quarantine_object_depth",
                        image_id,
                        object_id=str(i),
                        reason="box lies outside the depth map",
                        record_key=f"{image_id}/{i}",
                    )
                )
                continue
            out.append(_row("object_depth", image_id, object_id=str(i), region=region, **_stats(values)))
    return pd.DataFrame(out, columns=_OUTPUT_COLUMNS)


def map_rows(spark: SparkSession, src: str | Path, dataset: str) -> DataFrame:
    """One row per output record (``kind``: mask, object_depth, image_depth, quarantine_*)."""
    src = Path(src)
    index = _index(spark, str(src), SEGMENTATION_INDEX, dataset) if (src / SEGMENTATION_INDEX).exists() else None
    depth_index = _index(spark, str(src), DEPTH_INDEX, dataset) if (src / DEPTH_INDEX).exists() else None
    if index is None and depth_index is None:
        return spark.createDataFrame([], OUTPUT_SCHEMA)
    if index is None:
        index = depth_index.withColumn("seg_mask_id", F.lit(None).cast("string"))
    elif depth_index is not None:
        index = (
            index.drop("depth_mask_id")
            .join(
                depth_index.select("image_id", "depth_mask_id", "image_width", "image_height").withColumnsRenamed(
                    {"image_width": "w2", "image_height": "h2"}
                ),
                "image_id",
                "full",
            )
            .select(
                "image_id",
                F.coalesce("image_width", "w2").alias("image_width"),
                F.coalesce("image_height", "h2").alias("image_height"),
                "seg_mask_id",
                "depth_mask_id",
                F.coalesce("bboxes", F.array().cast("array<array<double>>")).alias("bboxes"),
            )
        )
    depth_files = _files(spark, src / "depth_masks", "*.npy").withColumnRenamed("content", "depth_content")
    mask_files = _files(spark, src / "seg_masks", "*.npz").withColumnRenamed("content", "mask_content")
    joined = (
        index.join(depth_files, index["depth_mask_id"] == depth_files["file"], "left")
        .drop("file")
        .join(mask_files, index["seg_mask_id"] == mask_files["file"], "left")
        .drop("file")
    )
    return joined.groupBy("image_id").applyInPandas(_per_image, OUTPUT_SCHEMA)


def ingest_depth_and_masks(spark: SparkSession, settings: Settings, src, dataset: str, run) -> None:
    """Read the sample's depth maps and masks inside Spark, MERGE them, quarantine what is unusable."""
    rows = map_rows(spark, src, dataset).persist()
    try:
        lineage = {"source": F.lit(SOURCE), "model_version": F.lit(MODEL_VERSION)}
        masks = (
            rows.filter("kind = 'mask'")
            .select(
                "image_id",
                "object_id",
                "height",
                "width",
                "rle_counts",
                "area",
                F.lit(None).cast("double").alias("score"),
                F.lit(MASK_MODEL).alias("model_name"),
            )
            .withColumns(lineage)
        )
        object_depth = (
            rows.filter("kind = 'object_depth'")
            .select(
                "image_id",
                "object_id",
                "depth_mean",
                "depth_median",
                "depth_min",
                "depth_max",
                "region",
                F.lit(DEPTH_MODEL).alias("model_name"),
            )
            .withColumns(lineage)
        )
        image_depth = (
            rows.filter("kind = 'image_depth'")
            .select(
                "image_id",
                "map_height",
                "map_width",
                "depth_map",
                F.lit(DEPTH_MODEL).alias("model_name"),
            )
            .withColumns(lineage)
        )
        bad = rows.filter(F.col("kind").startswith("quarantine_"))
        quarantined = to_quarantine(
            bad.select("record_key", "kind", "reason", F.col("image_id")),
            dataset=dataset,
            entity="depth_or_mask",
            stage="decode",
            key_cols=["record_key"],
            payload=F.to_json(F.struct("image_id", "kind")),
        )
        for name, df in (
            ("masks", masks),
            ("object_depth", object_depth),
            ("image_depth", image_depth),
            ("quarantine", quarantined),
        ):
            tables.merge_into(spark, settings, name, df, run_id=run.run_id)

        counts = {k: n for k, n in rows.groupBy("kind").count().collect()}
        n_masks, n_bad_masks = counts.get("mask", 0), counts.get("quarantine_mask", 0)
        n_depth, n_bad_depth = counts.get("image_depth", 0), counts.get("quarantine_depth", 0)
        n_obj, n_bad_obj = counts.get("object_depth", 0), counts.get("quarantine_object_depth", 0)
        run.log_counts("mask", n_masks + n_bad_masks, n_masks, n_bad_masks)
        run.log_counts("image_depth", n_depth + n_bad_depth, n_depth, n_bad_depth)
        run.log_counts("object_depth", n_obj + n_bad_obj, n_obj, n_bad_obj)
    finally:
        rows.unpersist()


def describe(src: str | Path) -> str:
    """A one-line summary of what a sample folder holds (for logs)."""
    src = Path(src)
    n_depth = len(list((src / "depth_masks").glob("*.npy")))
    n_masks = len(list((src / "seg_masks").glob("*.npz")))
    return json.dumps({"depth_maps": n_depth, "mask_files": n_masks})
