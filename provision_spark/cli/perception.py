"""``provision ingest-images`` and ``perceive``: scene graphs for images that have none."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli.common import app, print_summary, session
from provision_spark.lakehouse.config import Settings
from provision_spark.perception.config import PerceptionConfig
from provision_spark.perception.ingest import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from provision_spark.perception.stages import STAGES

CONFIG_ENV = "PROVISION_PERCEPTION_CONFIG"


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
    src: Annotated[str, typer.Option(help="Folder of images: a local path, /Volumes/..., or a cloud URL.")],
    dataset: Annotated[Optional[str], typer.Option(help="Dataset name (default: the folder's name).")] = None,
    max_pixels: Annotated[
        int, typer.Option(help="Larger images are quarantined as decompression bombs.")
    ] = DEFAULT_MAX_PIXELS,
    max_bytes: Annotated[int, typer.Option(help="Larger files are quarantined unread.")] = DEFAULT_MAX_BYTES,
) -> None:
    """Register a folder's images (size, format, hash); unusable files go to quarantine."""
    from provision_spark import stages

    spark, settings = session(ctx)
    summary = stages.ingest_images(spark, settings, src, dataset, max_pixels=max_pixels, max_bytes=max_bytes)
    print_summary(f"ingest-images {src}", summary)


@app.command("perceive")
def perceive_command(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option(help="Perception YAML: each stage's weights and settings.")] = None,
    tiny: Annotated[
        bool, typer.Option(help="Use tiny random models built from the libraries' configs (demo/tests).")
    ] = False,
    stage: Annotated[
        Optional[list[str]], typer.Option(help=f"Stage(s) to run: {', '.join(STAGES)} (default: all configured).")
    ] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Only this dataset's images.")] = None,
    write_mode: Annotated[Optional[str], typer.Option(help="'append' (new versions beside old) or 'replace'.")] = None,
    weights: Annotated[
        Optional[list[str]],
        typer.Option(
            help="STAGE=URI: that stage's weights (a path, /Volumes/..., or models:/name/version), over the config's."
        ),
    ] = None,
) -> None:
    """Run the perception stages on images that the configured model versions have not processed."""
    from provision_spark import stages

    spark, settings = session(ctx)
    perception = with_weights(load_config(config, tiny, settings), weights or [])
    if write_mode is not None:
        perception = dataclasses.replace(perception, write_mode=write_mode)
    for name, summary in stages.perceive(spark, settings, perception, stage or None, dataset).items():
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
