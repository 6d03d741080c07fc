"""Detection: open-vocabulary YOLO-World through ``ultralytics``, with our object vocabulary.

YOLO-World scores image regions against CLIP ViT-B/32 text embeddings of the class names.
Ultralytics' own ``set_classes`` computes them with the ``clip`` package, which it pip-installs from
GitHub when missing, so it cannot run offline; we compute the same normalised ViT-B/32 text
features with ``transformers`` (``openai/clip-vit-base-patch32``, from a path or ``models:/``) and
install them on the model exactly as ``YOLOWorld.set_classes`` does, then detect through
ultralytics' own ``predict``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provision_spark.perception.config import DetectConfig
from provision_spark.perception.weights import local_path

RESULT_DDL = (
    "image_id string, dataset string, reason string, "
    "objects array<struct<idx:int,name:string,box:struct<x1:double,y1:double,x2:double,y2:double>,"
    "score:double,clipped:boolean>>"
)


def read_vocabulary(path: str) -> list[str]:
    """One class per line; blank lines and ``#`` comments skipped; order kept, duplicates dropped."""
    names = [line.split("#", 1)[0].strip().lower() for line in Path(path).read_text().splitlines()]
    return list(dict.fromkeys(name for name in names if name))


def ultralytics_env() -> None:
    """Ultralytics must not phone home or download assets, and needs a writable settings folder."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "provision-ultralytics"))


def clip_text_features(encoder_path: Path, names: list[str], device: str, batch: int = 256) -> Any:
    """L2-normalised CLIP text embeddings of ``names``, shape (1, len(names), dim): what
    ``WorldModel.get_text_pe`` returns."""
    import torch
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    encoder = CLIPTextModelWithProjection.from_pretrained(encoder_path).to(device).eval()
    features = []
    with torch.inference_mode():
        for start in range(0, len(names), batch):
            tokens = tokenizer(
                names[start : start + batch], padding=True, truncation=True, max_length=77, return_tensors="pt"
            ).to(device)
            embeds = encoder(**tokens).text_embeds.float()
            features.append(embeds / embeds.norm(p=2, dim=-1, keepdim=True))
    return torch.cat(features).reshape(1, len(names), -1)


@dataclasses.dataclass(frozen=True)
class DetectWorker:
    config: DetectConfig
    tracking_uri: str | None
    stage: str = "detect"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def load(self, device: str) -> Any:
        ultralytics_env()
        from ultralytics import YOLOWorld

        names = read_vocabulary(self.config.vocabulary)
        model = YOLOWorld(str(local_path(self.config.weights, self.tracking_uri)))
        model.to(device)
        features = clip_text_features(local_path(self.config.text_encoder, self.tracking_uri), names, device)
        # YOLOWorld.set_classes, with the features computed above instead of by the `clip` package:
        model.model.txt_feats = features
        model.model.model[-1].nc = len(names)
        model.model.names = names
        model.predictor = None
        return model

    def infer(self, model: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]:
        import numpy as np

        config = self.config
        frames = [np.ascontiguousarray(np.asarray(image)[:, :, ::-1]) for _, image in items]  # RGB -> BGR
        device = str(next(model.model.parameters()).device)
        results = model.predict(
            frames,
            imgsz=config.image_size,
            conf=config.score_threshold,
            iou=config.iou_threshold,
            max_det=config.max_detections,
            device=device,
            verbose=False,
        )
        return [{"objects": self._objects(result, image)} for result, (_, image) in zip(results, items)]

    def _objects(self, result: Any, image: Any) -> list[dict]:
        """Boxes above the size threshold, best score first; ``idx`` numbers them in that order."""
        boxes = result.boxes
        xyxy, scores, classes = boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist()
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], xyxy[i]))
        kept = []
        for i in order:
            raw = xyxy[i]
            x1, y1 = max(0.0, raw[0]), max(0.0, raw[1])
            x2, y2 = min(float(image.width), raw[2]), min(float(image.height), raw[3])
            if min(x2 - x1, y2 - y1) < self.config.min_box_size:
                continue
            kept.append(
                {
                    "idx": len(kept),
                    "name": result.names[int(classes[i])],
                    "box": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                    "score": float(scores[i]),
                    "clipped": (x1, y1, x2, y2) != tuple(raw),
                }
            )
        return kept
