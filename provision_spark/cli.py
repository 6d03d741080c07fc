"""``provision``: the command line. Each command parses its options, gets the session and calls one
pipeline function; ``jobs/*.py`` call the same commands, so Databricks tasks and local runs agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from provision_spark import pipeline
from provision_spark.cli_support import console, print_summary, session
from provision_spark.config import Settings

app = typer.Typer(help="ProVision on a Spark/Delta lakehouse: scene graphs -> verified instruction data.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def common(
    ctx: typer.Context,
    lakehouse: Annotated[Optional[Path], typer.Option(help="Local lakehouse folder (tables, metastore, MLflow store).")] = None,
    catalog: Annotated[Optional[str], typer.Option(help="Unity Catalog catalog (none locally).")] = None,
    schema: Annotated[Optional[str], typer.Option(help="Schema (database) holding the tables.")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow tracking URI (default: sqlite in the lakehouse).")] = None,
) -> None:
    """Settings come from PROVISION_* variables, overridden by these options."""
    ctx.obj = Settings.from_env(lakehouse=lakehouse, catalog=catalog, schema=schema, tracking_uri=tracking_uri)


@app.command("ingest-vg")
def ingest_vg(
    ctx: typer.Context,
    src: Annotated[str, typer.Option(help="Folder with Visual Genome's image_data/objects/attributes/relationships.json.")],
    dataset: Annotated[str, typer.Option(help="Dataset name; image ids become '<dataset>/<id>'.")] = "visual_genome",
) -> None:
    """Ingest Visual Genome's raw JSON (any subset of its four files)."""
    spark, settings = session(ctx)
    print_summary(f"ingest {dataset}", pipeline.ingest(spark, settings, "visual_genome", src, dataset))


@app.command("ingest-gqa")
def ingest_gqa(
    ctx: typer.Context,
    src: Annotated[str, typer.Option(help="A GQA sceneGraphs.json file.")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "gqa",
) -> None:
    """Ingest GQA scene graphs."""
    spark, settings = session(ctx)
    print_summary(f"ingest {dataset}", pipeline.ingest(spark, settings, "gqa", src, dataset))


@app.command("ingest-provision")
def ingest_provision(
    ctx: typer.Context,
    src: Annotated[str, typer.Option(help="Folder in the ProVision reference layout (per-annotator JSON, depth_masks/, seg_masks/).")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "provision_sample",
) -> None:
    """Ingest the ProVision reference pipeline's per-annotator JSON, depth maps and masks."""
    spark, settings = session(ctx)
    print_summary(f"ingest {dataset}", pipeline.ingest(spark, settings, "provision", src, dataset))


@app.command("build-scene-graphs")
def build_scene_graphs(ctx: typer.Context) -> None:
    """Join the flat tables into one scene graph per image."""
    spark, settings = session(ctx)
    print_summary("scene graphs", pipeline.build_scene_graphs(spark, settings))


@app.command("sql")
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A Spark SQL query, e.g. \"SELECT * FROM provision.objects\".")],
    limit: Annotated[int, typer.Option(help="Most rows to print.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """Run a SQL query against the lakehouse and print the result."""
    spark, _ = session(ctx)
    columns, rows = pipeline.run_sql(spark, query, limit)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.asDict(recursive=True), default=str))
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def _cell(value: object) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


@app.command("create-views")
def create_views(ctx: typer.Context) -> None:
    """(Re)create the SQL views users query: instructions per generator, frequencies, quarantine, ..."""
    from provision_spark.views import create_views as run

    spark, settings = session(ctx)
    for name in run(spark, settings):
        console.print(name)


@app.command("demo")
def demo(
    ctx: typer.Context,
    fixtures: Annotated[Path, typer.Option(help="The fixtures folder (shared/fixtures).")] = Path("../shared/fixtures"),
    perception: Annotated[bool, typer.Option(help="Also run the perception stages (tiny random models) on images.")] = True,
) -> None:
    """Run the whole pipeline end to end on the fixtures into the local lakehouse."""
    from provision_spark.generators.engine import run_generate_single
    from provision_spark.generators.export import export_llava
    from provision_spark.views import create_views as run_create_views

    spark, settings = session(ctx)
    print_summary("visual genome", pipeline.ingest(spark, settings, "visual_genome", str(fixtures / "vg_raw_subset")))
    print_summary("gqa", pipeline.ingest(spark, settings, "gqa", str(fixtures / "gqa_sample14" / "sceneGraphs.json")))
    print_summary("provision sample", pipeline.ingest(spark, settings, "provision", str(fixtures / "provision_baseball")))
    if perception:
        _demo_perception(spark, settings, fixtures / "provision_baseball" / "images")
    print_summary("scene graphs", pipeline.build_scene_graphs(spark, settings))
    summary = run_generate_single(spark, settings)
    print_summary("generate-single", {k: v for k, v in summary.items() if k.endswith((".written", ".quarantined"))})
    _demo_multi(spark, settings)
    exports = settings.exports_dir
    console.print(f"llava export: {export_llava(spark, settings, exports / 'single.jsonl')} lines")
    run_create_views(spark, settings)
    print_summary("tables", pipeline.table_counts(spark, settings))
    console.print(f"[bold]Done.[/bold] Query it: provision sql \"SELECT name, count(*) FROM {settings.namespace}.objects "
                  "GROUP BY name ORDER BY 2 DESC\"")


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


GLOBAL_OPTIONS = ("--lakehouse", "--catalog", "--schema", "--tracking-uri")


def run_job(command: str, argv: list[str] | None = None) -> None:
    """Entry for ``jobs/*.py``: the task's parameters, global options moved before the command."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    global_args, command_args = [], []
    while args:
        arg = args.pop(0)
        name = arg.split("=", 1)[0]
        target = global_args if name in GLOBAL_OPTIONS else command_args
        target.append(arg)
        if "=" not in arg and name in GLOBAL_OPTIONS and args:
            target.append(args.pop(0))
    app([*global_args, command, *command_args], standalone_mode=True)


def _register_parts() -> None:
    """The generator and perception parts bring their own commands."""
    from provision_spark.generators import cli as generators_cli
    from provision_spark.generators.multi import cli as multi_cli
    from provision_spark.perception import cli as perception_cli

    for part in (generators_cli, multi_cli, perception_cli):
        part.register(app)


_register_parts()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
