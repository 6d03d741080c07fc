"""Ingestion throughput: the VRD corpus (4,000 images, VG layout) replicated with offset image ids.

Prints images/s and peak memory (driver JVM + Python) at the base size and at the target size, and
their ratios: cost per image should stay flat and memory should not grow with the corpus.
Usage: python benchmarks/bench_ingest.py [--copies 25]   (25 copies = 100,000 images)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import PeakMemory, replicate_vrd

from provision_spark import stages
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.session import get_spark


def run(spark, root: Path, copies: int, corpus: Path) -> tuple[int, float, float]:
    settings = Settings(lakehouse=root, schema=f"bench_ingest_{copies}")
    spark.sql(f"DROP SCHEMA IF EXISTS {settings.schema} CASCADE")
    with PeakMemory() as memory:
        start = time.perf_counter()
        summary = stages.ingest(spark, settings, "visual_genome", str(corpus / "shard_*"), dataset="vrd")
        elapsed = time.perf_counter() - start
    return summary["vrd.image.written"], elapsed, memory.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=25)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        spark = get_spark(Settings(lakehouse=work / "lakehouse", driver_memory="6g"))
        results = {}
        for copies in (1, args.copies):
            corpus = replicate_vrd(work / f"vrd_x{copies}", copies)
            results[copies] = run(spark, work / "lakehouse", copies, corpus)
            images, seconds, peak = results[copies]
            print(f"{images:>8} images  {seconds:7.1f} s  {images / seconds:8.0f} images/s  peak {peak:6.0f} MiB")
        (small_n, small_s, small_m), (big_n, big_s, big_m) = results[1], results[args.copies]
        print(
            f"cost per image at {big_n} vs {small_n} images: {(big_s / big_n) / (small_s / small_n):.2f}x; "
            f"peak memory ratio: {big_m / small_m:.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
