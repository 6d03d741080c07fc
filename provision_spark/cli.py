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


@app.command("demo")
def demo(
    ctx: typer.Context,
    fixtures: Annotated[Path, typer.Option(help="The fixtures folder (shared/fixtures).")] = Path("../shared/fixtures"),
) -> None:
    """Run the pipeline end to end on the fixtures into the local lakehouse."""
    spark, settings = session(ctx)
    print_summary("visual genome", pipeline.ingest(spark, settings, "visual_genome", str(fixtures / "vg_raw_subset")))
    print_summary("gqa", pipeline.ingest(spark, settings, "gqa", str(fixtures / "gqa_sample14" / "sceneGraphs.json")))
    print_summary("provision sample", pipeline.ingest(spark, settings, "provision", str(fixtures / "provision_baseball")))
    print_summary("scene graphs", pipeline.build_scene_graphs(spark, settings))
    print_summary("tables", pipeline.table_counts(spark, settings))
    console.print(f"[bold]Done.[/bold] Query it: provision sql \"SELECT name, count(*) FROM {settings.namespace}.objects "
                  "GROUP BY name ORDER BY 2 DESC\"")


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
