"""Stable hashes, seeds, instruction ids and split names: the same in every process, run and
partitioning, so a seed always gives the same rows."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def stable_hash(*parts: object, bits: int = 63) -> int:
    """A non-negative integer hash of ``parts`` that is the same in every process and run."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)


def derive_seed(seed: int, generator: str, image_ids: Sequence[str]) -> int:
    """The seed for one generator on one image (tuple): independent of partitioning and order of work."""
    return stable_hash(seed, generator, *image_ids)


def instruction_id(generator: str, image_ids: Sequence[str], seed: int, key: str) -> str:
    """Stable id of an item: sha256 of (generator, image ids, seed, item key), 32 hex digits."""
    text = "\x1f".join([generator, "\x1e".join(image_ids), str(seed), key])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def split_for(source: str, kind: str) -> str:
    """VG-S / VG-M for human scene graphs, DC-S / DC-M for model-made ones."""
    return ("VG-" if source == "human" else "DC-") + ("S" if kind == "single" else "M")
