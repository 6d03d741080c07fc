"""Attributes and relations: a vision-language model through ``transformers``
(``AutoModelForImageTextToText``: LLaVA and its kin), asked in its own chat template.

Attributes: one question per object crop naming its label; the answer is normalised to the
attribute vocabulary. Relations: one question per ordered pair of the image's top objects, with the
subject boxed in red and the object in blue; the answer is grounded to the relation vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from provision_spark.perception.config import AttributesConfig, RelationsConfig
from provision_spark.perception.grounding import (
    Grounder,
    attribute_matcher,
    attribute_vocabulary,
    normalise_attributes,
    predicate_phrase,
    relation_vocabulary,
)
from provision_spark.perception.weights import local_path

ATTRIBUTES_DDL = (
    "image_id string, dataset string, reason string, "
    "attributes array<struct<object_id:string,attribute:string,score:double>>"
)
RELATIONS_DDL = (
    "image_id string, dataset string, reason string, ungrounded int, "
    "relations array<struct<subject_id:string,object_id:string,predicate:string,raw_predicate:string,score:double>>"
)


@functools.cache
def load_vlm(path: str, device: str) -> tuple[Any, Any]:
    """(processor, model), shared by the attribute and relation stages of one worker."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(path)
    processor.tokenizer.padding_side = "left"  # batched generation with a decoder-only LM
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype).to(device).eval()
    return processor, model


def ask(
    processor: Any, model: Any, images: list[Any], questions: list[str], max_new_tokens: int
) -> list[tuple[str, float]]:
    """Greedy answers with their confidence (mean probability of the answer's tokens)."""
    import torch

    prompts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            add_generation_prompt=True,
        )
        for question in questions
    ]
    inputs = processor(images=images, text=prompts, return_tensors="pt", padding=True).to(model.device)
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    with torch.inference_mode():
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, return_dict_in_generate=True, output_scores=True
        )
        log_probs = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    answer_tokens = out.sequences[:, inputs["input_ids"].shape[1] :]
    texts = processor.batch_decode(answer_tokens, skip_special_tokens=True)
    pad = processor.tokenizer.pad_token_id
    valid = answer_tokens != pad if pad is not None else torch.ones_like(answer_tokens, dtype=torch.bool)
    probabilities = torch.where(valid, log_probs.float().exp(), torch.zeros_like(log_probs, dtype=torch.float))
    confidence = (probabilities.sum(1) / valid.sum(1).clamp(min=1)).tolist()
    return [(text.strip(), float(c)) for text, c in zip(texts, confidence)]


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, max(1, size))):
        yield batch


def crop(image: Any, box: dict, padding: float) -> Any:
    """The box widened by ``padding`` of its size on each side, inside the image."""
    pad_x, pad_y = (box["x2"] - box["x1"]) * padding, (box["y2"] - box["y1"]) * padding
    left, top = max(0, int(box["x1"] - pad_x)), max(0, int(box["y1"] - pad_y))
    right = min(image.width, max(left + 1, int(round(box["x2"] + pad_x))))
    bottom = min(image.height, max(top + 1, int(round(box["y2"] + pad_y))))
    return image.crop((left, top, right, bottom))


def mark_pair(image: Any, subject: dict, obj: dict) -> Any:
    """A copy of the image with the subject's box in red and the object's box in blue."""
    from PIL import ImageDraw

    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    width = max(2, round(min(image.size) / 150))
    for item, colour in ((subject, (255, 0, 0)), (obj, (0, 0, 255))):
        box = item["box"]
        draw.rectangle((box["x1"], box["y1"], box["x2"], box["y2"]), outline=colour, width=width)
    return marked


def label_text(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip()


@dataclasses.dataclass(frozen=True)
class AttributesWorker:
    config: AttributesConfig
    tracking_uri: str | None
    stage: str = "attributes"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def load(self, device: str) -> Any:
        processor, model = load_vlm(str(local_path(self.config.weights, self.tracking_uri)), device)
        return processor, model, attribute_matcher(attribute_vocabulary(self.config.vocabulary))

    def infer(self, loaded: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]:
        processor, model, matcher = loaded
        config = self.config
        queries = [
            (
                index,
                obj["object_id"],
                crop(image, obj["box"], config.crop_padding),
                config.prompt.format(label=label_text(obj["name"])),
            )
            for index, (row, image) in enumerate(items)
            for obj in sorted(row["objects"], key=lambda o: o["object_id"])
        ]
        found: list[list[dict]] = [[] for _ in items]
        for group in batched(queries, config.prompts_per_call):
            answers = ask(processor, model, [q[2] for q in group], [q[3] for q in group], config.max_new_tokens)
            for (index, object_id, _, _), (text, confidence) in zip(group, answers):
                found[index].extend(
                    {"object_id": object_id, "attribute": attribute, "score": confidence}
                    for attribute in normalise_attributes(text, matcher)
                )
        return [{"attributes": attributes} for attributes in found]


@dataclasses.dataclass(frozen=True)
class RelationsWorker:
    config: RelationsConfig
    tracking_uri: str | None
    stage: str = "relations"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def load(self, device: str) -> Any:
        processor, model = load_vlm(str(local_path(self.config.weights, self.tracking_uri)), device)
        grounder = Grounder(
            str(local_path(self.config.grounding_model, self.tracking_uri)),
            relation_vocabulary(self.config.vocabulary),
            self.config.threshold,
            device,
        )
        return processor, model, grounder

    def pairs(self, objects: list[dict]) -> list[tuple[dict, dict]]:
        """Ordered pairs of the ``max_objects`` best-scored objects (ties by id)."""
        top = sorted(objects, key=lambda o: (-(o["score"] or 0.0), o["object_id"]))[: self.config.max_objects]
        return [(a, b) for a, b in itertools.permutations(top, 2)]

    def infer(self, loaded: Any, items: Sequence[tuple[dict, Any]]) -> list[dict]:
        processor, model, grounder = loaded
        config = self.config
        queries = [
            (index, image, subject, obj)
            for index, (row, image) in enumerate(items)
            for subject, obj in self.pairs(row["objects"])
        ]
        relations: list[list[dict]] = [[] for _ in items]
        ungrounded = [0] * len(items)
        for group in batched(queries, config.prompts_per_call):
            questions = [
                config.prompt.format(subject=label_text(s["name"]), object=label_text(o["name"]))
                for _, _, s, o in group
            ]
            answers = ask(
                processor, model, [mark_pair(image, s, o) for _, image, s, o in group], questions, config.max_new_tokens
            )
            phrases = [predicate_phrase(text, s["name"], o["name"]) for (_, _, s, o), (text, _) in zip(group, answers)]
            for (index, _, subject, obj), phrase, (predicate, similarity) in zip(
                group, phrases, grounder.ground(phrases)
            ):
                if predicate is None:
                    ungrounded[index] += 1
                    continue
                relations[index].append(
                    {
                        "subject_id": subject["object_id"],
                        "object_id": obj["object_id"],
                        "predicate": predicate,
                        "raw_predicate": phrase,
                        "score": similarity,
                    }
                )
        return [{"relations": found, "ungrounded": missed} for found, missed in zip(relations, ungrounded)]
