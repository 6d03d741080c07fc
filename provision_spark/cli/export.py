"""``provision export``, ``export-multi`` and ``mix``: what trainers read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from provision_spark.cli.common import app, console, names, session


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output JSONL file.")],
    fmt: Annotated[str, typer.Option("--format", help="Output format (llava).")] = "llava",
    mc_ratio: Annotated[
        float,
        typer.Option("--mc-ratio", help="Share of multiple-choice items: 0 all short answer, 1 all multiple choice."),
    ] = 0.5,
    image_placement: Annotated[
        str, typer.Option("--image-placement", help="<image> before or after the prompt, or random.")
    ] = "before",
    split: Annotated[
        Optional[str], typer.Option(help="Comma-separated splits (VG-S, DC-S, VG-M, DC-M); default all.")
    ] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the short-answer/multiple-choice pick and random placement.")] = 0,
) -> None:
    """Export instructions as LLaVA conversation JSONL."""
    if fmt != "llava":
        raise typer.BadParameter("only --format llava is supported", param_hint="--format")
    from provision_spark.exports.llava import export_llava
    from provision_spark.lakehouse.tracking import job_run

    spark, settings = session(ctx)
    params = {
        "format": fmt,
        "out": str(out),
        "mc_ratio": mc_ratio,
        "image_placement": image_placement,
        "split": split or "all",
        "generators": generators or "all",
        "seed": seed,
    }
    with job_run(settings, "export", params) as run:
        n = export_llava(
            spark,
            settings,
            out,
            mc_ratio=mc_ratio,
            image_placement=image_placement,
            splits=names(split),
            generators=names(generators),
            seed=seed,
        )
        run.log_metrics({"export.lines": n})
    console.print(f"wrote {n} lines to {out}")


@app.command("export-multi")
def export_multi_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output JSONL file.")],
    mc_ratio: Annotated[float, typer.Option("--mc-ratio", help="Share shown as multiple choice (0-1).")] = 0.5,
    splits: Annotated[Optional[str], typer.Option(help="Comma-separated splits (VG-M, DC-M); default both.")] = None,
    generators: Annotated[Optional[str], typer.Option(help="Comma-separated generators; default all.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the short-answer/multiple-choice pick.")] = 0,
) -> None:
    """Export multi-image instructions as conversations with an ``images`` list, numbered from Image 1."""
    from provision_spark.exports.multi_image import export_multi
    from provision_spark.lakehouse.tracking import job_run

    spark, settings = session(ctx)
    params = {
        "out": str(out),
        "mc_ratio": mc_ratio,
        "splits": splits or "all",
        "generators": generators or "all",
        "seed": seed,
    }
    with job_run(settings, "export-multi", params) as run:
        n = export_multi(
            spark, settings, out, mc_ratio=mc_ratio, splits=names(splits), generators=names(generators), seed=seed
        )
        run.log_metrics({"export_multi.lines": n})
    console.print(f"wrote {n} lines to {out}")


@app.command("mix")
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
    from provision_spark.exports.mixing import mix
    from provision_spark.lakehouse.tracking import job_run

    spark, settings = session(ctx)
    params = {
        "base": str(base),
        "mode": mode,
        "ratio": ratio,
        "mc_ratio": mc_ratio,
        "splits": splits,
        "seed": seed,
        "out": str(out),
    }
    with job_run(settings, "mix", params) as run:
        manifest = mix(
            spark, settings, base, out, mode=mode, ratio=ratio, mc_ratio=mc_ratio, splits=names(splits) or [], seed=seed
        )
        run.log_metrics(
            {
                "mix.base_kept": manifest["base_kept"],
                "mix.ours": manifest["ours"]["added"],
                "mix.shortfall": manifest["ours"]["shortfall"],
                "mix.rows": manifest["output"]["rows"],
            }
        )
    console.print(
        f"wrote {manifest['output']['rows']} records to {manifest['output']['path']} "
        f"({manifest['ours']['added']} ours, {manifest['base_kept']} base); manifest in {out}/manifest.json"
    )
