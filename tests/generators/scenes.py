"""Scene-graph rows built in plain Python from the shared fixtures, for fast tests without Spark.

``baseball_rows()`` mirrors what ingest + ``build_scene_graphs`` make of the reference sample:
object ids are the detection indices, masks are COCO RLE, depth is per-object median over the
mask, and the image depth map is box-downsampled (via ``provision_maps``' own helpers).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from provision_spark.generators.scene import Scene
from provision_spark.ingest.provision_maps import _downsample, _stats

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
BASEBALL = FIXTURES / "provision_baseball"


@cache
def baseball_rows() -> tuple[dict, ...]:
    det = json.loads((BASEBALL / "object-detection-annotations.json").read_text())
    attrs = json.loads((BASEBALL / "image-attributes-annotations.json").read_text())
    rels = json.loads((BASEBALL / "relation-annotations-parsed.json").read_text())
    rows = []
    for name in sorted(det):
        ann = det[name]["annotation"]
        depth = np.load(BASEBALL / "depth_masks" / f"{name}_depth.npy").astype(np.uint8)
        masks = np.load(BASEBALL / "seg_masks" / f"{name}_mask.npz")["masks"].astype(bool)
        objects = []
        for i, (label, box, score) in enumerate(zip(ann["labels"], ann["bboxes"], ann["det_scores"])):
            rle = mask_utils.encode(np.asfortranarray(masks[i].astype(np.uint8)))
            objects.append(
                {
                    "object_id": str(i),
                    "name": label,
                    "box": dict(zip(("x1", "y1", "x2", "y2"), map(float, box))),
                    "score": score,
                    "attributes": sorted(set(attrs[name]["annotation"]["attributes"][i])),
                    "relations": sorted(
                        [
                            {"predicate": p, "object_id": str(o)}
                            for s, p, o in rels[name]["annotation"]["relations"]
                            if s == i
                        ],
                        key=lambda r: (r["predicate"], r["object_id"]),
                    ),
                    "depth": {k: v for k, v in _stats(depth[masks[i]]).items()},
                    "mask": {
                        "height": int(masks.shape[1]),
                        "width": int(masks.shape[2]),
                        "rle_counts": rle["counts"].decode("ascii"),
                        "area": int(mask_utils.area(rle)),
                    },
                }
            )
        mh, mw, data = _downsample(depth)
        rows.append(
            {
                "image_id": f"provision_sample/{name}",
                "dataset": "provision_sample",
                "source": "human",
                "uri": None,
                "width": ann["width"],
                "height": ann["height"],
                "size_known": True,
                "objects": sorted(objects, key=lambda o: o["object_id"]),
                "depth_map": {"map_height": mh, "map_width": mw, "depth_map": data},
            }
        )
    return tuple(rows)


def baseball_scenes() -> dict[str, Scene]:
    return {r["image_id"].split("/")[-1]: Scene.from_row(r) for r in baseball_rows()}
