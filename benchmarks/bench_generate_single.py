"""Benchmark: single-image generation (generate + independent check + MERGE into Delta) at scale.

Input: ``../shared/corpora/vrd_train_vg`` (4,000 VRD images in Visual Genome's layout: objects and
relations, no attributes, masks or depth), turned into ``scene_graphs`` rows and replicated with
offset image ids (``vrd/<id + k * 10_000_000>``) to each size. Generators whose inputs VRD lacks
(attributes, segmentation, depth) produce nothing, as in the reference's own VRD run.

For each size it prints instructions written, wall time, instructions/s, seconds per 1,000 images
and the peak resident memory of the whole process tree (driver Python + JVM + Python workers),
sampled every 0.2 s. Preparing the replicated input is not timed.

Reference: the ProVision reference implementation made 20,626 instructions from these 3,780 images
in ~54 s with 2 worker processes (~380 instructions/s).

    python benchmarks/bench_generate_single.py --sizes 10000,100000 [--per-image 2] [--master local[2]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import PeakMemory, vrd_rows  # noqa: E402

from provision_spark.lakehouse import tables, tracking  # noqa: E402
from provision_spark.lakehouse.config import Settings  # noqa: E402
from provision_spark.lakehouse.session import get_spark  # noqa: E402

VRD = ROOT.parent / "shared" / "corpora" / "vrd_train_vg"
OFFSET = 10_000_000


def prepare(spark, settings: Settings, base, size: int, base_ids: list[int]) -> str:
    """Write ``size`` replicated scene graphs into a Delta table; returns its name.

    Whole copies of the corpus, then the images of lowest id of one more copy: a filter, so the
    rows stay spread over tasks (no sort-and-limit into one).
    """
    from pyspark.sql import functions as F

    whole, rest = divmod(size, len(base_ids))
    last_id = sorted(base_ids)[rest - 1] if rest else -1
    name = f"{settings.namespace}.bench_scene_graphs_{size}"
    replicated = (
        base.crossJoin(spark.range(whole + 1).withColumnRenamed("id", "copy"))
        .filter((F.col("copy") < whole) | ((F.col("copy") == whole) & (F.col("image_id").cast("long") <= last_id)))
        .withColumn(
            "image_id",
            F.concat(F.lit("vrd/"), (F.col("image_id").cast("long") + F.col("copy") * OFFSET).cast("string")),
        )
        .drop("copy")
    )
    replicated.write.format("delta").mode("overwrite").saveAsTable(name)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated numbers of images.")
    parser.add_argument("--per-image", type=int, default=2, help="Most items per generator per image.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default=os.environ.get("PROVISION_MASTER", "local[2]"))
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--lakehouse", default=None, help="Folder for the benchmark lakehouse (default: a temp dir).")
    parser.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="Images generated once, untimed, before the sizes: JIT, Python workers and "
        "imports warm, as on a long-running cluster (0: none).",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    from provision_spark.generators.single.engine import generate_single

    lakehouse = Path(args.lakehouse) if args.lakehouse else Path(tempfile.mkdtemp(prefix="bench-gen-"))
    settings = Settings(
        lakehouse=lakehouse, schema="bench", master=args.master, shuffle_partitions=8, driver_memory=args.driver_memory
    )
    spark = get_spark(settings)
    tracking.configure(settings)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {settings.namespace}")
    rows = vrd_rows(VRD)
    base = spark.createDataFrame(rows, tables.schema_of("scene_graphs"))
    base_ids = [int(row["image_id"]) for row in rows]
    print(
        f"VRD: {len(rows)} images with objects, replicated with image id offsets of {OFFSET:,}; "
        f"master={args.master}, per_image={args.per_image}",
        flush=True,
    )
    print(
        f"{'images':>10} {'instructions':>13} {'seconds':>9} {'instr/s':>9} {'s/1k img':>9} {'peak RSS':>10} "
        f"{'CPU s':>8} {'instr/CPU s':>11}  phases (frequencies / generate+check / merge, s)",
        flush=True,
    )
    results = []
    if args.warmup:
        table = prepare(spark, settings, base, args.warmup, base_ids)
        tables.ensure_tables(spark, settings, ["instructions", "quarantine"])
        with tracking.job_run(settings, "bench-generate-single-warmup", {"size": args.warmup}) as run:
            generate_single(
                spark, settings, run, seed=args.seed, per_image=args.per_image, scene_graphs=spark.table(table)
            )
        spark.sql(f"DROP TABLE IF EXISTS {table}")
        print(f"(warm-up: {args.warmup:,} images, untimed)", flush=True)
    for size in sizes:
        table = prepare(spark, settings, base, size, base_ids)
        spark.sql(f"DROP TABLE IF EXISTS {settings.namespace}.instructions")
        spark.sql(f"DROP TABLE IF EXISTS {settings.namespace}.quarantine")
        tables.ensure_tables(spark, settings, ["instructions", "quarantine"])
        with PeakMemory() as memory:
            start = time.perf_counter()
            with tracking.job_run(settings, "bench-generate-single", {"size": size}) as run:
                generate_single(
                    spark, settings, run, seed=args.seed, per_image=args.per_image, scene_graphs=spark.table(table)
                )
                summary = dict(run.summary)
            seconds = time.perf_counter() - start
        n = int(summary.get("instructions.written", 0))
        dropped = int(summary.get("instructions.quarantined", 0))
        phases = [summary.get(f"instructions.seconds.{k}", 0.0) for k in ("frequencies", "generate_and_check", "merge")]
        cpu = memory.cpu_seconds
        result = {
            "images": size,
            "instructions": n,
            "dropped_by_checker": dropped,
            "seconds": round(seconds, 1),
            "instructions_per_s": round(n / seconds, 1),
            "s_per_1k_images": round(1000 * seconds / size, 2),
            "peak_rss_gb": round(memory.peak / 2**30, 2),
            "cpu_seconds": round(cpu, 1),
            "instructions_per_cpu_s": round(n / max(cpu, 1e-9), 1),
            "load_avg_1m": os.getloadavg()[0],
            "phases_s": [round(p, 1) for p in phases],
        }
        results.append(result)
        print(
            f"{size:>10,} {n:>13,} {seconds:>9.1f} {n / seconds:>9.0f} {1000 * seconds / size:>9.2f} "
            f"{memory.peak / 2**30:>8.2f}GB {cpu:>8.0f} {n / max(cpu, 1e-9):>11.0f}  "
            f"{' / '.join(f'{p:.0f}' for p in phases)}   (checker dropped {dropped}; load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        spark.sql(f"DROP TABLE IF EXISTS {table}")
    print(json.dumps(results))
    spark.stop()
    if not args.lakehouse:
        shutil.rmtree(lakehouse, ignore_errors=True)


if __name__ == "__main__":
    main()
