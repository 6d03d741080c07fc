"""Shared benchmark plumbing: corpus replication with offset ids, VRD as scene-graph rows, peak memory and CPU."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psutil

VRD = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "vrd_train_vg"
ID_OFFSET = 1_000_000


def replicate_vrd(
    target: Path, copies: int, files: tuple[str, ...] = ("image_data", "objects", "relationships")
) -> Path:
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
            objects.append(
                {
                    "object_id": str(o["object_id"]),
                    "name": name,
                    "box": {
                        "x1": float(o["x"]),
                        "y1": float(o["y"]),
                        "x2": float(o["x"] + o["w"]),
                        "y2": float(o["y"] + o["h"]),
                    },
                    "score": None,
                    "attributes": [],
                    "relations": [{"predicate": p, "object_id": t} for p, t in sorted(rels)],
                    "depth": None,
                    "mask": None,
                }
            )
        if not objects:
            continue
        objects.sort(key=lambda x: x["object_id"])
        rows.append(
            {
                "image_id": str(image_id),
                "dataset": "vrd",
                "source": "human",
                "uri": meta.get("url"),
                "width": meta.get("width"),
                "height": meta.get("height"),
                "size_known": bool(meta.get("width") and meta.get("height")),
                "objects": objects,
                "depth_map": None,
                "n_objects": len(objects),
                "n_attributes": 0,
                "n_relations": sum(len(x["relations"]) for x in objects),
            }
        )
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

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._cpu_start = dict(self._cpu_last)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20
