"""``provision demo``: the whole pipeline end to end on the fixtures."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli.common import app, console, print_summary, session
from provision_spark.lakehouse.config import Settings


@app.command("demo")
def demo(
    ctx: typer.Context,
    fixtures: Annotated[
        Optional[Path],
        typer.Option(
            metavar="DIR",
            callback=lambda value: find_fixtures(value),
            help="The fixtures folder. Default: PROVISION_FIXTURES, else shared/fixtures beside this checkout.",
        ),
    ] = None,
    perception: Annotated[
        bool, typer.Option(help="Also run the perception stages (tiny random models) on images.")
    ] = True,
    multi: Annotated[bool, typer.Option(help="Also generate multi-image items.")] = True,
) -> None:
    """Run the whole pipeline end to end on the fixtures into the local lakehouse."""
    from provision_spark import stages
    from provision_spark.exports.stage import run_export

    spark, settings = session(ctx, creates_lakehouse=True)
    print_summary("visual genome", stages.ingest(spark, settings, "visual_genome", str(fixtures / "vg_raw_subset")))
    print_summary("gqa", stages.ingest(spark, settings, "gqa", str(fixtures / "gqa_sample14" / "sceneGraphs.json")))
    print_summary("provision sample", stages.ingest(spark, settings, "provision", str(fixtures / "provision_baseball")))
    if perception:
        _demo_perception(spark, settings, fixtures / "provision_baseball" / "images")
    print_summary("scene graphs", stages.build_scene_graphs(spark, settings))
    summary = stages.generate_single(spark, settings)
    print_summary("generate-single", {k: v for k, v in summary.items() if k.endswith((".written", ".quarantined"))})
    if multi:
        _demo_multi(spark, settings)
    exports = settings.exports_dir
    console.print(f"llava export: {run_export(spark, settings, exports / 'single.json')['rows']} records")
    stages.create_views(spark, settings)
    print_summary("tables", stages.table_counts(spark, settings))
    where = f"--lakehouse {shlex.quote(str(settings.lakehouse.resolve()))} " if settings.is_local else ""
    console.print("[bold]Done.[/bold] Query it:")
    console.print(
        f'provision {where}sql "SELECT name, count(*) FROM {settings.namespace}.objects GROUP BY name ORDER BY 2 DESC"',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def find_fixtures(explicit: Path | None) -> Path:
    """``--fixtures``, else ``PROVISION_FIXTURES``, else ``shared/fixtures`` beside the checkout this
    package runs from (never relative to the current folder)."""
    checkout = Path(__file__).resolve().parents[2]
    env = os.environ.get("PROVISION_FIXTURES")
    folder = explicit or (Path(env) if env else checkout.parent / "shared" / "fixtures")
    if not (folder / "vg_raw_subset").is_dir():
        raise typer.BadParameter(f"no fixtures at {folder} (no vg_raw_subset/ in it)")
    return folder


def _demo_perception(spark, settings: Settings, images_dir: Path) -> None:
    """The model-made (DC) half on real images: the fixture photos, with the tiny random models."""
    from provision_spark import stages

    print_summary("ingest-images", stages.ingest_images(spark, settings, str(images_dir.resolve()), "demo_images"))
    config = stages.tiny_perception(settings)
    for stage, summary in stages.perceive(spark, settings, config, None, "demo_images").items():
        print_summary(f"perceive {stage}", summary)


def _demo_multi(spark, settings: Settings) -> None:
    from provision_spark import stages
    from provision_spark.generators.multi.base import Params

    summary = stages.generate_multi(spark, settings, Params(k=2, count=50, seed=0))
    print_summary("generate-multi", {k: v for k, v in summary.items() if k.count(".") == 1})
