"""English helpers: plurals, agreement, articles, lists, predicates, the grammar lint."""

from __future__ import annotations

import pytest

from provision_spark.generators import language as L


@pytest.mark.parametrize(
    "name, n, expected",
    [
        ("bat", 1, "1 bat"),
        ("bat", 3, "3 bats"),
        ("person", 2, "2 people"),
        ("bus", 2, "2 buses"),
        ("baseball uniform", 2, "2 baseball uniforms"),
        ("mouse", 0, "0 mice"),
        ("box", 4, "4 boxes"),
    ],
)
def test_count_phrase(name, n, expected):
    assert L.count_phrase(n, name) == expected


@pytest.mark.parametrize("word", ["pants", "glasses", "jeans", "shorts", "skis", "people", "sunglasses"])
def test_plural_only_nouns_are_plural(word):
    assert L.is_plural(word)
    assert L.be_for(word) == "are"
    assert L.plural(word) == word  # never "pantss"


@pytest.mark.parametrize("word", ["bus", "grass", "glass", "dress", "bat", "batter", "baseball uniform"])
def test_singular_nouns(word):
    assert not L.is_plural(word)
    assert L.be_for(word) == "is"


def test_articles_and_no_doubled_the():
    assert L.a("apple") == "an apple"
    assert L.a("bat") == "a bat"
    assert L.a("umbrella") == "an umbrella"
    assert L.the("the bat") == "the bat"
    assert L.the("The  Bat") == "the bat"
    assert L.noun("the the bat") == "bat"


def test_join_serial_comma():
    assert L.join(["bat"]) == "bat"
    assert L.join(["bat", "ball"]) == "bat and ball"
    assert L.join(["bat", "ball", "glove"]) == "bat, ball, and glove"
    assert L.join(["bat", "ball", "glove"], "or") == "bat, ball, or glove"


@pytest.mark.parametrize(
    "predicate, singular, plural",
    [
        ("holding", "is holding", "are holding"),
        ("hold", "is holding", "are holding"),
        ("wear", "is wearing", "are wearing"),
        ("on", "is on", "are on"),
        ("has", "has", "have"),
        ("sit on", "is sitting on", "are sitting on"),
        ("in the front of", "is in front of", "are in front of"),
        ("wears", "wears", "wear"),
        ("parked on", "is parked on", "are parked on"),
        ("feed", "is feeding", "are feeding"),
        ("near", "is near", "are near"),
        ("look", "is looking at", "are looking at"),
    ],
)
def test_predicate_phrases_agree(predicate, singular, plural):
    assert L.predicate_phrase(predicate) == singular
    assert L.predicate_phrase(predicate, plural=True) == plural


def test_region_is_normalised_two_decimals():
    assert L.region((5, 54, 266, 355), 401, 400) == "[0.01, 0.14, 0.66, 0.89]"
    assert L.point(0.5, 0.25) == "(0.50, 0.25)"


def test_lint_finds_the_reference_bugs():
    assert L.lint("Which of these is furthest left: the the bat or the ball?")
    assert L.lint("Is there a apple?")
    assert L.lint("How many bats are there ?")
    assert not L.lint("How many bats are there?")
    assert not L.lint("Is there an apple or a bat?")


def test_attributes_phrase_agrees_with_number():
    assert L.attributes_phrase(["brown", "wooden"], "bat", 2) == "brown wooden bats"
    assert L.attributes_phrase(["white"], "ball", 1) == "white ball"


def test_render_caption():
    text = L.render_caption(
        [("bat", 1), ("ball", 2), ("grass", None)],
        [("bat", True, ["brown", "wooden"])],
        [("batter", True, "hold", "bat", True)],
    )
    assert text == (
        "The image shows a bat, two balls, and grass. The bat is brown and wooden. The batter is holding the bat."
    )


def test_vocabularies_load_as_strings():
    """YAML 1.1 reads a bare `on` as True: the vocabulary must still know the predicate "on"."""
    from provision_spark.generators import vocab

    assert vocab.is_vague_predicate("on")
    assert vocab.same_meaning("predicate", "on", "on top of")
    assert vocab.same_meaning("predicate", "near", "next to")
    assert vocab.same_meaning("predicate", "under", "below")
    assert vocab.same_meaning("attribute", "wooden", "hardwood")
    assert vocab.attribute_type("wooden") == "material" and vocab.attribute_type("white") == "color"
    assert vocab.is_uncountable("sky") and vocab.is_uncountable("grass") and vocab.is_uncountable("water")
    assert not vocab.is_uncountable("bat")
    assert all(isinstance(a, str) for a in vocab.attribute_vocabulary())


def test_stuff_takes_no_indefinite_article():
    assert L.a("grass") == "grass"
    assert L.render_caption([("sky", None)], [], [("grass", False, "under", "sky", False)]) == (
        "The image shows sky. The grass is under the sky."
    )
