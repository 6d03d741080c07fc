"""What runs inside the Python workers: the per-worker model cache, the device Spark gave the task,
and the batch loop that turns a stage's ``infer`` into a ``mapInArrow`` function.

A model is loaded the first time a worker sees a batch for it and kept in ``_MODELS`` for every
later batch and task of that worker (Spark reuses Python workers). What PySpark does around every
task is kept cheap: the loaded heap is frozen out of the garbage collector's sight (``freeze_heap``)
and zip archives on ``sys.path`` are re-read only when they change (``rescan_zips_only_when_changed``).
Each result row is stamped with the worker it ran in, how many model loads that batch triggered and a
batch number, so the driver can log (and tests can check) loads per worker without accumulators,
which Spark Connect lacks.
"""

from __future__ import annotations

import gc
import os
import socket
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from provision_spark.perception.images import ImageRejected, load_rgb

_MODELS: dict[tuple[Any, str], Any] = {}
_CHUNKS = 0

#: Columns every stage's result carries besides its own; dropped before writing.
STAMP_FIELDS = "_worker string, _loads int, _chunk long"


class Worker(Protocol):
    """One stage's model: frozen (hashable, picklable) settings plus load and batch inference."""

    stage: str
    batch_size: int

    def load(self, device: str) -> Any: ...

    def infer(self, model: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]: ...


def task_device(preference: str) -> str:
    """The task's GPU when Spark scheduled one (``spark.task.resource.gpu.amount``), else CPU."""
    if preference != "auto":
        return preference
    from pyspark import TaskContext

    context = TaskContext.get()
    gpus = context.resources().get("gpu") if context is not None else None
    if gpus is not None and gpus.addresses:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{gpus.addresses[0]}"
    return "cpu"


def cached_model(worker: Worker, device: str) -> tuple[Any, int]:
    """(model, 1 if it was loaded by this call else 0); one load per worker process and device."""
    key = (worker, device)
    if key in _MODELS:
        return _MODELS[key], 0
    _MODELS[key] = worker.load(device)
    freeze_heap()
    return _MODELS[key], 1


def freeze_heap() -> None:
    """Keep PySpark's per-task ``gc.collect()`` cheap: the daemon runs a full collection after every
    task of a reused worker, which with torch, transformers and a model in memory walks over half a
    million long-lived objects (~0.3 s a task on one core). Frozen objects are still freed by
    reference counting; only cycles among them are never collected, and a loaded model lives as
    long as the worker anyway. No collection first: that would cost the same full pass once more,
    and a load leaves little cyclic garbage (a few thousand objects at most, measured)."""
    gc.freeze()


def rescan_zips_only_when_changed() -> None:
    """Make the ``importlib.invalidate_caches()`` that PySpark 4.1 runs before every task of a reused
    worker cheap. Where ``zipimport`` re-reads an archive's whole directory on every invalidation
    (CPython before the fix of gh-103200; Spark itself stops calling it needlessly in SPARK-54744),
    the pyspark.zip, py4j and 15 MB spark-core jar entries of the workers' ``sys.path`` cost each
    task ~50 ms of a core. An archive is re-read only when its size or modification time changed,
    the change the invalidation is there to catch. Once per worker process."""
    import zipimport

    rescan = zipimport.zipimporter.invalidate_caches
    if hasattr(zipimport.zipimporter, "_get_files") or getattr(rescan, "stamped", False):
        return  # a zipimport that invalidates lazily, or already wrapped
    stamps: dict[str, tuple[int, int]] = {}

    def invalidate_caches(importer: Any) -> None:
        try:
            info = os.stat(importer.archive)
        except OSError:
            stamps.pop(importer.archive, None)
            return rescan(importer)
        stamp = (info.st_mtime_ns, info.st_size)
        files = zipimport._zip_directory_cache.get(importer.archive)
        if files is not None and stamps.get(importer.archive) == stamp:
            importer._files = files
        else:
            rescan(importer)
            stamps[importer.archive] = stamp

    invalidate_caches.stamped = True  # type: ignore[attr-defined]
    zipimport.zipimporter.invalidate_caches = invalidate_caches


def _cpu_threads() -> None:
    """On CPU, use as many threads as the task has cores, so parallel tasks do not oversubscribe."""
    import torch
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None:
        torch.set_num_threads(max(1, context.cpus()))


def failure(stage: str, error: BaseException) -> str:
    if isinstance(error, ImageRejected):
        return str(error)
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" (at {os.path.basename(frame.filename)}:{frame.name})" if frame else ""
    return f"{stage} failed: {type(error).__name__}: {error}"[:480] + where


def infer_isolated(worker: Worker, model: Any, rows: list[dict], max_pixels: int) -> list[dict]:
    """Results for ``rows`` in order. Each image is decoded once; if the batch fails, each image is
    retried alone so that only the culprit gets a ``reason`` and the rest of the batch survives."""
    results: dict[int, dict] = {}
    ready: list[tuple[int, dict, Any]] = []
    for index, row in enumerate(rows):
        try:
            ready.append((index, row, load_rgb(row["uri"], max_pixels)))
        except Exception as error:  # noqa: BLE001 - any decode error quarantines this image only
            results[index] = {"reason": failure("decode", error)}
    if ready:
        try:
            outputs = worker.infer(model, [(row, image) for _, row, image in ready])
        except Exception as error:  # noqa: BLE001
            _release_gpu_memory()
            if len(ready) == 1:
                outputs = [{"reason": failure(worker.stage, error)}]
            else:
                outputs = [_infer_one(worker, model, row, image) for _, row, image in ready]
        results.update({index: out for (index, _, _), out in zip(ready, outputs)})
    return [{"image_id": row["image_id"], "dataset": row["dataset"], **results[i]} for i, row in enumerate(rows)]


def _infer_one(worker: Worker, model: Any, row: dict, image: Any) -> dict:
    try:
        return worker.infer(model, [(row, image)])[0]
    except Exception as error:  # noqa: BLE001
        _release_gpu_memory()
        return {"reason": failure(worker.stage, error)}


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _next_chunk() -> int:
    """A number for each batch this worker runs (module state: nested functions get copied globals)."""
    global _CHUNKS
    _CHUNKS += 1
    return _CHUNKS


def chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), max(1, size)):
        yield rows[start : start + size]


def map_function(worker: Worker, result_schema: Any, max_pixels: int, device: str) -> Callable:
    """The ``mapInArrow`` function of a stage: batches of work rows in, rows of ``result_schema``
    (the stage's result columns and ``STAMP_FIELDS``; a StructType parsed on the driver) out."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        rescan_zips_only_when_changed()
        schema = to_arrow_schema(result_schema)
        task_device_name = task_device(device)
        if task_device_name == "cpu":
            _cpu_threads()
        me = f"{socket.gethostname()}:{os.getpid()}"
        for batch in batches:
            for rows in chunks(batch.to_pylist(), worker.batch_size):
                model, loads = cached_model(worker, task_device_name)
                chunk = _next_chunk()
                out = infer_isolated(worker, model, rows, max_pixels)
                for position, row in enumerate(out):
                    row.update(_worker=me, _loads=loads if position == 0 else 0, _chunk=chunk)
                yield pa.RecordBatch.from_pylist(out, schema=schema)

    return run
