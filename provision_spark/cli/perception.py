"""``provision ingest-images`` and ``perceive``: scene graphs for images that have none."""

from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli.common import app, existing_source, print_summary, session
from provision_spark.lakehouse.config import Settings
from provision_spark.perception.config import PerceptionConfig
from provision_spark.perception.stages import STAGES

CONFIG_ENV = "PROVISION_PERCEPTION_CONFIG"
Stage = enum.Enum("Stage", {name: name for name in STAGES}, type=str)


class WriteMode(str, enum.Enum):
    append = "append"
    replace = "replace"


def load_config(config: Path | None, tiny: bool, settings: Settings) -> PerceptionConfig:
    """``--config`` (or $PROVISION_PERCEPTION_CONFIG), else with ``--tiny`` the tiny random models."""
    path = config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is not None:
        return PerceptionConfig.from_yaml(path)
    if tiny:
        from provision_spark import stages

        return stages.tiny_perception(settings)
    raise typer.BadParameter(f"give --config FILE (or set {CONFIG_ENV}), or --tiny for the tiny random models")


@app.command("ingest-images")
def ingest_images_command(
    ctx: typer.Context,
    src: Annotated[
        str,
        typer.Option(
            metavar="DIR",
            callback=existing_source,
            help="Folder of images: a local path, /Volumes/..., or a cloud URL.",
        ),
    ],
    dataset: Annotated[
        Optional[str], typer.Option(metavar="NAME", help="Dataset name (default: the folder's name).")
    ] = None,
    max_pixels: Annotated[
        Optional[int],
        typer.Option(
            min=1, metavar="PIXELS", help="Larger images are quarantined as decompression bombs (default 64M)."
        ),
    ] = None,
    max_bytes: Annotated[
        Optional[int],
        typer.Option(min=1, metavar="BYTES", help="Larger files are quarantined unread (default 512 MiB)."),
    ] = None,
) -> None:
    """Register a folder's images (size, format, hash); unusable files go to quarantine."""
    from provision_spark import stages

    spark, settings = session(ctx, creates_lakehouse=True)
    limits = {k: v for k, v in {"max_pixels": max_pixels, "max_bytes": max_bytes}.items() if v is not None}
    print_summary(f"ingest-images {src}", stages.ingest_images(spark, settings, src, dataset, **limits))


@app.command("perceive")
def perceive_command(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path],
        typer.Option(metavar="FILE", help="Perception YAML: each stage's weights and settings."),
    ] = None,
    tiny: Annotated[
        bool, typer.Option(help="Use tiny random models built from the libraries' configs (demo/tests).")
    ] = False,
    stage: Annotated[
        Optional[list[Stage]],
        typer.Option(metavar="STAGE", help=f"Stage to run, repeatable: {', '.join(STAGES)} (default: all configured)."),
    ] = None,
    dataset: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only this dataset's images.")] = None,
    write_mode: Annotated[
        Optional[WriteMode], typer.Option(help="append: new model versions beside old rows; replace: instead of them.")
    ] = None,
    weights: Annotated[
        Optional[list[str]],
        typer.Option(
            metavar="STAGE=URI",
            help="That stage's weights (a path, /Volumes/..., or models:/name/version), over the config's.",
        ),
    ] = None,
) -> None:
    """Run the perception stages on images that the configured model versions have not processed."""
    from provision_spark import stages as steps

    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    settings.require_lakehouse()  # before the tiny models are built into it
    perception = with_weights(load_config(config, tiny, settings), weights or [])
    spark, settings = session(ctx)
    if write_mode is not None:
        perception = dataclasses.replace(perception, write_mode=write_mode.value)
    chosen = [s.value for s in stage] if stage else None
    for name, summary in steps.perceive(spark, settings, perception, chosen, dataset).items():
        print_summary(f"perceive {name}", summary)


def with_weights(perception: PerceptionConfig, overrides: list[str]) -> PerceptionConfig:
    """The config with each ``STAGE=URI`` override's weights: how a workflow pins a model per run."""
    for override in overrides:
        stage, sep, uri = override.partition("=")
        if not sep or stage not in STAGES or not uri:
            raise typer.BadParameter(
                f"expected STAGE=URI with STAGE one of {', '.join(STAGES)}, not {override!r}", param_hint="--weights"
            )
        try:
            updated = dataclasses.replace(perception.stage(stage), weights=uri)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--weights") from error
        perception = dataclasses.replace(perception, **{stage: updated})
    return perception
