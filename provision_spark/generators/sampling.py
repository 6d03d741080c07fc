"""Seeded sampling that favours rare objects, attributes and relations (inverse corpus frequency).

The engine counts names, attributes and predicates over the whole corpus relationally (a group-by
in Spark) and ships the small count tables to every task as a :class:`Frequencies`; a generator
then asks its :class:`Sampler` for weighted picks with its own seeded ``rng``:

    >>> freqs = Frequencies(objects={"person": 5000, "giraffe": 30})
    >>> sampler = Sampler(freqs)
    >>> sampler.sample(rng, ["person", "giraffe"], k=1, weight=lambda n: sampler.object_weight(n))

Picks are weighted without replacement (Efraimidis-Spirakis keys ``u ** (1 / w)``), so the same
rng state and candidates give the same picks everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from provision_spark.generators.vocab import norm

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Frequencies:
    """Corpus counts: object name -> n, attribute -> n, predicate -> n (normalised keys)."""

    objects: Mapping[str, int] = dataclasses.field(default_factory=dict)
    attributes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    predicates: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def top(self, kind: str, n: int) -> list[str]:
        """The ``n`` most frequent keys of ``kind`` (objects/attributes/predicates), ties by name."""
        table = getattr(self, kind)
        return [k for k, _ in sorted(table.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


class Sampler:
    """Inverse-frequency weights plus seeded weighted sampling."""

    def __init__(self, frequencies: Frequencies | None = None, smoothing: float = 1.0) -> None:
        self.frequencies = frequencies or Frequencies()
        self.smoothing = smoothing
        # plausible wrong choices: the corpus's most frequent words of each kind
        self.common_objects = self.frequencies.top("objects", 300)
        self.common_attributes = self.frequencies.top("attributes", 300)
        self.common_predicates = self.frequencies.top("predicates", 150)

    def _weight(self, table: Mapping[str, int], key: str) -> float:
        return 1.0 / (table.get(norm(key), 0) + self.smoothing)

    def object_weight(self, name: str) -> float:
        return self._weight(self.frequencies.objects, name)

    def attribute_weight(self, attribute: str) -> float:
        return self._weight(self.frequencies.attributes, attribute)

    def predicate_weight(self, predicate: str) -> float:
        return self._weight(self.frequencies.predicates, predicate)

    @staticmethod
    def sample(
        rng: random.Random, candidates: Sequence[T], k: int, weight: Callable[[T], float] | None = None
    ) -> list[T]:
        """Up to ``k`` distinct candidates, weighted without replacement; order: highest key first."""
        if k <= 0 or not candidates:
            return []
        if weight is None:
            picks = list(candidates)
            rng.shuffle(picks)
            return picks[:k]
        keyed = []
        for index, candidate in enumerate(candidates):
            w = max(weight(candidate), 1e-12)
            u = rng.random() or 1e-300
            keyed.append((math.log(u) / w, index, candidate))
        keyed.sort(key=lambda t: (-t[0], t[1]))
        return [c for _, _, c in keyed[:k]]

    @staticmethod
    def shuffled(rng: random.Random, items: Sequence[T]) -> list[T]:
        out = list(items)
        rng.shuffle(out)
        return out
