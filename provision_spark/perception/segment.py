"""Segmentation: SAM-2 through ``sam2``, prompted with each detected box; masks leave as COCO
compressed RLE (``pycocotools``), never as pickles or raw arrays."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from provision_spark.perception.config import SegmentConfig
from provision_spark.perception.weights import local_path

RESULT_DDL = (
    "image_id string, dataset string, reason string, "
    "masks array<struct<object_id:string,height:int,width:int,rle_counts:string,area:bigint,score:double>>"
)


def encode_masks(masks: Any) -> list[dict]:
    """(N, H, W) boolean masks -> COCO compressed RLE; pycocotools wants (H, W, N) in Fortran order."""
    import numpy as np
    from pycocotools import mask as mask_utils

    if len(masks) == 0:
        return []
    stacked = np.asfortranarray(np.transpose(np.asarray(masks, dtype=np.uint8), (1, 2, 0)))
    encoded = mask_utils.encode(stacked)
    areas = mask_utils.area(encoded)
    return [
        {"counts": rle["counts"].decode("ascii"), "size": rle["size"], "area": int(area)}
        for rle, area in zip(encoded, areas)
    ]


def decode_mask(counts: str, height: int, width: int) -> Any:
    """The boolean (H, W) mask of one compressed RLE string."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"counts": counts.encode("ascii"), "size": [height, width]}).astype(bool)


@dataclasses.dataclass(frozen=True)
class SegmentWorker:
    config: SegmentConfig
    tracking_uri: str | None
    stage: str = "segment"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def load(self, device: str) -> Any:
        from sam2.build_sam import build_sam2
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        model = build_sam2(
            self.config.config,
            str(local_path(self.config.weights, self.tracking_uri)),
            device=device,
            hydra_overrides_extra=list(self.config.overrides),
        )
        predictor = SAM2ImagePredictor(model)
        # The predictor assumes 1024-pixel inputs; derive the backbone's feature sizes from the model.
        side = model.image_size
        predictor._bb_feat_sizes = [(side // 4, side // 4), (side // 8, side // 8), (side // 16, side // 16)]
        return predictor

    def infer(self, predictor: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]:
        import numpy as np
        import torch

        out = []
        for row, image in items:
            objects = sorted(row["objects"], key=lambda o: o["object_id"])
            masks: list[dict] = []
            if objects:
                with torch.inference_mode():
                    predictor.set_image(np.array(image))
                    for start in range(0, len(objects), self.config.boxes_per_call):
                        group = objects[start : start + self.config.boxes_per_call]
                        boxes = np.array(
                            [[o["box"][k] for k in ("x1", "y1", "x2", "y2")] for o in group], dtype=np.float32
                        )
                        predicted, scores, _ = predictor.predict(box=boxes, multimask_output=False)
                        predicted = predicted.reshape(len(group), image.height, image.width) > 0
                        for obj, rle, score in zip(group, encode_masks(predicted), scores.reshape(-1)):
                            masks.append(
                                {
                                    "object_id": obj["object_id"],
                                    "height": image.height,
                                    "width": image.width,
                                    "rle_counts": rle["counts"],
                                    "area": rle["area"],
                                    "score": float(score),
                                }
                            )
                predictor.reset_predictor()
            out.append({"masks": masks})
        return out
