"""``provision demo``: the whole pipeline end to end on the fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provision_spark import stages
from provision_spark.cli.common import app, console, print_summary, session
from provision_spark.lakehouse.config import Settings


@app.command("demo")
def demo(
    ctx: typer.Context,
    fixtures: Annotated[Path, typer.Option(help="The fixtures folder (shared/fixtures).")] = Path("../shared/fixtures"),
    perception: Annotated[
        bool, typer.Option(help="Also run the perception stages (tiny random models) on images.")
    ] = True,
    multi: Annotated[bool, typer.Option(help="Also generate multi-image items.")] = True,
) -> None:
    """Run the whole pipeline end to end on the fixtures into the local lakehouse."""
    from provision_spark.exports.llava import export_llava
    from provision_spark.generators.single.engine import run_generate_single
    from provision_spark.lakehouse.views import create_views as run_create_views

    spark, settings = session(ctx)
    print_summary("visual genome", stages.ingest(spark, settings, "visual_genome", str(fixtures / "vg_raw_subset")))
    print_summary("gqa", stages.ingest(spark, settings, "gqa", str(fixtures / "gqa_sample14" / "sceneGraphs.json")))
    print_summary("provision sample", stages.ingest(spark, settings, "provision", str(fixtures / "provision_baseball")))
    if perception:
        _demo_perception(spark, settings, fixtures / "provision_baseball" / "images")
    print_summary("scene graphs", stages.build_scene_graphs(spark, settings))
    summary = run_generate_single(spark, settings)
    print_summary("generate-single", {k: v for k, v in summary.items() if k.endswith((".written", ".quarantined"))})
    if multi:
        _demo_multi(spark, settings)
    exports = settings.exports_dir
    console.print(f"llava export: {export_llava(spark, settings, exports / 'single.jsonl')} lines")
    run_create_views(spark, settings)
    print_summary("tables", stages.table_counts(spark, settings))
    console.print(
        f'[bold]Done.[/bold] Query it: provision sql "SELECT name, count(*) FROM {settings.namespace}.objects '
        'GROUP BY name ORDER BY 2 DESC"'
    )


def _demo_perception(spark, settings: Settings, images_dir: Path) -> None:
    """The model-made (DC) half on real images: the fixture photos, with the tiny random models."""
    from provision_spark.perception.ingest import ingest_images
    from provision_spark.perception.pipeline import perceive
    from provision_spark.perception.tiny import build_tiny_models

    print_summary("ingest-images", ingest_images(spark, settings, str(images_dir.resolve()), "demo_images"))
    config = build_tiny_models(settings.lakehouse.resolve() / "models" / "tiny")
    for stage, summary in perceive(spark, settings, config, None, "demo_images").items():
        print_summary(f"perceive {stage}", summary)


def _demo_multi(spark, settings: Settings) -> None:
    from provision_spark.generators.multi.base import Params
    from provision_spark.generators.multi.engine import run_generate_multi

    summary = run_generate_multi(spark, settings, Params(k=2, count=50, seed=0))
    print_summary("generate-multi", {k: v for k, v in summary.items() if k.count(".") == 1})
