"""``provision export`` and ``mix``: what trainers read (docs/exports.md)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli.common import app, console, names, session
from provision_spark.exports.formats import LLAVA_SHORT_ANSWER, Format, Placement

SPLITS_HELP = "Comma-separated splits (VG-S, DC-S, VG-M, DC-M); default all the format holds."


class OnMissing(str, enum.Enum):
    report = "report"
    drop = "drop"
    fail = "fail"


class Mode(str, enum.Enum):
    augment = "augment"
    replace = "replace"


def refuse(message: str) -> None:
    """Bad options: one line on stderr, exit 2 (before Spark starts where it can)."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def _selection(split, generators, as_of, path_map, image_path, check_images, on_missing):
    """Options -> ``Selection``, checked (splits, generator names, path map) before any Spark session."""
    from provision_spark.exports import paths, stage

    try:
        selection = stage.Selection(
            splits=names(split),
            generators=names(generators),
            as_of=as_of,
            path_map=paths.path_map(path_map, paths.parse_overrides(image_path)),
            check_images=check_images,
            on_missing=on_missing.value,
        )
        stage.validate(selection, single_only=False, what="")
    except (ValueError, OSError) as error:
        refuse(str(error))
    return selection


MC_RATIO = typer.Option("--mc-ratio", min=0.0, max=1.0, help="Share shown as multiple choice: 0 none, 1 all.")
PLACEMENT = typer.Option("--image-placement", help="<image> before or after the prompt, or random per row.")
SUFFIX = typer.Option(help="Appended to short-answer questions (LLaVA-1.5's); '' for none.")
AS_OF = typer.Option("--as-of", help="Export the instructions table as of this Delta version.")
PATH_MAP = typer.Option("--path-map", help="YAML/JSON file {dataset: path template} (docs/exports.md).")
IMAGE_PATH = typer.Option("--image-path", help="DATASET=TEMPLATE, e.g. vrd=vrd/{id}.jpg; repeatable.")
CHECK = typer.Option("--check-images", help="Image root: report rows whose image file is missing under it.")
ON_MISSING = typer.Option("--on-missing", help="With --check-images: report, drop the rows, or fail.")


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[str, typer.Option(help="Output file (a folder for hf-parquet); a path, /Volumes/... or URI.")],
    fmt: Annotated[Format, typer.Option("--format", help="Trainer format.")] = Format.llava,
    split: Annotated[Optional[str], typer.Option(help=SPLITS_HELP)] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    mc_ratio: Annotated[float, MC_RATIO] = 0.5,
    image_placement: Annotated[Placement, PLACEMENT] = Placement.before,
    short_answer_suffix: Annotated[str, SUFFIX] = LLAVA_SHORT_ANSWER,
    seed: Annotated[int, typer.Option(help="Seed of the multiple-choice pick and random placement.")] = 0,
    as_of: Annotated[Optional[int], AS_OF] = None,
    path_map: Annotated[Optional[Path], PATH_MAP] = None,
    image_path: Annotated[Optional[list[str]], IMAGE_PATH] = None,
    check_images: Annotated[Optional[str], CHECK] = None,
    on_missing: Annotated[OnMissing, ON_MISSING] = OnMissing.report,
    embed_images: Annotated[
        bool, typer.Option(help="hf-parquet: embed the image bytes (read under --check-images).")
    ] = False,
) -> None:
    """Export instructions (single- and multi-image) in a format a trainer loads as it is."""
    from provision_spark.exports import stage

    selection = _selection(split, generators, as_of, path_map, image_path, check_images, on_missing)
    wording = stage.Wording(mc_ratio, image_placement, short_answer_suffix or None, seed)
    try:
        stage.validate(selection, fmt in stage.SINGLE_IMAGE_ONLY, fmt.value)
    except stage.ExportError as error:
        refuse(str(error))
    spark, settings = session(ctx)
    try:
        manifest = stage.run_export(spark, settings, out, fmt, selection, wording, embed_images)
    except stage.ExportError as error:
        refuse(str(error))
    _report_missing(manifest)
    console.print(
        f"wrote {manifest['rows']} {fmt.value} records to {out} (instructions v{manifest['tables']['instructions']})"
    )


def _report_missing(manifest: dict) -> None:
    missing = manifest.get("missing_images")
    if missing and missing["rows"]:
        console.print(f"[yellow]{missing['rows']} rows name missing images, e.g. {missing['examples'][0]}[/yellow]")


@app.command("mix")
def mix_command(
    ctx: typer.Context,
    base: Annotated[str, typer.Option(help="Base dataset: LLaVA/interleave/Mantis/ShareGPT, .json array or .jsonl.")],
    mode: Annotated[Mode, typer.Option(help="augment (add ratio*|base| of ours) or replace (swap that many).")],
    ratio: Annotated[float, typer.Option(min=0.0, help="r: how many of ours, as a share of the base's size.")],
    out: Annotated[str, typer.Option(help="Output folder: mix.json[l] and manifest.json.")],
    split: Annotated[Optional[str], typer.Option("--split", "--splits", help=SPLITS_HELP)] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    mc_ratio: Annotated[float, MC_RATIO] = 0.5,
    image_placement: Annotated[Placement, PLACEMENT] = Placement.before,
    short_answer_suffix: Annotated[str, SUFFIX] = LLAVA_SHORT_ANSWER,
    seed: Annotated[int, typer.Option(help="Seed of every choice in the mix.")] = 0,
    as_of: Annotated[Optional[int], AS_OF] = None,
    path_map: Annotated[Optional[Path], PATH_MAP] = None,
    image_path: Annotated[Optional[list[str]], IMAGE_PATH] = None,
    check_images: Annotated[Optional[str], CHECK] = None,
    on_missing: Annotated[OnMissing, ON_MISSING] = OnMissing.report,
) -> None:
    """Mix our instructions into a base dataset (augment or replace), written in the base's own format."""
    from provision_spark.exports import mixing, stage

    selection = _selection(split, generators, as_of, path_map, image_path, check_images, on_missing)
    wording = stage.Wording(mc_ratio, image_placement, short_answer_suffix or None, seed)
    spark, settings = session(ctx)
    try:
        manifest = stage.run_mix(
            spark, settings, base, out, mode=mode.value, ratio=ratio, selection=selection, wording=wording
        )
    except (mixing.BaseNotParsed, stage.ExportError) as error:
        refuse(str(error))
    _report_missing(manifest)
    console.print(
        f"wrote {manifest['output']['rows']} {manifest['base']['format']} records to {manifest['output']['path']} "
        f"({manifest['ours']['added']} ours, {manifest['base_kept']} base); manifest in {out}/manifest.json"
    )
