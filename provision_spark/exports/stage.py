"""The export and mix stages (session + settings + options in, summary out), each its own MLflow run.

The run is opened here, not by the CLI, so a notebook call records the same lineage: the Delta
versions of ``instructions`` and ``images`` read (``mlflow.log_input`` with the table as the
dataset source), the options, the counts and the manifest written beside the export.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.exports import formats, hf, mixing, paths, writer
from provision_spark.exports.formats import JSON_ARRAY, SINGLE_IMAGE_ONLY, Format, Placement
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.tables import table_name
from provision_spark.lakehouse.tracking import job_run

SPLITS = ("VG-S", "DC-S", "VG-M", "DC-M")
SINGLE_SPLITS = ("VG-S", "DC-S")
ON_MISSING = ("report", "drop", "fail")


class ExportError(ValueError):
    """An export refused: bad options or, with ``on_missing='fail'``, missing images (one line)."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which instructions go out and how their images are named."""

    splits: Sequence[str] | None = None
    generators: Sequence[str] | None = None
    as_of: int | None = None
    path_map: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(paths.DEFAULT_TEMPLATES))
    check_images: str | None = None
    on_missing: str = "report"


@dataclasses.dataclass(frozen=True)
class Wording:
    """How each instruction is shown."""

    mc_ratio: float = 0.5
    image_placement: Placement = Placement.before
    short_answer_suffix: str | None = formats.LLAVA_SHORT_ANSWER
    seed: int = 0


def validate(selection: Selection, single_only: bool, what: str) -> tuple[str, ...]:
    """The splits to read; unknown names refused in one line."""
    unknown = sorted(set(selection.splits or ()) - set(SPLITS))
    if unknown:
        raise ExportError(f"unknown split(s) {', '.join(unknown)}; known: {', '.join(SPLITS)}")
    if selection.generators:
        from provision_spark.generators.registry import registered

        try:
            registered(names=selection.generators)
        except KeyError as error:
            raise ExportError(str(error.args[0]).split(";")[0]) from None
    if selection.on_missing not in ON_MISSING:
        raise ExportError(f"on_missing must be one of {ON_MISSING}")
    if not single_only:
        return tuple(selection.splits or SPLITS)
    multi = sorted(set(selection.splits or ()) - set(SINGLE_SPLITS))
    if multi:
        raise ExportError(f"{what} holds one image per record; {', '.join(multi)} need llava-interleave or mantis")
    return tuple(selection.splits or SINGLE_SPLITS)


def table_version(spark: SparkSession, settings: Settings, name: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY {table_name(settings, name)} LIMIT 1").collect()[0]["version"]


def read_version(spark: SparkSession, settings: Settings, name: str, version: int) -> DataFrame:
    return spark.sql(f"SELECT * FROM {table_name(settings, name)} VERSION AS OF {int(version)}")


def select_rows(
    spark: SparkSession, settings: Settings, selection: Selection, splits: Sequence[str]
) -> tuple[DataFrame, dict[str, Any]]:
    """(instructions with ``image_paths``, lineage): read at fixed table versions, logged as run inputs."""
    versions = {
        "instructions": selection.as_of
        if selection.as_of is not None
        else table_version(spark, settings, "instructions"),
        "images": table_version(spark, settings, "images"),
    }
    instructions = read_version(spark, settings, "instructions", versions["instructions"])
    for name, version in versions.items():
        source = instructions if name == "instructions" else read_version(spark, settings, "images", version)
        dataset = mlflow.data.from_spark(source, table_name=table_name(settings, name), version=str(version))
        mlflow.log_input(dataset, context="export")
    rows = instructions.filter(F.col("split").isin(list(splits)))
    if selection.generators:
        rows = rows.filter(F.col("generator").isin(list(selection.generators)))
    images = read_version(spark, settings, "images", versions["images"])
    image_paths = paths.image_paths(images, selection.path_map)
    rows = paths.with_image_paths(rows, image_paths, selection.path_map).persist()
    lineage: dict[str, Any] = {"tables": versions, "path_map": dict(selection.path_map)}
    lineage["image_datasets"] = sorted(
        r[0]
        for r in images.join(rows.select(F.explode("image_ids").alias("image_id")).distinct(), "image_id")
        .select("dataset")
        .distinct()
        .collect()
    )
    if selection.check_images:
        present, missing = paths.missing_report(rows, selection.check_images)
        n_missing = missing.count()
        examples = [
            f"{r['instruction_id']}: {', '.join(r['missing'])}"
            for r in missing.orderBy("instruction_id").limit(5).collect()
        ]
        lineage["missing_images"] = {"image_root": selection.check_images, "rows": n_missing, "examples": examples}
        if n_missing and selection.on_missing == "fail":
            raise ExportError(
                f"{n_missing} rows name images missing under {selection.check_images}, e.g. {examples[0]}"
            )
        if selection.on_missing == "drop":
            rows = present
    return rows, lineage


def _counts(rows: DataFrame) -> dict[str, Any]:
    """Rows per (kind, split), per generator and split, per form, and the short answers' distribution."""
    by = rows.groupBy("kind", "split", "generator", "multiple_choice").count().collect()
    out: dict[str, Any] = {"rows": sum(r["count"] for r in by), "by_kind_split": {}, "by_generator_split": {}}
    forms = {"short_answer": 0, "multiple_choice": 0}
    for r in by:
        key = f"{r['kind']}/{r['split']}"
        out["by_kind_split"][key] = out["by_kind_split"].get(key, 0) + r["count"]
        per = out["by_generator_split"].setdefault(r["generator"], {})
        per[r["split"]] = per.get(r["split"], 0) + r["count"]
        forms["multiple_choice" if r["multiple_choice"] else "short_answer"] += r["count"]
    out["by_form"] = forms
    answers = rows.groupBy("answer").count()
    top = answers.orderBy(F.desc("count"), "answer").limit(10).collect()
    out["answers"] = {"distinct": answers.count(), "top": [[r["answer"], r["count"]] for r in top]}
    return out


def run_export(
    spark: SparkSession,
    settings: Settings,
    out: str | Path,
    fmt: Format | str = Format.llava,
    selection: Selection | None = None,
    wording: Wording | None = None,
    embed_images: bool = False,
) -> dict[str, Any]:
    """Write ``out`` in ``fmt`` (a file; a folder for hf-parquet) and its manifest; returns the manifest."""
    fmt, out = Format(fmt), str(out)
    selection, wording = selection or Selection(), wording or Wording()
    splits = validate(selection, fmt in SINGLE_IMAGE_ONLY, fmt.value)
    if embed_images and not (fmt is Format.hf_parquet and selection.check_images):
        raise ExportError("--embed-images needs --format hf-parquet and --check-images DIR (the image root)")
    params = {"format": fmt.value, "out": out, "splits": ",".join(splits), **_flat(selection, wording)}
    with job_run(settings, "export", params) as run:
        rows, lineage = select_rows(spark, settings, selection, splits)
        shown = formats.conversation(rows, **dataclasses.asdict(wording)).persist()
        try:
            manifest = _manifest(fmt, out, selection, wording, lineage, _counts(shown))
            manifest["embed_images"] = embed_images
            if fmt is Format.hf_parquet:
                frame = hf.hf_frame(shown, selection.check_images if embed_images else None)
                split_counts = {tuple(k.split("/")): n for k, n in manifest["by_kind_split"].items()}
                hf.write_card(out, hf.write_hf(frame, out, split_counts, embed_images), manifest)
                manifest_path = f"{out.rstrip('/')}/manifest.json"
            else:
                records = shown.select("instruction_id", formats.record(fmt).alias("json"))
                writer.write_json(records, out, F.col("instruction_id"), as_array=fmt in JSON_ARRAY)
                manifest_path = f"{out}.manifest.json"
        finally:
            shown.unpersist()
            rows.unpersist()
        writer.write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        mlflow.log_dict(manifest, "manifest.json", run_id=run.run_id)
        run.log_metrics({"export.rows": manifest["rows"]})
        manifest["run_id"] = run.run_id
        return manifest


def run_mix(
    spark: SparkSession,
    settings: Settings,
    base_path: str | Path,
    out_dir: str | Path,
    *,
    mode: str,
    ratio: float,
    selection: Selection | None = None,
    wording: Wording | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/mix.<json|jsonl>`` in the base's own format and ``out_dir/manifest.json``."""
    base_path, out_dir = str(base_path), str(out_dir).rstrip("/")
    selection, wording = selection or Selection(), wording or Wording()
    base, fmt = mixing.read_base(spark, base_path)
    splits = validate(selection, fmt in SINGLE_IMAGE_ONLY, f"the base ({fmt.value})")
    suffix = ".json" if base_path.endswith(".json") else ".jsonl"
    params = {"base": base_path, "base_format": fmt.value, "mode": mode, "ratio": ratio, "out": out_dir}
    with job_run(settings, "mix", {**params, "splits": ",".join(splits), **_flat(selection, wording)}) as run:
        rows, lineage = select_rows(spark, settings, selection, splits)
        shown = formats.conversation(rows, **dataclasses.asdict(wording))
        ours = shown.select(
            "instruction_id", "split", "generator", "multiple_choice", formats.record(fmt).alias("json")
        )
        base = base.persist()
        try:
            chosen, kept, counts = mixing.plan_mix(base, ours, mode=mode, ratio=ratio, seed=wording.seed)
            chosen = chosen.persist()
            picked = _counts(chosen.join(rows.select("instruction_id", "kind", "answer"), "instruction_id"))
            order_key = F.xxhash64(F.lit(wording.seed), F.lit("order"), "json", "_occurrence")
            merged = kept.unionByName(chosen.select("json", F.lit(0).alias("_occurrence")))
            out = f"{out_dir}/mix{suffix}"
            writer.write_json(merged, out, order_key, as_array=suffix == ".json")
            chosen.unpersist()
        finally:
            base.unpersist()
            rows.unpersist()
        manifest = {
            **_manifest(fmt, out, selection, wording, lineage, {}),
            "output": {"path": out, "rows": counts["base_kept"] + counts["ours"]},
            "base": {"path": base_path, "format": fmt.value, "rows": counts["base"], "sha256": _sha256(base_path)},
            "mode": mode,
            "ratio": ratio,
            "ours": {
                "requested": counts["wanted"],
                "added": counts["ours"],
                "shortfall": counts["shortfall"],
                "by_split": {k.split("/")[1]: n for k, n in picked["by_kind_split"].items()},
                "by_generator": {g: sum(s.values()) for g, s in picked["by_generator_split"].items()},
                "by_form": picked["by_form"],
            },
            "base_kept": counts["base_kept"],
            "base_replaced": counts["base_replaced"],
        }
        writer.write_text(f"{out_dir}/manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        mlflow.log_dict(manifest, "manifest.json", run_id=run.run_id)
        run.log_metrics({"mix.rows": manifest["output"]["rows"], "mix.ours": counts["ours"]})
        return manifest


def _flat(selection: Selection, wording: Wording) -> dict[str, object]:
    return {
        "generators": ",".join(selection.generators or ()) or "all",
        "as_of": selection.as_of,
        "path_map": json.dumps(dict(selection.path_map), sort_keys=True),
        "check_images": selection.check_images,
        "on_missing": selection.on_missing,
        "mc_ratio": wording.mc_ratio,
        "image_placement": Placement(wording.image_placement).value,
        "short_answer_suffix": wording.short_answer_suffix or "",
        "seed": wording.seed,
    }


def _manifest(fmt, out, selection, wording, lineage, counts) -> dict[str, Any]:
    return {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "format": fmt.value,
        "output": out,
        "splits": list(selection.splits or []),
        "generators": list(selection.generators or []),
        "mc_ratio": wording.mc_ratio,
        "image_placement": Placement(wording.image_placement).value,
        "short_answer_suffix": wording.short_answer_suffix,
        "seed": wording.seed,
        **lineage,
        **counts,
    }


def _sha256(path: str) -> str:
    import fsspec

    digest = hashlib.sha256()
    with fsspec.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
