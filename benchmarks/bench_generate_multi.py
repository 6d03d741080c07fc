"""Multi-image generation throughput on the VRD corpus, replicated with offset image ids for scale.

    python benchmarks/bench_generate_multi.py --instructions 100000,1000000

For each size N, a fresh process (so peak memory is per run) builds ``objects`` and ``relations``
from ``../shared/corpora/vrd_train_vg`` replicated R times (image ``vrd/<id + r * 1_000_000>``;
R = N / 4000 by default, i.e. one image per instruction, so the corpus grows with the output),
then times the whole ``generate-multi`` job (read tables, the 9 generators VRD can feed - it has no
attributes - word, check, MERGE into ``instructions``) with N / 9 items per generator. Reported:
instructions written per second, the job's wall time, the JVM's and Python driver's peak resident
memory, and the ratio to the reference implementation (45,000 multi-image instructions from these
images in 40.8 s on one core, ~1,100/s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VRD = ROOT.parent / "shared" / "corpora" / "vrd_train_vg"
REFERENCE_PER_SECOND = 45_000 / 40.8
OFFSET = 1_000_000
VRD_GENERATORS = [
    "multi_has_object",
    "multi_has_not_object",
    "multi_has_relation",
    "multi_has_not_relation",
    "multi_most_object",
    "multi_least_object",
    "multi_compare_relations",
    "multi_count_object",
    "multi_common_objects",
]


def vrd_rows() -> tuple[list[tuple], list[tuple]]:
    """(objects, relations) of the VRD corpus as plain tuples: (image, object, name), (image, s, predicate, o)."""
    objects = [
        (r["image_id"], str(o["object_id"]), o["names"][0].strip().lower())
        for r in json.loads((VRD / "objects.json").read_text())
        for o in r["objects"]
    ]
    relations = [
        (r["image_id"], str(x["subject"]["object_id"]), x["predicate"].strip().lower(), str(x["object"]["object_id"]))
        for r in json.loads((VRD / "relationships.json").read_text())
        for x in r["relationships"]
    ]
    return objects, relations


def build_corpus(spark, settings, replicas: int) -> int:
    """Write the replicated corpus to the (empty) tables; returns the number of images."""
    from pyspark.sql import functions as F

    from provision_spark.lakehouse import tables

    objects, relations = vrd_rows()
    copies = spark.range(replicas).withColumnRenamed("id", "r")
    image_id = F.concat(F.lit("vrd/"), (F.col("i") + F.col("r") * OFFSET).cast("string"))
    lineage = [F.lit("human").alias("source"), F.lit("vrd").alias("model_name"), F.lit("human").alias("model_version")]
    obj = (
        spark.createDataFrame(objects, "i long, object_id string, name string")
        .crossJoin(copies)
        .select(
            image_id.alias("image_id"),
            "object_id",
            "name",
            F.struct(*[F.lit(v).alias(k) for k, v in (("x1", 0.0), ("y1", 0.0), ("x2", 1.0), ("y2", 1.0))]).alias(
                "box"
            ),
            F.lit(False).alias("clipped"),
            *lineage,
        )
    )
    rel = (
        spark.createDataFrame(relations, "i long, subject_id string, predicate string, object_id string")
        .crossJoin(copies)
        .select(image_id.alias("image_id"), "subject_id", "predicate", "object_id", *lineage)
    )
    tables.conform(obj, "objects").write.mode("append").insertInto(tables.table_name(settings, "objects"))
    tables.conform(rel, "relations").write.mode("append").insertInto(tables.table_name(settings, "relations"))
    return len({o[0] for o in objects}) * replicas


def jvm_peak_rss_mb() -> float:
    """Peak resident memory (VmHWM) of the JVM started by this process."""
    for child in Path("/proc").glob("[0-9]*"):
        try:
            status = (child / "status").read_text()
            if f"PPid:\t{os.getpid()}" in status and "java" in (child / "cmdline").read_text():
                return int(status.split("VmHWM:")[1].split()[0]) / 1024
        except (OSError, IndexError):
            continue
    return float("nan")


def run_one(instructions: int, replicas: int, k: int, lakehouse: Path) -> dict:
    from provision_spark import stages
    from provision_spark.generators.multi.base import Params
    from provision_spark.lakehouse import tables, tracking
    from provision_spark.lakehouse.config import Settings
    from provision_spark.lakehouse.session import get_spark

    settings = Settings.from_env(lakehouse=lakehouse, schema="bench_multi")  # PROVISION_SPARK_CONF etc. apply
    spark = get_spark(settings)
    tracking.configure(settings)
    spark.sql(f"DROP SCHEMA IF EXISTS {settings.namespace} CASCADE")
    tables.ensure_tables(spark, settings)
    images = build_corpus(spark, settings, replicas)
    per_generator = -(-instructions // len(VRD_GENERATORS))
    started = time.perf_counter()
    summary = stages.generate_multi(spark, settings, Params(k=k, count=per_generator, seed=0), VRD_GENERATORS)
    seconds = time.perf_counter() - started
    written = int(summary["multi.written"])
    return {
        "requested": per_generator * len(VRD_GENERATORS),
        "written": written,
        "images": images,
        "k": k,
        "seconds": round(seconds, 1),
        "per_second": round(written / seconds),
        "failed": int(summary["multi.failed"]),
        "shortfall": int(summary["multi.shortfall"]),
        "x_reference": round(written / seconds / REFERENCE_PER_SECOND, 1),
        "phases_s": {p: round(summary[f"multi.seconds.{p}"], 1) for p in ("inputs", "produce", "write")},
        "scenes_mb": round(summary["multi.scenes.bytes"] / 2**20),
        "scenes_broadcast": bool(summary["multi.scenes.broadcast"]),
        "jvm_peak_rss_mb": round(jvm_peak_rss_mb()),
        "driver_memory": settings.driver_memory,
        "python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cores": os.cpu_count(),
        "master": settings.master,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument(
        "--images-per-instruction",
        type=float,
        default=1.0,
        help="corpus size as a multiple of the output size (replicas = N * this / 4000)",
    )
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--lakehouse", type=Path, default=None)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--replicas", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.replicas, args.k, args.lakehouse)))
        return
    results = []
    for n in [int(x) for x in args.instructions.split(",")]:
        replicas = max(1, round(n * args.images_per_instruction / 4000))
        lakehouse = args.lakehouse or Path(tempfile.mkdtemp(prefix="bench-multi-"))
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(n),
                "--replicas",
                str(replicas),
                "--k",
                str(args.k),
                "--lakehouse",
                str(lakehouse / f"n{n}"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    print(f"{'requested':>10} {'written':>9} {'images':>9} {'seconds':>8} {'per s':>7} {'x ref':>6} {'JVM MB':>7}")
    for r in results:
        print(
            f"{r['requested']:>10} {r['written']:>9} {r['images']:>9} {r['seconds']:>8} {r['per_second']:>7} "
            f"{r['x_reference']:>6} {r['jvm_peak_rss_mb']:>7}"
        )


if __name__ == "__main__":
    main()
