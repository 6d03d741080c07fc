"""``provision quality-report``: per-generator answer balance, position balance, hard defects and
checker drops of the instructions table (also logged to MLflow as an artifact)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from provision_spark.cli.common import app, console, session


@app.command("quality-report")
def quality_report_command(
    ctx: typer.Context,
    share_limit: Annotated[
        Optional[float], typer.Option(help="Most a single answer may take of a generator's items (default 0.35).")
    ] = None,
    fail: Annotated[bool, typer.Option("--fail/--no-fail", help="Exit 1 when the report does not pass.")] = False,
) -> None:
    """Report the quality of the generated instructions."""
    from provision_spark import stages

    spark, settings = session(ctx)
    report = stages.quality_report(spark, settings, share_limit=share_limit)
    table = Table(title=f"instruction quality ({report['items']} items)")
    for column in ("generator", "items", "answers", "entropy", "top answer", "top share", "position p"):
        table.add_column(column)
    for g in report["generators"]:
        share = f"{g['top_share']:.3f}" + (" over limit" if g["above_share_limit"] else "")
        table.add_row(
            g["generator"], str(g["items"]), str(g["answers"]), f"{g['entropy_bits']:.2f}",
            str(g["top_answer"])[:30], share, str(g["position_p"]),
        )  # fmt: skip
    console.print(table)
    console.print(f"position balance over all items: p = {report['position_p']}")
    for name, n in report["hard_defects"].items():
        console.print(f"hard defect {name}: {n}")
    for drop in report["checker_drops"]:
        console.print(f"checker drop ({drop['stage']}) {drop['reason']}: {drop['n']}")
    console.print(f"passed: {report['passed']}  (MLflow run {report['run_id']})")
    if fail and not report["passed"]:
        raise typer.Exit(1)
