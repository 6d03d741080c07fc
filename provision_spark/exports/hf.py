"""``hf-parquet``: a folder Hugging Face ``datasets`` loads as it is.

Layout: ``single/<split>/part-*.parquet`` (column ``image``) and ``multi/<split>/part-*.parquet``
(column ``images``), the two configs of ``README.md``, a dataset card whose YAML front matter
names the configs, splits, features and counts. Split names are the ``split`` values in lower case
with ``_`` (``VG-S`` -> ``vg_s``: Hugging Face split names are words). With ``embed`` each image is
``{bytes, path}``, the storage of ``datasets.Image``, so the folder needs no image root; otherwise
the path relative to the image root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fsspec
import yaml
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from provision_spark.exports.paths import read_bytes_from
from provision_spark.exports.writer import write_text

LICENCES = {
    "visual_genome": "Visual Genome: CC BY 4.0 (https://homes.cs.washington.edu/~ranjay/visualgenome/)",
    "gqa": "GQA: CC BY 4.0 (https://cs.stanford.edu/people/dorarad/gqa/)",
    "provision_sample": "ProVision sample: see its LICENSE.txt (https://github.com/JieyuZ2/ProVision)",
}
OTHER_LICENCE = "images ingested from a folder: the licence of their owner"
TEXT_COLUMNS = ("id", "prompt", "reply", "form", "question", "answer", "mc_question", "generator", "family", "split")


def hf_split(split: str) -> str:
    return split.lower().replace("-", "_")


def hf_frame(rows: DataFrame, root: str | None) -> DataFrame:
    """Conversation rows -> the Parquet columns; ``root`` given: images embedded, read from it."""
    base = rows.select(
        F.col("instruction_id").alias("id"),
        "kind",
        "split",
        "generator",
        "family",
        "prompt",
        "reply",
        F.when(F.col("multiple_choice"), "multiple_choice").otherwise("short_answer").alias("form"),
        "question",
        "answer",
        "mc_question",
        "choices",
        "correct_index",
        "image_paths",
    )
    if root is None:
        return base.withColumn("images", F.col("image_paths")).drop("image_paths")
    paths = base.select(F.explode("image_paths").alias("path")).distinct()
    loaded = paths.withColumn("bytes", read_bytes_from(root))
    exploded = base.select("id", F.posexplode("image_paths").alias("pos", "path")).join(loaded, "path")
    images = exploded.groupBy("id").agg(F.array_sort(F.collect_list(F.struct("pos", "bytes", "path"))).alias("i"))
    images = images.select(
        "id", F.transform("i", lambda s: F.struct(s["bytes"].alias("bytes"), s["path"].alias("path"))).alias("images")
    )
    return base.drop("image_paths").join(images, "id")


def _features(kind: str, embed: bool) -> list[dict[str, Any]]:
    image = {"dtype": "image"} if embed else {"dtype": "string"}
    string = {"dtype": "string"}
    features = [{"name": c, **string} for c in TEXT_COLUMNS]
    features += [{"name": "choices", "list": "string"}, {"name": "correct_index", "dtype": "int32"}]
    if kind == "single":
        features.append({"name": "image", **image})
    else:
        features.append({"name": "images", "list": image["dtype"]})
    return features


def write_hf(frame: DataFrame, out: str, split_counts: Mapping[tuple[str, str], int], embed: bool) -> dict[str, Any]:
    """Write the Parquet shards of every (kind, split) in ``split_counts``; returns the card's ``configs``
    and ``dataset_info`` parts."""
    configs, infos = [], []
    out = str(out).rstrip("/")
    for kind in ("single", "multi"):
        splits = sorted(s for k, s in split_counts if k == kind)
        if not splits:
            continue
        data = frame.filter(F.col("kind") == kind).drop("kind")
        data = data.withColumn("image", F.col("images")[0]).drop("images") if kind == "single" else data
        files = []
        for split in splits:
            name = hf_split(split)
            (data.filter(F.col("split") == split).orderBy("id").write.mode("overwrite").parquet(f"{out}/{kind}/{name}"))
            _drop_markers(f"{out}/{kind}/{name}")
            files.append({"split": name, "path": f"{kind}/{name}/*.parquet"})
        configs.append({"config_name": kind, "data_files": files, **({"default": True} if kind == "single" else {})})
        infos.append(
            {
                "config_name": kind,
                "features": _features(kind, embed),
                "splits": [{"name": hf_split(s), "num_examples": split_counts[(kind, s)]} for s in splits],
            }
        )
    return {"configs": configs, "dataset_info": infos}


def _drop_markers(folder: str) -> None:
    """Spark's ``_SUCCESS`` and ``.crc`` files are not data: ``datasets`` would try to read them."""
    fs, path = fsspec.core.url_to_fs(folder)
    for name in fs.ls(path, detail=False):
        if not name.endswith(".parquet"):
            fs.rm(name)


def write_card(out: str, front: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
    """README.md: YAML front matter (configs, features, splits) and what went in, for people."""
    datasets = manifest["image_datasets"]
    licences = sorted({LICENCES.get(d, OTHER_LICENCE) for d in datasets})
    header = {"license": "other", "task_categories": ["visual-question-answering"], **front}
    answers = manifest["answers"]
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).rstrip(),
        "---",
        "# ProVision instructions",
        "",
        "Verified visual instruction data generated from scene graphs (ProVision, arXiv 2412.07012):",
        "every answer is true by construction and re-checked from the scene graph.",
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("parquet", data_dir="single")  # or load_dataset(<this folder>, "multi")',
        "```",
        "",
        f"- seed: {manifest['seed']}, multiple-choice share: {manifest['mc_ratio']}",
        f"- source tables: {', '.join(f'{t} version {v}' for t, v in manifest['tables'].items())}",
        f"- images: {'embedded' if manifest['embed_images'] else 'paths relative to the image root'}; "
        f"path map: {manifest['path_map']}",
        "",
        "## Rows per generator and split",
        "",
        "| generator | split | rows |",
        "|---|---|---:|",
        *[f"| {g} | {s} | {n} |" for (g, s), n in sorted(_pairs(manifest["by_generator_split"]).items())],
        "",
        "## Answers (short-answer form)",
        "",
        f"{answers['distinct']} distinct answers; the most common {len(answers['top'])}:",
        "",
        "| answer | rows |",
        "|---|---:|",
        *[f"| {a} | {n} |" for a, n in answers["top"]],
        "",
        "## Licences of the sources",
        "",
        *[f"- {licence}" for licence in licences],
        "",
    ]
    write_text(f"{str(out).rstrip('/')}/README.md", "\n".join(lines))


def _pairs(nested: Mapping[str, Mapping[str, int]]) -> dict[tuple[str, str], int]:
    return {(g, s): n for g, by_split in nested.items() for s, n in by_split.items()}
