"""Turning a VLM's free text into our vocabularies.

Attributes: the vocabulary's words and phrases found in the answer (whole words, longest first).
Relations: the answer's predicate phrase, embedded with all-MiniLM-L6-v2 and matched to the
closest relation in the vocabulary (cosine similarity, top-1), kept only above a threshold.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_FILLER = frozenset({"the", "a", "an", "is", "are", "it", "its", "this", "that", "there", "be", "being"})


def attribute_vocabulary(path: str) -> list[str]:
    """The union of every type's attributes in ``{type: [attribute, ...]}``, sorted."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return sorted({str(value).strip().lower() for values in raw.values() for value in values or []})


def relation_vocabulary(path: str) -> list[str]:
    names = [line.split("#", 1)[0].strip().lower() for line in Path(path).read_text().splitlines()]
    return list(dict.fromkeys(name for name in names if name))


def attribute_matcher(vocabulary: list[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(v) for v in sorted(vocabulary, key=lambda v: (-len(v), v)))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def normalise_attributes(text: str, matcher: re.Pattern[str]) -> list[str]:
    """Vocabulary attributes in ``text``, in order of first mention."""
    return list(dict.fromkeys(match.group(0) for match in matcher.finditer(text.lower())))


def predicate_phrase(answer: str, subject: str, obj: str) -> str:
    """What the answer says between the two objects: "The man is riding the horse." -> "riding"."""
    first = re.split(r"[.\n;!?]", answer.strip().lower(), maxsplit=1)[0]
    names = set(subject.lower().split()) | set(obj.lower().split())
    words = [w for w in re.findall(r"[a-z]+(?:[-'][a-z]+)*", first) if w not in names and w not in _FILLER]
    return " ".join(words)


class Grounder:
    """Relation vocabulary embedded once; phrases matched to it in batches."""

    def __init__(self, model_path: str, vocabulary: list[str], threshold: float, device: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device=device)
        self.vocabulary = vocabulary
        self.threshold = threshold
        self.vocabulary_embeddings = self.model.encode(vocabulary, convert_to_tensor=True, normalize_embeddings=True)

    def ground(self, phrases: list[str]) -> list[tuple[str | None, float]]:
        """(relation, similarity) per phrase; relation is None below the threshold or for empty text."""
        if not phrases:
            return []
        embeddings = self.model.encode([p or " " for p in phrases], convert_to_tensor=True, normalize_embeddings=True)
        similarity: Any = embeddings @ self.vocabulary_embeddings.T
        best = similarity.max(dim=1)
        out = []
        for phrase, score, index in zip(phrases, best.values.tolist(), best.indices.tolist()):
            keep = bool(phrase) and score >= self.threshold
            out.append((self.vocabulary[index] if keep else None, float(score)))
        return out
