"""Canonical names and predicates: the forms generation, comparison and checking use.

Raw Visual Genome strings stay in the tables; generators see them through this layer, so that
"on a", "are on" and "be on" are one relation ("on"), "pant" reads "pants", "trees" and "tree" are
one name, and sentence-like names ("see tail light.", "window in edifice.") never reach a question.

    >>> canonical_predicate("have a"), canonical_predicate("are sitting on"), canonical_predicate("rid")
    ('have', 'sitting on', 'ride')
    >>> canonical_name("pant"), canonical_name("trees"), canonical_name("Blue Jeans"), canonical_name("see tail light.")
    ('pants', 'tree', 'blue jeans', None)
    >>> name_problem("window in edifice.")
    'sentence-like name'
"""

from __future__ import annotations

import functools
import re

import inflect

from provision_spark.generators.vocab import VOCAB_DIR, norm

_ENGINE = inflect.engine()
_ARTICLES = frozenset({"a", "an", "the"})
#: Auxiliaries Visual Genome leaves in front of a predicate ("are on", "is holding", "be on").
_AUXILIARIES = frozenset({"is", "are", "be", "being", "was", "were", "been"})
#: Lemmatiser slips in Visual Genome predicates.
_PREDICATE_LEMMAS = {"rid": "ride", "lay": "lie", "lay on": "lying on", "sit": "sitting"}
_NAME_CHARS = re.compile(r"^[a-z][a-z ']*$")
#: Words that make a name a clause or a sentence ("man has bag", "see grey desk", "desk is grey").
_CLAUSE_WORDS = frozenset(
    """is are was were has have see seen shows showing there this these that those here with
    on in of by near under above behind from to at""".split()
)
MAX_NAME_WORDS = 3
#: Lemmas of plural-only nouns that are also countable nouns of their own ("a glass" of water).
_COUNTABLE_LEMMAS = frozenset({"glass", "eyeglass", "trunk", "brief", "boxer", "tight"})
#: Endings of singular nouns inflect would wrongly singularise ("lens", "tennis", "bus", "grass").
_SINGULAR_ENDINGS = ("ss", "us", "sis", "nis", "ris", "xis", "ns", "ics")


@functools.cache
def plural_only() -> frozenset[str]:
    """Pluralia tantum (``vocab/plural_only.txt``)."""
    lines = (VOCAB_DIR / "plural_only.txt").read_text().splitlines()
    return frozenset(norm(x) for x in lines if x.strip() and not x.lstrip().startswith("#"))


@functools.cache
def _lemma_fixes() -> dict[str, str]:
    """ "pant" -> "pants": the lemma Visual Genome made of each plural-only noun."""
    lemmas = {_ENGINE.singular_noun(w) or w[:-1]: w for w in plural_only() if w.endswith("s")}
    return {lemma: w for lemma, w in lemmas.items() if lemma not in _COUNTABLE_LEMMAS}


@functools.lru_cache(maxsize=262144)
def canonical_predicate(predicate: str) -> str | None:
    """Article- and auxiliary-free predicate ("on a" -> "on", "are on" -> "on"); None when nothing is left."""
    words = [w for w in norm(predicate).strip(" .,;:!?").split(" ") if w and w not in _ARTICLES]
    while words and words[0] in _AUXILIARIES:
        words = words[1:]
    text = " ".join(words)
    text = _PREDICATE_LEMMAS.get(text, text)
    return text if text and re.fullmatch(r"[a-z][a-z ']*", text) else None


@functools.lru_cache(maxsize=262144)
def name_problem(name: str) -> str | None:
    """Why a raw object name cannot be used in a question, or None when it can."""
    text = norm(name)
    if not text:
        return "empty name"
    if text.endswith((".", "!", "?")) or ", " in text:
        return "sentence-like name"
    words = [w for w in text.split(" ") if w not in _ARTICLES]
    if not words:
        return "empty name"
    if len(words) > 1 and any(w in _CLAUSE_WORDS for w in words):
        return "sentence-like name"
    if len(words) > MAX_NAME_WORDS:
        return "name too long"
    if not _NAME_CHARS.match(" ".join(words)):
        return "name with digits or symbols"
    return None


@functools.lru_cache(maxsize=262144)
def canonical_name(name: str) -> str | None:
    """Cleaned, singular name ("The Trees" -> "tree", "pant" -> "pants"); None when unusable (see ``name_problem``)."""
    if name_problem(name):
        return None
    words = [w for w in norm(name).split(" ") if w not in _ARTICLES]
    words = [w.replace("'", "") for w in words]
    head = words[-1]
    if head in _lemma_fixes():
        head = _lemma_fixes()[head]
    elif head not in plural_only() and len(head) > 2 and not head.endswith(_SINGULAR_ENDINGS):
        singular = _ENGINE.singular_noun(head)
        # "pants" -> inflect singularises a plural it would re-pluralise to itself: keep real singulars ("bus")
        if singular and len(singular) > 2 and singular != head and _ENGINE.plural_noun(singular) == head:
            head = singular
    return " ".join(words[:-1] + [head])
