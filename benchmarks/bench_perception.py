"""Perception overhead: the Spark UDF pipeline vs a bare Python loop over the same models and images.

For each stage, the same work rows (the images, with their objects for the later stages; read from
the tables once and checkpointed, untimed) are processed twice: by a plain loop in this process
(load the model once, decode each image, call the stage's ``infer`` in batches of the configured
size) and by the stage's ``mapInArrow`` UDF on a local SparkSession (spread over tasks, run, result
checkpointed; model loading in the workers included). The ratio of the two is the Spark overhead.
Then the stage runs for real (``perceive``: reading its input from the tables, the UDF, the Delta
MERGEs, MLflow), so the next stage has its input; that time is printed beside. Both sides use all
the machine's cores: the loop through torch's threads, Spark through one task per core with one
torch thread each.

    python benchmarks/bench_perception.py [--copies 8] [--cores 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
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


def bare_loop(worker, rows: list[dict], max_pixels: int) -> float:
    """Seconds for: load the model, then decode each image and infer, batch by batch."""
    from provision_spark.perception.images import load_rgb

    started = time.perf_counter()
    model = worker.load("cpu")
    for start in range(0, len(rows), worker.batch_size):
        batch = rows[start:start + worker.batch_size]
        worker.infer(model, [(row, load_rgb(row["uri"], max_pixels)) for row in batch])
    return time.perf_counter() - started


def warm_up_workers(spark, cores: int) -> None:
    """Start the Python workers and import the libraries once, as on a long-running cluster."""

    def imports(batches):
        import sam2.build_sam  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import ultralytics  # noqa: F401

        yield from batches

    spark.range(cores * 4).repartition(cores).mapInArrow(imports, "id long").count()


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

    from provision_spark.config import Settings
    from provision_spark.perception import STAGES
    from provision_spark.perception.ingest import ingest_images
    from provision_spark.perception.pipeline import perceive, resolve, run_udf, work_for, worker_for
    from provision_spark.perception.tiny import build_tiny_models
    from provision_spark.session import get_spark

    root = Path(tempfile.mkdtemp(prefix="bench-perception-"))
    try:
        settings = Settings(lakehouse=root / "lakehouse", master=f"local[{args.cores}]",
                            shuffle_partitions=args.cores, schema="bench")
        spark = get_spark(settings)
        config = realistic(build_tiny_models(root / "models"), args.cores)
        folder = image_folder(root, args.copies)
        n_images = ingest_images(spark, settings, str(folder))["images.written"]
        torch.set_num_threads(args.cores)
        warm_up_workers(spark, args.cores)
        tracking = settings.resolved_tracking_uri
        detector = resolve(config, "detect", tracking)
        segmenter = resolve(config, "segment", tracking)
        print(f"{n_images} images, {args.cores} cores, tiny models on CPU")
        print(f"{'stage':<11} {'loop s':>8} {'udf s':>8} {'udf/loop':>9} {'stage s':>8}  (stage s: query + UDF + MERGEs + MLflow)")
        total_loop = total_udf = 0.0
        for stage in STAGES:
            model = resolve(config, stage, tracking)
            work = work_for(spark, settings, stage, None, detector, segmenter)[0].localCheckpoint(eager=True)
            rows = [row.asDict(recursive=True) for row in work.orderBy("image_id").collect()]
            loop = bare_loop(worker_for(model, tracking), rows, config.max_image_pixels)
            started = time.perf_counter()
            run_udf(work, model, config, tracking, config.num_partitions).localCheckpoint(eager=True)
            udf = time.perf_counter() - started
            started = time.perf_counter()
            perceive(spark, settings, config, [stage])
            whole = time.perf_counter() - started
            total_loop, total_udf = total_loop + loop, total_udf + udf
            print(f"{stage:<11} {loop:8.2f} {udf:8.2f} {udf / loop:9.2f} {whole:8.2f}")
        print(f"{'all':<11} {total_loop:8.2f} {total_udf:8.2f} {total_udf / total_loop:9.2f}")
        print(f"Spark UDF overhead: {100 * (total_udf / total_loop - 1):+.1f}% (aim: <= 15%)")
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
