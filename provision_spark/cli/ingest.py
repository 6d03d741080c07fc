"""``provision ingest-vg``, ``ingest-gqa``, ``ingest-provision`` and ``build-scene-graphs``: scene graphs from annotation files."""

from __future__ import annotations

from typing import Annotated

import typer

from provision_spark.cli.common import app, existing_source, print_summary, session


@app.command("ingest-vg")
def ingest_vg(
    ctx: typer.Context,
    src: Annotated[
        str,
        typer.Option(
            metavar="DIR",
            callback=existing_source,
            help="Folder (or glob of shards) with Visual Genome's image_data/objects/attributes/relationships.json.",
        ),
    ],
    dataset: Annotated[
        str, typer.Option(metavar="NAME", help="Dataset name; image ids become '<dataset>/<id>'.")
    ] = "visual_genome",
) -> None:
    """Ingest Visual Genome's raw JSON (any subset of its four files)."""
    from provision_spark import stages

    spark, settings = session(ctx, creates_lakehouse=True)
    print_summary(f"ingest {dataset}", stages.ingest(spark, settings, "visual_genome", src, dataset))


@app.command("ingest-gqa")
def ingest_gqa(
    ctx: typer.Context,
    src: Annotated[str, typer.Option(metavar="FILE", callback=existing_source, help="A GQA sceneGraphs.json file.")],
    dataset: Annotated[str, typer.Option(metavar="NAME", help="Dataset name.")] = "gqa",
) -> None:
    """Ingest GQA scene graphs."""
    from provision_spark import stages

    spark, settings = session(ctx, creates_lakehouse=True)
    print_summary(f"ingest {dataset}", stages.ingest(spark, settings, "gqa", src, dataset))


@app.command("ingest-provision")
def ingest_provision(
    ctx: typer.Context,
    src: Annotated[
        str,
        typer.Option(
            metavar="DIR",
            callback=existing_source,
            help="Folder in the ProVision reference layout (per-annotator JSON, depth_masks/, seg_masks/).",
        ),
    ],
    dataset: Annotated[str, typer.Option(metavar="NAME", help="Dataset name.")] = "provision_sample",
) -> None:
    """Ingest the ProVision reference pipeline's per-annotator JSON, depth maps and masks."""
    from provision_spark import stages

    spark, settings = session(ctx, creates_lakehouse=True)
    print_summary(f"ingest {dataset}", stages.ingest(spark, settings, "provision", src, dataset))


@app.command("build-scene-graphs")
def build_scene_graphs(ctx: typer.Context) -> None:
    """Join the flat tables into one scene graph per image."""
    from provision_spark import stages

    spark, settings = session(ctx)
    print_summary("scene graphs", stages.build_scene_graphs(spark, settings))
