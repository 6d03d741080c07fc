"""Shared benchmark plumbing: corpus replication with offset ids, and peak-memory sampling."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import psutil

VRD = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "vrd_train_vg"
ID_OFFSET = 1_000_000


def replicate_vrd(target: Path, copies: int, files: tuple[str, ...] = ("image_data", "objects", "relationships")) -> Path:
    """``copies`` shards of the VRD corpus, image ids offset by ``ID_OFFSET`` per copy.

    Each copy is written as its own folder of VG files (a shard), as a real 100k-image drop would
    arrive in several files; the reader is pointed at the shards with a glob.
    """
    target.mkdir(parents=True, exist_ok=True)
    source = {name: json.loads((VRD / f"{name}.json").read_text()) for name in files}
    for copy in range(copies):
        shard = target / f"shard_{copy:04d}"
        if (shard / "done").exists():
            continue
        shard.mkdir(exist_ok=True)
        offset = copy * ID_OFFSET
        for name, records in source.items():
            shifted = [{**r, "image_id": r["image_id"] + offset} for r in records]
            (shard / f"{name}.json").write_text(json.dumps(shifted))
        (shard / "done").touch()
    return target


class PeakMemory:
    """Peak resident memory of this process and its children (the Spark JVM, Python workers)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20
