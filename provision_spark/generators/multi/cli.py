"""``provision generate-multi``, ``export-multi`` and ``mix``, added to the main CLI by ``register``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from provision_spark.cli_support import console, names, session


def generate_multi_command(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("--k", help="Images per question (2-4).")] = 2,
    count_per_generator: Annotated[int, typer.Option("--count-per-generator", help="Items wanted per generator.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same rows whatever the partitioning.")] = 0,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated subset of generators (default: all).")] = None,
    sources: Annotated[Optional[str], typer.Option(help="Scene-graph sources: human, model (default: both).")] = None,
    list_generators: Annotated[bool, typer.Option("--list", help="List the multi-image generators and exit.")] = False,
) -> None:
    """Generate verified multi-image instructions into the instructions table (splits VG-M / DC-M)."""
    from provision_spark.generators.multi.base import Params, multi_generators

    if list_generators:
        for g in multi_generators():
            typer.echo(f"{g.name:34s} {g.family:10s} requires {','.join(g.requires)}")
        return
    from provision_spark.generators.multi.engine import run_generate_multi

    spark, settings = session(ctx)
    summary = run_generate_multi(spark, settings, Params(k=k, count=count_per_generator, seed=seed),
                                 names(generators), names(sources))
    table = Table(title="generate-multi")
    for column in ("generator", "requested", "produced", "failed", "written", "shortfall"):
        table.add_column(column, justify="left" if column == "generator" else "right")
    for g in multi_generators(names(generators)):
        row = [summary[f"multi.{g.name}.{c}"] for c in ("requested", "produced", "failed", "written", "shortfall")]
        table.add_row(g.name, *[str(int(v)) for v in row])
    console.print(table)
    console.print(f"{int(summary['multi.written'])} written in {summary['multi.seconds']:.1f} s "
                  f"({summary['multi.per_second']:.0f}/s); shortfall {int(summary['multi.shortfall'])}")


def export_multi_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output JSONL file.")],
    mc_ratio: Annotated[float, typer.Option("--mc-ratio", help="Share shown as multiple choice (0-1).")] = 0.5,
    splits: Annotated[Optional[str], typer.Option(help="Comma-separated splits (VG-M, DC-M); default both.")] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the short-answer/multiple-choice pick.")] = 0,
) -> None:
    """Export multi-image instructions as conversations with an ``images`` list, numbered from Image 1."""
    from provision_spark.generators.multi.export import export_multi
    from provision_spark.tracking import job_run

    spark, settings = session(ctx)
    params = {"out": str(out), "mc_ratio": mc_ratio, "splits": splits or "all", "generators": generators or "all",
              "seed": seed}
    with job_run(settings, "export-multi", params) as run:
        n = export_multi(spark, settings, out, mc_ratio=mc_ratio, splits=names(splits),
                         generators=names(generators), seed=seed)
        run.log_metrics({"export_multi.lines": n})
    console.print(f"wrote {n} lines to {out}")


def mix_command(
    ctx: typer.Context,
    base: Annotated[Path, typer.Option(help="Base LLaVA-style dataset (.json array or .jsonl).")],
    mode: Annotated[str, typer.Option(help="augment (add ratio*|base| of ours) or replace (swap that many).")],
    ratio: Annotated[float, typer.Option(help="r: how many of ours, as a share of the base's size.")],
    out: Annotated[Path, typer.Option(help="Output folder: mix.json[l] and manifest.json.")],
    mc_ratio: Annotated[float, typer.Option("--mc-ratio", help="Share of ours in multiple-choice form (0-1).")] = 0.5,
    splits: Annotated[str, typer.Option(help="Comma-separated splits of ours to draw from.")] = "VG-S,VG-M,DC-S,DC-M",
    seed: Annotated[int, typer.Option(help="Seed of every choice in the mix.")] = 0,
) -> None:
    """Mix our instructions into a base instruction dataset by augmentation or replacement."""
    from provision_spark.mixing import mix
    from provision_spark.tracking import job_run

    spark, settings = session(ctx)
    params = {"base": str(base), "mode": mode, "ratio": ratio, "mc_ratio": mc_ratio, "splits": splits, "seed": seed,
              "out": str(out)}
    with job_run(settings, "mix", params) as run:
        manifest = mix(spark, settings, base, out, mode=mode, ratio=ratio, mc_ratio=mc_ratio,
                       splits=names(splits) or [], seed=seed)
        run.log_metrics({"mix.base_kept": manifest["base_kept"], "mix.ours": manifest["ours"]["added"],
                         "mix.shortfall": manifest["ours"]["shortfall"], "mix.rows": manifest["output"]["rows"]})
    console.print(f"wrote {manifest['output']['rows']} records to {manifest['output']['path']} "
                  f"({manifest['ours']['added']} ours, {manifest['base_kept']} base); manifest in {out}/manifest.json")


def register(main_app: typer.Typer) -> None:
    """Add ``generate-multi``, ``export-multi`` and ``mix`` to another Typer app (the main CLI)."""
    main_app.command("generate-multi")(generate_multi_command)
    main_app.command("export-multi")(export_multi_command)
    main_app.command("mix")(mix_command)

