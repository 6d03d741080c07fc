"""What every command shares: the one Typer ``app`` and its global options, the session from those
settings, and the summary table. Each command group (a module of this package) adds its commands
to ``app``; commands only parse options, get the session and call a stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from provision_spark.lakehouse.config import Settings

console = Console()

app = typer.Typer(
    help="ProVision on a Spark/Delta lakehouse: scene graphs -> verified instruction data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def common(
    ctx: typer.Context,
    lakehouse: Annotated[
        Optional[Path], typer.Option(help="Local lakehouse folder (tables, metastore, MLflow store).")
    ] = None,
    catalog: Annotated[Optional[str], typer.Option(help="Unity Catalog catalog (none locally).")] = None,
    schema: Annotated[Optional[str], typer.Option(help="Schema (database) holding the tables.")] = None,
    tracking_uri: Annotated[
        Optional[str], typer.Option(help="MLflow tracking URI (default: sqlite in the lakehouse).")
    ] = None,
    experiment: Annotated[Optional[str], typer.Option(help="MLflow experiment the runs log to.")] = None,
    remote: Annotated[
        Optional[str], typer.Option(help="Run through this Spark Connect server (sc://host:port) instead of locally.")
    ] = None,
) -> None:
    """Settings come from PROVISION_* variables, overridden by these options."""
    ctx.obj = Settings.from_env(
        lakehouse=lakehouse,
        catalog=catalog,
        schema=schema,
        tracking_uri=tracking_uri,
        experiment=experiment,
        remote=remote,
    )


def session(ctx: typer.Context):
    """(SparkSession, Settings): settings from the main callback, or from ``PROVISION_*`` when standalone."""
    from provision_spark.lakehouse.session import get_spark

    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    return get_spark(settings), settings


def names(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given): ``--generators a,b``."""
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


def print_summary(title: str, summary: dict[str, object]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:.3g}" if isinstance(value, float) else str(value))
    console.print(table)
