"""The canonical vocabulary layer: raw Visual Genome names and predicates as generators see them,
and a hand-made noisy scene (articles in predicates, lemmas, sentence-like names) that yields no
item with any of those defects."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from provision_spark.generators import language, registry
from provision_spark.generators.canonical import canonical_name, canonical_predicate, name_problem
from provision_spark.generators.sampling import Frequencies, Sampler
from provision_spark.generators.scene import Scene
from provision_spark.generators.single.engine import generate_for_scene


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("on a", "on"),
        ("have a", "have"),
        ("wear a", "wear"),
        ("of a", "of"),
        ("be on", "on"),
        ("are sitting on", "sitting on"),
        ("in the front of", "in front of"),
        ("rid", "ride"),
        ("ON", "on"),
        ("a", None),
        ("", None),
    ],
)
def test_predicates_lose_articles_and_auxiliaries(raw, canonical):
    assert canonical_predicate(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("pant", "pants"),
        ("jean", "jeans"),
        ("short", "shorts"),
        ("pants", "pants"),
        ("glasses", "glasses"),
        ("glass", "glass"),
        ("trees", "tree"),
        ("shoes", "shoe"),
        ("men", "man"),
        ("bus", "bus"),
        ("lens", "lens"),
        ("grass", "grass"),
        ("The  Blue-Jeans", "blue jeans"),
        ("traffic light", "traffic light"),
    ],
)
def test_names_are_cleaned_and_singular_with_plural_only_nouns_kept(raw, canonical):
    assert canonical_name(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["see tail light.", "window in edifice.", "desk is grey.", "man has bag.", "monitor off.", "cones by road."]
)
def test_sentence_like_names_are_unusable_with_a_reason(raw):
    assert canonical_name(raw) is None
    assert name_problem(raw) == "sentence-like name"


def _obj(object_id, name, box, relations=()):
    x1, y1, x2, y2 = box
    return {
        "object_id": object_id,
        "name": name,
        "box": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
        "attributes": [],
        "relations": [{"predicate": p, "object_id": t} for p, t in relations],
    }


def noisy_row(i: int) -> dict:
    """A Visual Genome-like scene with every raw-string defect the audit found."""
    return {
        "image_id": f"vg/{i}",
        "source": "human",
        "width": 800,
        "height": 600,
        "size_known": True,
        "dataset": "vg",
        "objects": [
            _obj("1", "man", (100, 100, 300, 550), [("wear a", "2"), ("have a", "4"), ("be on", "6")]),
            _obj("2", "pant", (150, 350, 280, 540)),
            _obj("3", "see tail light.", (600, 300, 650, 340), [("on a", "6")]),
            _obj("4", "nose", (180, 130, 200, 150), [("of a", "1")]),
            _obj("5", "window in edifice.", (500, 50, 560, 120)),
            _obj("6", "street", (0, 500, 800, 600)),
            _obj("7", "trees", (420 + 10 * (i % 3), 20, 520, 260), [("rid", "6")]),
            _obj("8", "jean", (320, 360, 400, 540)),
            _obj("9", "short", (600, 400, 680, 480), [("are on", "6")]),
        ],
    }


def test_scene_drops_unusable_names_and_their_relations():
    scene = Scene.from_row(noisy_row(0))
    names = {o.object_id: o.name for o in scene.objects}
    assert "3" not in names and "5" not in names
    assert names["2"] == "pants" and names["7"] == "tree" and names["8"] == "jeans" and names["9"] == "shorts"
    assert scene.by_id["1"].relations == (("wear", "2"), ("have", "4"), ("on", "6"))


def test_noisy_scenes_give_no_raw_text_defects():
    rows = [noisy_row(i) for i in range(30)]
    scenes = [Scene.from_row(row) for row in rows]
    names = Counter(o.name for s in scenes for o in s.objects)
    predicates = Counter(p for s in scenes for o in s.objects for p, _ in o.relations)
    sampler = Sampler(Frequencies(objects=dict(names), predicates=dict(predicates)))
    items = [
        r for row in rows for r in generate_for_scene(Scene.from_row(row), registry.registered("single"), 0, 2, sampler)
    ]
    assert len(items) > 30
    defect = re.compile(
        r"\b(pant|jean|edifice|see tail|has street|shows street)\b|\bshort\b(?! description)|\b(a|the) (a|the)\b|being on|\b(a|the)\?"
    )
    bad = [
        (r["generator"], r[f])
        for r in items
        for f in ("question", "answer", "mc_question")
        if defect.search(r[f].lower())
    ]
    assert bad == []
    assert [r["check_error"] for r in items if r["check_error"]] == []
    assert all(language.lint(r["question"]) == [] for r in items)
