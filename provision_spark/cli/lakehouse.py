"""``provision sql`` and ``create-views``: reading the lakehouse."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from provision_spark import stages
from provision_spark.cli.common import app, console, session


@app.command("sql")
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='A Spark SQL query, e.g. "SELECT * FROM provision.objects".')],
    limit: Annotated[int, typer.Option(help="Most rows to print.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """Run a SQL query against the lakehouse and print the result."""
    spark, _ = session(ctx)
    columns, rows = stages.run_sql(spark, query, limit)
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
    spark, settings = session(ctx)
    for name in stages.create_views(spark, settings):
        console.print(name)
