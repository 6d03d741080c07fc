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
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provision_spark import tables, tracking  # noqa: E402
from provision_spark.config import Settings  # noqa: E402
from provision_spark.session import get_spark  # noqa: E402

VRD = ROOT.parent / "shared" / "corpora" / "vrd_train_vg"
OFFSET = 10_000_000


def vrd_rows(folder: Path) -> list[dict]:
    """The 4,000 VRD images as ``scene_graphs`` rows (objects with outgoing relations)."""
    images = {d["image_id"]: d for d in json.loads((folder / "image_data.json").read_text())}
    relations: dict[tuple[int, int], list[dict]] = {}
    for record in json.loads((folder / "relationships.json").read_text()):
        for r in record.get("relationships", []):
            key = (record["image_id"], r["subject"]["object_id"])
            relations.setdefault(key, []).append(
                {"predicate": r["predicate"].strip().lower(), "object_id": str(r["object"]["object_id"])}
            )
    rows = []
    for record in json.loads((folder / "objects.json").read_text()):
        image_id = record["image_id"]
        meta = images.get(image_id, {})
        objects = []
        for o in record["objects"]:
            name = (o.get("names") or [o.get("name")])[0].strip().lower()
            rels = {(r["predicate"], r["object_id"]) for r in relations.get((image_id, o["object_id"]), [])}
            objects.append({
                "object_id": str(o["object_id"]), "name": name,
                "box": {"x1": float(o["x"]), "y1": float(o["y"]), "x2": float(o["x"] + o["w"]), "y2": float(o["y"] + o["h"])},
                "score": None, "attributes": [],
                "relations": [{"predicate": p, "object_id": t} for p, t in sorted(rels)],
                "depth": None, "mask": None,
            })
        if not objects:
            continue
        objects.sort(key=lambda x: x["object_id"])
        rows.append({
            "image_id": str(image_id), "dataset": "vrd", "source": "human", "uri": meta.get("url"),
            "width": meta.get("width"), "height": meta.get("height"),
            "size_known": bool(meta.get("width") and meta.get("height")),
            "objects": objects, "depth_map": None, "n_objects": len(objects), "n_attributes": 0,
            "n_relations": sum(len(x["relations"]) for x in objects),
        })
    return rows


class PeakMemory:
    """Peak RSS of this process and all its descendants, and the CPU seconds they used, sampled in a
    thread (CPU seconds make figures comparable on a machine shared with other work)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
                t = p.cpu_times()
                self._cpu_last[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        return total

    @property
    def cpu_seconds(self) -> float:
        return sum(v - self._cpu_start.get(pid, 0.0) for pid, v in self._cpu_last.items())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self.peak = self._sample()
        self._cpu_start = dict(self._cpu_last)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def prepare(spark, settings: Settings, base, size: int, n_base: int) -> str:
    """Write ``size`` replicated scene graphs into a Delta table; returns its name."""
    from pyspark.sql import functions as F

    copies = -(-size // n_base)
    name = f"{settings.namespace}.bench_scene_graphs_{size}"
    replicated = (
        base.crossJoin(spark.range(copies).withColumnRenamed("id", "copy"))
        .withColumn("image_id", F.concat(F.lit("vrd/"), (F.col("image_id").cast("long") + F.col("copy") * OFFSET).cast("string")))
        .drop("copy")
        .orderBy("image_id")
        .limit(size)
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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    from provision_spark.generators.engine import generate_single

    lakehouse = Path(args.lakehouse) if args.lakehouse else Path(tempfile.mkdtemp(prefix="bench-gen-"))
    settings = Settings(lakehouse=lakehouse, schema="bench", master=args.master, shuffle_partitions=8,
                        driver_memory=args.driver_memory)
    spark = get_spark(settings)
    tracking.configure(settings)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {settings.namespace}")
    rows = vrd_rows(VRD)
    base = spark.createDataFrame(rows, tables.schema_of("scene_graphs"))
    print(f"VRD: {len(rows)} images with objects, replicated with image id offsets of {OFFSET:,}; "
          f"master={args.master}, per_image={args.per_image}", flush=True)
    print(f"{'images':>10} {'instructions':>13} {'seconds':>9} {'instr/s':>9} {'s/1k img':>9} {'peak RSS':>10} "
          f"{'CPU s':>8} {'instr/CPU s':>11}  phases (frequencies / generate+check / merge, s)", flush=True)
    results = []
    for size in sizes:
        table = prepare(spark, settings, base, size, len(rows))
        spark.sql(f"DROP TABLE IF EXISTS {settings.namespace}.instructions")
        spark.sql(f"DROP TABLE IF EXISTS {settings.namespace}.quarantine")
        tables.ensure_tables(spark, settings, ["instructions", "quarantine"])
        with PeakMemory() as memory:
            start = time.perf_counter()
            with tracking.job_run(settings, "bench-generate-single", {"size": size}) as run:
                generate_single(spark, settings, run, seed=args.seed, per_image=args.per_image,
                                scene_graphs=spark.table(table))
                summary = dict(run.summary)
            seconds = time.perf_counter() - start
        n = int(summary.get("instructions.written", 0))
        dropped = int(summary.get("instructions.quarantined", 0))
        phases = [summary.get(f"instructions.seconds.{k}", 0.0) for k in ("frequencies", "generate_and_check", "merge")]
        cpu = memory.cpu_seconds
        result = {"images": size, "instructions": n, "dropped_by_checker": dropped, "seconds": round(seconds, 1),
                  "instructions_per_s": round(n / seconds, 1), "s_per_1k_images": round(1000 * seconds / size, 2),
                  "peak_rss_gb": round(memory.peak / 2**30, 2), "cpu_seconds": round(cpu, 1),
                  "instructions_per_cpu_s": round(n / max(cpu, 1e-9), 1), "load_avg_1m": os.getloadavg()[0],
                  "phases_s": [round(p, 1) for p in phases]}
        results.append(result)
        print(f"{size:>10,} {n:>13,} {seconds:>9.1f} {n / seconds:>9.0f} {1000 * seconds / size:>9.2f} "
              f"{memory.peak / 2**30:>8.2f}GB {cpu:>8.0f} {n / max(cpu, 1e-9):>11.0f}  "
              f"{' / '.join(f'{p:.0f}' for p in phases)}   (checker dropped {dropped}; load {os.getloadavg()[0]:.1f})",
              flush=True)
        spark.sql(f"DROP TABLE IF EXISTS {table}")
    print(json.dumps(results))
    spark.stop()
    if not args.lakehouse:
        shutil.rmtree(lakehouse, ignore_errors=True)


if __name__ == "__main__":
    main()
