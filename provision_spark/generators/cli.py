"""``provision generate-single`` and ``provision export``, added to the main CLI by ``register``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli_support import console, names, print_summary, session


def generate_single_command(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same rows whatever the partitioning.")] = 0,
    per_image: Annotated[int, typer.Option("--per-image", help="Most items per generator per image.")] = 2,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated subset of generators (default: all).")] = None,
    list_generators: Annotated[bool, typer.Option("--list", help="List the registered generators and exit.")] = False,
) -> None:
    """Generate verified single-image instructions from scene_graphs into the instructions table."""
    from provision_spark.generators import registry

    if list_generators:
        for spec in registry.registered("single"):
            typer.echo(f"{spec.name:24s} {spec.family:15s} {spec.description}")
        return
    from provision_spark.generators.engine import run_generate_single

    spark, settings = session(ctx)
    summary = run_generate_single(spark, settings, seed=seed, per_image=per_image, generators=names(generators))
    print_summary("generate-single", {k: int(v) for k, v in summary.items() if k.endswith(".written") or k.endswith(".quarantined")})


def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output JSONL file.")],
    fmt: Annotated[str, typer.Option("--format", help="Output format (llava).")] = "llava",
    mc_ratio: Annotated[float, typer.Option("--mc-ratio", help="Share of multiple-choice items: 0 all short answer, 1 all multiple choice.")] = 0.5,
    image_placement: Annotated[str, typer.Option("--image-placement", help="<image> before or after the prompt, or random.")] = "before",
    split: Annotated[Optional[str], typer.Option(help="Comma-separated splits (VG-S, DC-S, VG-M, DC-M); default all.")] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the short-answer/multiple-choice pick and random placement.")] = 0,
) -> None:
    """Export instructions as LLaVA conversation JSONL."""
    if fmt != "llava":
        raise typer.BadParameter("only --format llava is supported", param_hint="--format")
    from provision_spark.generators.export import export_llava
    from provision_spark.tracking import job_run

    spark, settings = session(ctx)
    params = {"format": fmt, "out": str(out), "mc_ratio": mc_ratio, "image_placement": image_placement,
              "split": split or "all", "generators": generators or "all", "seed": seed}
    with job_run(settings, "export", params) as run:
        n = export_llava(spark, settings, out, mc_ratio=mc_ratio, image_placement=image_placement,
                         splits=names(split), generators=names(generators), seed=seed)
        run.log_metrics({"export.lines": n})
    console.print(f"wrote {n} lines to {out}")


def register(main_app: typer.Typer) -> None:
    """Add ``generate-single`` and ``export`` to another Typer app (the main ``provision`` CLI)."""
    main_app.command("generate-single")(generate_single_command)
    main_app.command("export")(export_command)

