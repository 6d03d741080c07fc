"""``provision generate-single`` and ``generate-multi``: verified instructions from scene graphs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from provision_spark.cli.common import app, choices, console, names, print_summary, session

SOURCES = ["human", "model"]


def _generator_names(kind: str):
    """A ``--generators`` callback: every name must be a registered generator of ``kind``."""

    def check(value: str | None) -> str | None:
        from provision_spark.generators import registry

        return choices(value, [spec.name for spec in registry.registered(kind)], f"{kind}-image generator(s)")

    return check


@app.command("generate-single")
def generate_single_command(
    ctx: typer.Context,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed; the same seed gives the same rows whatever the partitioning.")
    ] = 0,
    per_image: Annotated[
        int, typer.Option("--per-image", min=1, metavar="N", help="Most items per generator per image.")
    ] = 2,
    generators: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAMES", callback=_generator_names("single"), help="Comma-separated subset of generators (--list)."
        ),
    ] = None,
    list_generators: Annotated[bool, typer.Option("--list", help="List the registered generators and exit.")] = False,
) -> None:
    """Generate verified single-image instructions from scene_graphs into the instructions table."""
    from provision_spark.generators import registry

    if list_generators:
        for spec in registry.registered("single"):
            typer.echo(f"{spec.name:24s} {spec.family:15s} {spec.description}")
        return
    from provision_spark import stages

    spark, settings = session(ctx)
    summary = stages.generate_single(spark, settings, seed=seed, per_image=per_image, generators=names(generators))
    print_summary(
        "generate-single",
        {k: int(v) for k, v in summary.items() if k.endswith(".written") or k.endswith(".quarantined")},
    )


@app.command("generate-multi")
def generate_multi_command(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("--k", min=2, max=4, metavar="N", help="Images per question.")] = 2,
    count_per_generator: Annotated[
        int, typer.Option("--count-per-generator", min=1, metavar="N", help="Items wanted per generator.")
    ] = 1000,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed; the same seed gives the same rows whatever the partitioning.")
    ] = 0,
    generators: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAMES", callback=_generator_names("multi"), help="Comma-separated subset of generators (--list)."
        ),
    ] = None,
    sources: Annotated[
        Optional[str],
        typer.Option(
            metavar="human,model",
            callback=lambda value: choices(value, SOURCES, "source(s)"),
            help="Scene-graph sources, comma-separated: human, model (default: both).",
        ),
    ] = None,
    list_generators: Annotated[bool, typer.Option("--list", help="List the multi-image generators and exit.")] = False,
) -> None:
    """Generate verified multi-image instructions into the instructions table (splits VG-M / DC-M)."""
    from provision_spark.generators.multi.base import Params, multi_generators

    if list_generators:
        for g in multi_generators():
            typer.echo(f"{g.name:34s} {g.family:10s} requires {','.join(g.requires)}")
        return
    from provision_spark import stages

    spark, settings = session(ctx)
    summary = stages.generate_multi(
        spark, settings, Params(k=k, count=count_per_generator, seed=seed), names(generators), names(sources)
    )
    table = Table(title="generate-multi")
    for column in ("generator", "requested", "produced", "failed", "written", "shortfall"):
        table.add_column(column, justify="left" if column == "generator" else "right")
    for g in multi_generators(names(generators)):
        row = [summary[f"multi.{g.name}.{c}"] for c in ("requested", "produced", "failed", "written", "shortfall")]
        table.add_row(g.name, *[str(int(v)) for v in row])
    console.print(table)
    console.print(
        f"{int(summary['multi.written'])} written in {summary['multi.seconds']:.1f} s "
        f"({summary['multi.per_second']:.0f}/s); shortfall {int(summary['multi.shortfall'])}"
    )
