"""Depth: Depth Anything V2 through ``transformers`` (relative depth, larger = nearer).

Per object, statistics over its mask (or its box when it has no mask) -> ``object_depth``; per
image, a small uint8 map (min-max scaled, row-major) -> ``image_depth`` for point-depth questions.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from provision_spark.perception.config import DepthConfig
from provision_spark.perception.segment import decode_mask
from provision_spark.perception.weights import local_path

RESULT_DDL = (
    "image_id string, dataset string, reason string, map_height int, map_width int, depth_map binary, "
    "objects array<struct<object_id:string,depth_mean:double,depth_median:double,depth_min:double,"
    "depth_max:double,region:string>>"
)


def small_map(depth: Any, map_size: int) -> tuple[int, int, bytes]:
    """(height, width, uint8 bytes): the map shrunk so its longer side is ``map_size``, scaled 0..255."""
    import numpy as np
    import torch

    height, width = depth.shape
    scale = map_size / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    shrunk = torch.nn.functional.interpolate(depth[None, None], size=size, mode="area")[0, 0].cpu().numpy()
    low, high = float(shrunk.min()), float(shrunk.max())
    scaled = (shrunk - low) / (high - low) * 255.0 if high > low else np.zeros_like(shrunk)
    return size[0], size[1], np.round(scaled).astype(np.uint8).tobytes()


def region_stats(depth: Any, obj: dict) -> dict:
    """Depth statistics over the object's mask when it has a non-empty one, else over its box."""
    import numpy as np

    height, width = depth.shape
    values = None
    if obj.get("rle_counts"):
        mask = decode_mask(obj["rle_counts"], height, width)
        if mask.any():
            values, region = depth[mask], "mask"
    if values is None:
        box = obj["box"]
        x1, y1 = min(int(box["x1"]), width - 1), min(int(box["y1"]), height - 1)
        x2, y2 = max(int(np.ceil(box["x2"])), x1 + 1), max(int(np.ceil(box["y2"])), y1 + 1)
        values, region = depth[y1:y2, x1:x2].reshape(-1), "box"
    return {
        "object_id": obj["object_id"],
        "depth_mean": float(values.mean()),
        "depth_median": float(np.median(values)),
        "depth_min": float(values.min()),
        "depth_max": float(values.max()),
        "region": region,
    }


@dataclasses.dataclass(frozen=True)
class DepthWorker:
    config: DepthConfig
    tracking_uri: str | None
    stage: str = "depth"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def load(self, device: str) -> Any:
        from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

        path = local_path(self.config.weights, self.tracking_uri)
        model = DepthAnythingForDepthEstimation.from_pretrained(path).to(device).eval()
        return AutoImageProcessor.from_pretrained(path), model

    def infer(self, loaded: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]:
        import torch

        processor, model = loaded
        device = next(model.parameters()).device
        pixels = [processor(images=image, return_tensors="pt")["pixel_values"][0] for _, image in items]
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, tensor in enumerate(pixels):
            by_shape[tuple(tensor.shape)].append(index)  # images that resize alike share a forward pass
        predicted: dict[int, Any] = {}
        with torch.inference_mode():
            for indices in by_shape.values():
                batch = torch.stack([pixels[i] for i in indices]).to(device)
                for i, depth in zip(indices, model(pixel_values=batch).predicted_depth):
                    predicted[i] = depth
        out = []
        for index, (row, image) in enumerate(items):
            with torch.inference_mode():
                depth = torch.nn.functional.interpolate(
                    predicted[index][None, None].float(),
                    size=(image.height, image.width),
                    mode="bicubic",
                    align_corners=False,
                )[0, 0]
            map_height, map_width, depth_map = small_map(depth, self.config.map_size)
            full = depth.cpu().numpy()
            objects = [region_stats(full, obj) for obj in sorted(row["objects"] or [], key=lambda o: o["object_id"])]
            out.append({"map_height": map_height, "map_width": map_width, "depth_map": depth_map, "objects": objects})
        return out
