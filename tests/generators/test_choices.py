"""Multiple choice: uniform answer positions, several label styles, labels consistent with the index."""

from __future__ import annotations

import random
from collections import Counter

from provision_spark.generators.choices import STYLES, build_mc, place


def test_answer_position_is_uniform():
    rng = random.Random(7)
    positions = Counter(place("right", ["w1", "w2", "w3"], rng)[1] for _ in range(8000))
    assert set(positions) == {0, 1, 2, 3}
    for n in positions.values():
        assert abs(n - 2000) < 200  # ~4.5 sigma


def test_styles_and_labels():
    rng = random.Random(3)
    seen = set()
    for _ in range(300):
        mc = build_mc("which is it?", "bat", ["ball", "glove"], rng)
        assert mc.choices[mc.correct_index] == "bat"
        assert sorted(mc.choices) == ["ball", "bat", "glove"]
        assert mc.question.startswith("Which is it?")
        style = next(s for s in STYLES if s.name == mc.style)
        assert mc.label == style.label(mc.correct_index)
        assert style.shown(mc.correct_index) + " bat" in mc.question
        seen.add(mc.style)
    assert len(seen) == len(STYLES) >= 5


def test_same_rng_same_choices():
    a = build_mc("q?", "x", ["y", "z"], random.Random(11))
    b = build_mc("q?", "x", ["y", "z"], random.Random(11))
    assert a == b
