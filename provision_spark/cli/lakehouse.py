"""``provision sql`` and ``create-views``: reading the lakehouse."""

from __future__ import annotations

import enum
import json
from typing import Annotated

import typer
from rich.table import Table

from provision_spark.cli.common import app, console, session
from provision_spark.lakehouse.config import Settings


class Engine(str, enum.Enum):
    auto = "auto"
    spark = "spark"


@app.command("sql")
def sql(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help='A Spark SQL query, e.g. "SELECT * FROM provision.objects".')
    ],
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Most rows to print.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            help="auto: a plain query on a local lakehouse's tables is read without starting Spark "
            "(deltalake + DuckDB, only for constructs that mean the same in both); anything else, and spark, uses Spark."
        ),
    ] = Engine.auto,
) -> None:
    """Run a SQL query against the lakehouse and print the result."""
    columns, rows = _answer(ctx, query, limit, engine)
    if as_json:
        for row in rows:
            record = row.asDict(recursive=True) if hasattr(row, "asDict") else dict(zip(columns, row))
            typer.echo(json.dumps(record, default=str))
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def _answer(ctx: typer.Context, query: str, limit: int, engine: Engine):
    from pyspark.sql import SparkSession

    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    settings.require_lakehouse()
    if engine is Engine.auto and SparkSession.getActiveSession() is None:
        from provision_spark.lakehouse import fast_sql

        answer = fast_sql.query(settings, query, limit)
        if answer is not None:
            return answer
    from provision_spark import stages

    spark, _ = session(ctx)
    return stages.run_sql(spark, query, limit)


def _cell(value: object) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


@app.command("create-views")
def create_views(ctx: typer.Context) -> None:
    """(Re)create the SQL views users query: instructions per generator, frequencies, quarantine, ..."""
    from provision_spark import stages

    spark, settings = session(ctx)
    for name in stages.create_views(spark, settings):
        console.print(name)


@app.command("wait-for-jobs")
def wait_for_jobs(
    job_ids: Annotated[list[int], typer.Option("--job-id", help="A Databricks job that writes the same tables.")],
    started_before_ms: Annotated[
        int,
        typer.Option(
            help="This run's start (epoch ms, {{job.start_time.timestamp_ms}}): later runs are not waited for."
        ),
    ],
    timeout_minutes: Annotated[float, typer.Option(help="Fail after waiting this long.")] = 240,
    poll_seconds: Annotated[float, typer.Option(help="How often to look.")] = 60,
) -> None:
    """Wait while an earlier run of these jobs is active (a job's first task: one writer at a time)."""
    from provision_spark.lakehouse.guard import wait_for_jobs as wait

    try:
        waited = wait(job_ids, started_before_ms, timeout_minutes * 60, poll_seconds)
    except TimeoutError as error:
        raise typer.BadParameter(str(error)) from error
    console.print(f"no earlier run of jobs {job_ids} is active (waited {waited} s)")
