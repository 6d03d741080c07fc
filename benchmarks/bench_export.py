"""Benchmark: ``export`` of single-image items in every format, rows/s and peak memory per size.

Input (prepared, not timed): single-image instructions generated from the VRD corpus
(``../shared/corpora/vrd_train_vg``, 4,000 images), replicated with offset image ids
(``vrd/<id + k * 10_000_000>``, with matching ``images`` rows) to each size. Each format is then
exported from that table; the JSON formats are streamed into one file by the driver, so peak memory
(the whole process tree: driver Python + JVM + Python workers) should stay flat as rows grow.

    python benchmarks/bench_export.py --sizes 100000,1000000 [--formats llava,hf-parquet]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import PeakMemory, vrd_rows  # noqa: E402

from provision_spark.exports.formats import Format  # noqa: E402
from provision_spark.lakehouse import tables, tracking  # noqa: E402
from provision_spark.lakehouse.config import Settings  # noqa: E402
from provision_spark.lakehouse.session import get_spark  # noqa: E402

VRD = ROOT.parent / "shared" / "corpora" / "vrd_train_vg"
OFFSET = 10_000_000


def seed_instructions(spark, settings: Settings) -> None:
    """Real generator output on VRD (once): the rows that get replicated."""
    from pyspark.sql import functions as F

    from provision_spark.generators.single.engine import generate_single

    graphs = spark.createDataFrame(vrd_rows(VRD), tables.schema_of("scene_graphs"))
    graphs = graphs.withColumn("image_id", F.concat(F.lit("vrd/"), "image_id"))
    with tracking.job_run(settings, "bench-export-seed", {}) as run:
        generate_single(spark, settings, run, seed=0, per_image=2, scene_graphs=graphs)
    images = graphs.select("image_id", "dataset", "source", "uri", "width", "height", "size_known")
    images.write.format("delta").mode("overwrite").saveAsTable(f"{settings.namespace}.bench_seed_images")
    spark.table(tables.table_name(settings, "instructions")).write.format("delta").mode("overwrite").saveAsTable(
        f"{settings.namespace}.bench_seed_instructions"
    )


def replicate(spark, settings: Settings, size: int) -> None:
    """``instructions`` := ``size`` rows (copies of the seed rows with offset ids), ``images`` to match."""
    from pyspark.sql import functions as F

    seed = spark.table(f"{settings.namespace}.bench_seed_instructions")
    n = seed.count()
    copies = -(-size // n)
    shift = lambda c: F.concat(F.lit("vrd/"), (F.split(c, "/")[1].cast("long") + F.col("copy") * OFFSET).cast("string"))  # noqa: E731
    rows = (
        seed.crossJoin(spark.range(copies).withColumnRenamed("id", "copy"))
        .withColumn("image_ids", F.transform("image_ids", shift))
        .withColumn("instruction_id", F.concat("instruction_id", F.lit("-"), F.col("copy").cast("string")))
        .withColumn("_h", F.xxhash64("instruction_id"))
        .orderBy("_h")
        .limit(size)
        .drop("copy", "_h")
    )
    images = spark.table(f"{settings.namespace}.bench_seed_images").crossJoin(
        spark.range(copies).withColumnRenamed("id", "copy")
    )
    images = images.withColumn("image_id", shift(F.col("image_id"))).drop("copy")
    for name, df in (("instructions", rows), ("images", images)):
        tables.conform(df, name).write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(
            tables.table_name(settings, name)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="Comma-separated numbers of items.")
    parser.add_argument("--formats", default=",".join(f.value for f in Format))
    parser.add_argument("--master", default=os.environ.get("PROVISION_MASTER", "local[2]"))
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--lakehouse", default=None, help="Benchmark lakehouse folder (default: a temp dir).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    formats = [Format(f.strip()) for f in args.formats.split(",") if f.strip()]

    from provision_spark.exports.stage import run_export

    lakehouse = Path(args.lakehouse) if args.lakehouse else Path(tempfile.mkdtemp(prefix="bench-export-"))
    settings = Settings(
        lakehouse=lakehouse, schema="bench", master=args.master, shuffle_partitions=8, driver_memory=args.driver_memory
    )
    spark = get_spark(settings)
    tracking.configure(settings)
    tables.ensure_tables(spark, settings)
    seed_instructions(spark, settings)
    print(f"master={args.master}; seed rows from VRD, replicated with id offsets of {OFFSET:,}", flush=True)
    print(f"{'items':>10} {'format':>17} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS':>10}", flush=True)
    out_dir = lakehouse / "exports"
    for size in sizes:
        replicate(spark, settings, size)
        for fmt in formats:
            out = out_dir / (f"{fmt.value}-{size}" + ("" if fmt is Format.hf_parquet else ".json"))
            with PeakMemory() as memory:
                start = time.perf_counter()
                manifest = run_export(spark, settings, out, fmt)
                seconds = time.perf_counter() - start
            rows = manifest["rows"]
            print(
                f"{size:>10,} {fmt.value:>17} {rows:>10,} {seconds:>8.1f} {rows / seconds:>9,.0f} "
                f"{memory.peak_mib:>8,.0f} MiB",
                flush=True,
            )
            shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
    spark.stop()
    if not args.lakehouse:
        shutil.rmtree(lakehouse, ignore_errors=True)


if __name__ == "__main__":
    main()
