"""Free text to vocabulary: attributes by phrase match, relations by the real all-MiniLM-L6-v2."""

from __future__ import annotations

import pytest

from provision_spark.perception.config import ATTRIBUTE_VOCABULARY, RELATION_VOCABULARY, default_grounding_model
from provision_spark.perception.grounding import (
    Grounder,
    attribute_matcher,
    attribute_vocabulary,
    normalise_attributes,
    predicate_phrase,
    relation_vocabulary,
)


@pytest.fixture(scope="module")
def grounder() -> Grounder:
    return Grounder(default_grounding_model(), relation_vocabulary(str(RELATION_VOCABULARY)), 0.5, "cpu")


def test_vocabularies_are_broad_and_clean():
    objects = [line for line in RELATION_VOCABULARY.with_name("objects.txt").read_text().splitlines() if line]
    assert len(objects) >= 300 and len(set(objects)) == len(objects)
    relations = relation_vocabulary(str(RELATION_VOCABULARY))
    assert {"on", "holding", "wearing", "riding", "in front of", "next to"} <= set(relations)
    assert {"red", "wooden", "striped"} <= set(attribute_vocabulary(str(ATTRIBUTE_VOCABULARY)))


def test_attributes_are_normalised_to_the_vocabulary():
    matcher = attribute_matcher(["red", "dark red", "wooden", "striped", "tall"])
    text = "It is Dark Red, wooden and striped; not a red-ish stall."
    assert normalise_attributes(text, matcher) == ["dark red", "wooden", "striped"]
    assert normalise_attributes("no attributes here", matcher) == []


@pytest.mark.parametrize(
    ("answer", "subject", "obj", "phrase"),
    [
        ("The man is riding the horse.", "man", "horse", "riding"),
        ("the batter is holding a baseball bat", "batter", "baseball bat", "holding"),
        ("Sitting on top of the bench. It is sunny", "cat", "bench", "sitting on top of"),
        ("", "a", "b", ""),
    ],
)
def test_the_predicate_phrase_is_what_lies_between_the_objects(answer, subject, obj, phrase):
    assert predicate_phrase(answer, subject, obj) == phrase


def test_free_text_grounds_to_the_nearest_relation(grounder):
    phrases = ["riding on", "sits on", "is holding", "wears", "close to", "right next to", "looks at", "carries"]
    grounded = grounder.ground(phrases)
    assert [relation for relation, _ in grounded] == [
        "riding",
        "sitting on",
        "holding",
        "wearing",
        "near",
        "next to",
        "looking at",
        "carrying",
    ]
    assert all(0.5 <= score <= 1.0 + 1e-6 for _, score in grounded)


def test_unrelated_or_empty_text_stays_ungrounded(grounder):
    (unrelated, low), (empty, _) = grounder.ground(["banana bread recipe with walnuts", ""])
    assert unrelated is None and low < 0.5
    assert empty is None
