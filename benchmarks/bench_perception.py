"""Perception overhead: the Spark UDF pipeline vs a bare Python loop over the same models and images.

For each stage, the same work rows (the images, with their objects for the later stages; read from
the tables once and checkpointed, untimed) are processed by a bare loop (load the model, decode each
image, call the stage's ``infer`` in batches of the configured size) and by the stage's
``mapInArrow`` UDF on a local SparkSession (``run_udf``: count the rows, split them into tasks by
image size, run, checkpoint the result; model loading in the workers included). The loop runs twice, on all the
machine's cores either way: in this process with as many torch threads (``threads s``), and split
over as many one-thread processes, each loading the model, the batches dealt round-robin (``procs
s``: what Spark does, without Spark). The UDF's time over the faster loop is the Spark overhead.

Beside it, two costs that do not grow with the images: ``load s``, the threaded loop's model load
(each worker pays about as much, in parallel), and ``floor s``, the same Spark job with a function
that does nothing (scheduling, the shuffle, a Python worker round trip per task). Then the stage runs
for real (``perceive``: reading its input from the tables, the UDF, the Delta MERGEs, MLflow), so the
next stage has its input; that time is printed beside.

Every process starts with the stages' libraries imported and nothing else: the tiny models are built
in a child process, the libraries are imported here, in the loop's processes and, in a warm-up job,
in the Spark workers (as on a long-running cluster); the import time is printed once.

    python benchmarks/bench_perception.py [--copies 8] [--cores 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

REPO = Path(__file__).resolve().parents[1]
BASEBALL = REPO.parent / "shared" / "fixtures" / "provision_baseball" / "images"


def sample_images() -> list[Path]:
    import ultralytics

    assets = Path(ultralytics.__file__).resolve().parent / "assets"
    return sorted(BASEBALL.glob("*.png")) + sorted(assets.glob("*.jpg"))


def image_folder(root: Path, copies: int) -> Path:
    folder = root / "bench"
    folder.mkdir(parents=True)
    for copy in range(copies):
        for path in sample_images():
            shutil.copy(path, folder / f"{path.stem}-{copy}{path.suffix}")
    return folder


def bare_loop(worker, rows: list[dict], max_pixels: int) -> tuple[float, float]:
    """(seconds in all, seconds of it loading the model): load the model, then decode each image and
    infer, batch by batch."""
    from provision_spark.perception.images import load_rgb

    started = time.perf_counter()
    model = worker.load("cpu")
    loaded = time.perf_counter()
    for start in range(0, len(rows), worker.batch_size):
        batch = rows[start : start + worker.batch_size]
        worker.infer(model, [(row, load_rgb(row["uri"], max_pixels)) for row in batch])
    return time.perf_counter() - started, loaded - started


def loop_share(worker, batches: list[list[dict]], max_pixels: int) -> None:
    """One process's share of the parallel loop: load the model, then decode and infer its batches."""
    from provision_spark.perception.images import load_rgb

    model = worker.load("cpu")
    for batch in batches:
        worker.infer(model, [(row, load_rgb(row["uri"], max_pixels)) for row in batch])


def parallel_loop(pool, cores: int, worker, rows: list[dict], max_pixels: int) -> float:
    """Seconds for the bare loop over ``cores`` one-thread processes, its batches dealt round-robin."""
    batches = [rows[start : start + worker.batch_size] for start in range(0, len(rows), worker.batch_size)]
    started = time.perf_counter()
    list(pool.map(loop_share, [worker] * cores, [batches[i::cores] for i in range(cores)], [max_pixels] * cores))
    return time.perf_counter() - started


def one_thread_process() -> None:
    """A loop process set up as a Spark worker is: one torch thread, the libraries imported."""
    import torch

    torch.set_num_threads(1)
    import_libraries()


def process_pool(cores: int) -> ProcessPoolExecutor:
    """``cores`` processes, started and set up before any timing; spawned, since forking a process
    whose torch has run threads can hang."""
    pool = ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn"), initializer=one_thread_process)
    list(pool.map(time.sleep, [1.0] * cores))
    return pool


def import_libraries() -> float:
    """Seconds to import what the stages use (paid once per Python process, outside the timings)."""
    started = time.perf_counter()
    import pycocotools.mask  # noqa: F401
    import sam2.build_sam  # noqa: F401
    import sam2.sam2_image_predictor  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import (  # noqa: F401
        AutoModelForImageTextToText,
        CLIPTextModelWithProjection,
        DepthAnythingForDepthEstimation,  # noqa: F401
    )
    from ultralytics import YOLOWorld  # noqa: F401

    return time.perf_counter() - started


def warm_up_workers(spark, cores: int) -> None:
    """Start the Python workers and import the libraries there once, as on a long-running cluster."""

    def imports(batches):
        import_libraries()
        yield from batches

    spark.range(cores * 4).repartition(cores).mapInArrow(imports, "id long").count()


def build_models(folder: Path) -> None:
    """Build the tiny models in a child process, so that this one holds no more imports than the workers."""
    code = "import sys; from provision_spark.perception.tiny import build_tiny_models; build_tiny_models(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, cwd=REPO)


def spark_floor(work, batch_size: int, partitions: int) -> float:
    """Seconds for ``run_udf``'s Spark job with a function that only passes the image ids through."""
    from provision_spark.perception.pipeline import SIZE_ORDER, task_count

    def ids(batches):
        for batch in batches:
            yield batch.select(["image_id"])

    started = time.perf_counter()
    tasks = task_count(work.count(), batch_size, partitions)
    ordered = work.repartitionByRange(tasks, *SIZE_ORDER).sortWithinPartitions(*SIZE_ORDER)
    ordered.mapInArrow(ids, "image_id string").localCheckpoint(eager=True)
    return time.perf_counter() - started


def realistic(config, cores: int):
    """The tiny models with a real run's per-image work: full-size detector input, a dozen objects,
    longer answers; a few tasks per core so that Spark can balance them."""
    return dataclasses.replace(
        config,
        detect=dataclasses.replace(config.detect, image_size=640, max_detections=12),
        attributes=dataclasses.replace(config.attributes, max_new_tokens=16),
        relations=dataclasses.replace(config.relations, max_objects=4),
        num_partitions=4 * cores,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="copies of each of the 4 sample images")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    import torch

    from provision_spark.lakehouse.config import Settings
    from provision_spark.lakehouse.session import get_spark
    from provision_spark.perception.ingest import ingest_images
    from provision_spark.perception.pipeline import perceive, resolve, run_udf, work_for, worker_for
    from provision_spark.perception.stages import STAGES
    from provision_spark.perception.tiny import tiny_config

    root = Path(tempfile.mkdtemp(prefix="bench-perception-"))
    try:
        settings = Settings(
            lakehouse=root / "lakehouse", master=f"local[{args.cores}]", shuffle_partitions=args.cores, schema="bench"
        )
        build_models(root / "models")
        spark = get_spark(settings)
        config = realistic(tiny_config(root / "models"), args.cores)
        folder = image_folder(root, args.copies)
        n_images = ingest_images(spark, settings, str(folder))["images.written"]
        torch.set_num_threads(args.cores)
        imports = import_libraries()
        warm_up_workers(spark, args.cores)
        pool = process_pool(args.cores)
        tracking = settings.resolved_tracking_uri
        detector = resolve(config, "detect", tracking)
        segmenter = resolve(config, "segment", tracking)
        print(
            f"{n_images} images, {args.cores} cores, tiny models on CPU; libraries import in {imports:.1f} s "
            f"per process (untimed); load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{'stage':<11} {'threads s':>9} {'procs s':>8} {'udf s':>7} {'udf/loop':>9} {'load s':>7} "
            f"{'floor s':>8} {'stage s':>8}  (udf/loop: over the faster loop; load: the threaded loop's model load; floor: the "
            "UDF job doing nothing; stage: query + UDF + MERGEs + MLflow)"
        )
        totals = dict.fromkeys(("threads", "procs", "loop", "udf", "load", "floor"), 0.0)
        for stage in STAGES:
            model = resolve(config, stage, tracking)
            worker = worker_for(model, tracking)
            work = work_for(spark, settings, stage, None, detector, segmenter)[0].localCheckpoint(eager=True)
            rows = [row.asDict(recursive=True) for row in work.orderBy("image_id").collect()]
            threads, load = bare_loop(worker, rows, config.max_image_pixels)
            procs = parallel_loop(pool, args.cores, worker, rows, config.max_image_pixels)
            started = time.perf_counter()
            run_udf(work, model, config, tracking, config.num_partitions).localCheckpoint(eager=True)
            udf = time.perf_counter() - started
            floor = spark_floor(work, worker.batch_size, config.num_partitions)
            started = time.perf_counter()
            perceive(spark, settings, config, [stage])
            whole = time.perf_counter() - started
            loop = min(threads, procs)
            for key, value in (
                ("threads", threads),
                ("procs", procs),
                ("loop", loop),
                ("udf", udf),
                ("load", load),
                ("floor", floor),
            ):
                totals[key] += value
            print(
                f"{stage:<11} {threads:9.2f} {procs:8.2f} {udf:7.2f} {udf / loop:9.2f} {load:7.2f} {floor:8.2f} "
                f"{whole:8.2f}"
            )
        print(
            f"{'all':<11} {totals['threads']:9.2f} {totals['procs']:8.2f} {totals['udf']:7.2f} "
            f"{totals['udf'] / totals['loop']:9.2f} {totals['load']:7.2f} {totals['floor']:8.2f}"
        )
        print(
            f"Spark UDF overhead: {100 * (totals['udf'] / totals['loop'] - 1):+.1f}% over the faster loop of each "
            f"stage (aim: <= 15%); load average {os.getloadavg()[0]:.2f}"
        )
        pool.shutdown()
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
