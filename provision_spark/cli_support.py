"""What every CLI command shares: the session from the main callback's settings, and the summary table.

Kept apart from ``cli.py`` so the command modules of each part (generators, perception) can use it
without importing the main app that registers them.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from provision_spark.config import Settings

console = Console()


def session(ctx: typer.Context):
    """(SparkSession, Settings): settings from the main callback, or from ``PROVISION_*`` when standalone."""
    from provision_spark.session import get_spark

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
