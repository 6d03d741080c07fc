"""The independent checker catches planted wrong answers, true or synonymous wrong choices,
ambiguity and broken grammar."""

from __future__ import annotations

import copy
import json

import pytest

from provision_spark.generators import checker, registry
from provision_spark.generators.choices import STYLE_BY_NAME
from provision_spark.generators.sampling import Sampler
from provision_spark.generators.scene import Scene
from provision_spark.generators.single.engine import run_generator
from tests.generators.scenes import baseball_scenes

SCENES = baseball_scenes()


def first_row(generator: str, image: str = "baseball_1", where=lambda r: True) -> dict:
    spec = registry.get(generator)
    for seed in range(20):
        for row in run_generator(spec, [SCENES[image]], seed, 50, Sampler()):
            if where(row):
                return row
    raise AssertionError(f"no {generator} row")


def problems(row: dict, image: str = "baseball_1") -> list[str]:
    return checker.check_row(row, [SCENES[image]])


def plant_answer(row: dict, wrong: str) -> dict:
    """The row with ``wrong`` as its answer, consistently in both forms (a generator bug)."""
    bad = copy.deepcopy(row)
    choices = list(bad["choices"])
    if wrong in choices:
        i = choices.index(wrong)
    else:
        i = bad["correct_index"]
        choices[i] = wrong
    bad.update(answer=wrong, choices=choices, correct_index=i)
    m = json.loads(bad["metadata"])
    m["mc"]["label"] = STYLE_BY_NAME[m["mc"]["style"]].label(i)
    bad["metadata"] = json.dumps(m)
    return bad


@pytest.mark.parametrize("generator", [s.name for s in registry.registered("single")])
def test_planted_wrong_answer_is_caught(generator):
    image = (
        "baseball_2"
        if generator in ("object_most_frequent", "object_least_frequent", "sgqa_relation")
        else "baseball_1"
    )
    row = first_row(generator, image)
    assert problems(row, image) == []
    wrong = next(c for c in row["choices"] if c != row["answer"])
    assert any("not re-derived" in p for p in problems(plant_answer(row, wrong), image)), generator


def test_planted_count_is_caught():
    row = first_row("object_count")
    bad = plant_answer(row, "7")
    assert any("not re-derived" in p for p in problems(bad))


def test_wrong_correct_index_is_caught():
    row = first_row("relation_between")
    bad = copy.deepcopy(row)
    bad["correct_index"] = (row["correct_index"] + 1) % len(row["choices"])
    assert problems(bad)


def test_synonym_of_the_answer_as_wrong_choice_is_caught():
    row = first_row("relation_between", where=lambda r: r["answer"] == "wearing")
    bad = copy.deepcopy(row)
    i = next(i for i, c in enumerate(bad["choices"]) if i != bad["correct_index"])
    bad["choices"][i] = "wears"
    assert any("synonym" in p for p in problems(bad))


def test_true_attribute_as_wrong_choice_is_caught():
    # the bat is wooden: "hardwood" (a near-duplicate) and "white" (true of it, another type) are not wrong
    row = first_row("attribute_typed", where=lambda r: r["answer"] == "wooden")
    for planted in ("hardwood", "wood", "white"):
        bad = copy.deepcopy(row)
        i = next(i for i, c in enumerate(bad["choices"]) if i != bad["correct_index"])
        bad["choices"][i] = planted
        assert problems(bad), planted


def test_vague_predicate_as_wrong_choice_is_caught():
    row = first_row("relation_between")
    bad = copy.deepcopy(row)
    i = next(i for i, c in enumerate(bad["choices"]) if i != bad["correct_index"])
    bad["choices"][i] = "near"
    assert problems(bad)


def test_broken_grammar_is_caught():
    row = first_row("object_leftmost")
    bad = copy.deepcopy(row)
    bad["question"] = bad["question"].replace("the ", "the the ", 1)
    assert any("doubled word" in p for p in problems(bad))


def test_ambiguous_and_uncountable_counts_are_caught():
    # baseball_2 has two humans and a batter: "how many humans" is ambiguous; "game" is stuff
    row = first_row("object_count", "baseball_2")
    for name in ("human", "game"):
        bad = copy.deepcopy(row)
        m = json.loads(bad["metadata"])
        m["name"] = name
        bad["metadata"] = json.dumps(m)
        assert problems(bad, "baseball_2"), name


def test_tie_in_most_frequent_is_caught():
    row = first_row("object_most_frequent", "baseball_2")
    bad = copy.deepcopy(row)
    m = json.loads(bad["metadata"])
    m["candidates"] = ["bat", "baseball glove"]  # 1 and 1
    bad["metadata"] = json.dumps(m)
    assert any("not unique" in p for p in problems(bad, "baseball_2"))


def test_ambiguous_referent_is_caught():
    # "the human" in baseball_2 names two objects
    row = first_row("attribute_typed", "baseball_2", where=lambda r: json.loads(r["metadata"])["referent"] == "region")
    bad = copy.deepcopy(row)
    m = json.loads(bad["metadata"])
    m["referent"] = "name"
    bad["metadata"] = json.dumps(m)
    assert problems(bad, "baseball_2")


def test_scene_without_the_object_fails_cleanly():
    row = first_row("attribute_typed")
    empty = Scene(image_id="x", source="human", width=10, height=10, size_known=True, objects=())
    assert any("could not re-derive" in p for p in checker.check_row(row, [empty]))


def test_rle_decoder_matches_pycocotools():
    import numpy as np
    from pycocotools import mask as mask_utils

    from provision_spark.generators.single.checks import mask_contains

    rng = np.random.default_rng(0)
    m = np.zeros((37, 53), dtype=np.uint8)
    m[5:20, 7:40] = 1
    m[rng.random(m.shape) < 0.05] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    mask = {"height": 37, "width": 53, "rle_counts": rle["counts"].decode()}
    for r in range(0, 37, 3):
        for c in range(0, 53, 4):
            assert mask_contains(mask, r, c) == bool(m[r, c])
