"""English for the generators: plurals, counts, agreement, articles, lists, predicates, regions.

Built on ``inflect`` (no hand-written plural rules); results are cached because the same few
thousand names come back millions of times. Every function takes and returns plain strings.

    >>> count_phrase(3, "bat"), count_phrase(1, "bat"), be_for("pants"), be(2)
    ('3 bats', '1 bat', 'are', 'are')
    >>> join(["bat", "ball", "glove"]), join(["bat", "ball"], "or")
    ('bat, ball, and glove', 'bat or ball')
    >>> a("apple"), the("the bat"), predicate_phrase("hold"), predicate_phrase("on", plural=True)
    ('an apple', 'the bat', 'is holding', 'are on')
    >>> region((5, 54, 266, 355), 401, 400)
    '[0.01, 0.14, 0.66, 0.89]'

``lint(text)`` lists grammar problems ("the the", "a apple", double spaces, ...); the checker runs
it on every question and answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from provision_spark.generators.vocab import is_mass, is_uncountable, norm, predicate_text


@functools.cache
def _engine():
    """inflect's engine, made on first use: importing inflect takes seconds (its type checks), and
    the command line imports the generator modules only to check generator names."""
    import inflect

    return inflect.engine()


_ARTICLES = ("the ", "a ", "an ")

#: Closed-class words that start predicates used with "is/are" (prepositions, comparatives, ...).
PREPOSITIONS = frozenset(
    """aboard about above across after against along alongside amid among around as at atop before
    behind below beneath beside besides between beyond by close down during except for from in
    inside into like near next of off on onto opposite out outside over past per round through
    throughout to toward towards under underneath unlike until up upon via with within without
    adjacent taller shorter bigger smaller larger higher lower part full made left right
    front top""".split()
)

#: Base-form verbs that look like participles ("feed", "listen").
_BASE_VERBS = frozenset(
    {"feed", "need", "bleed", "speed", "seed", "shed", "breed", "listen", "fasten", "happen", "open"}
)

_HAVE = {"has": ("has", "have"), "have": ("has", "have"), "having": ("is having", "are having")}


@functools.lru_cache(maxsize=262144)
def noun(name: str) -> str:
    """A name as a bare noun phrase: normalised, leading articles removed ("The  Bat" -> "bat")."""
    text = norm(name)
    changed = True
    while changed:
        changed = False
        for article in _ARTICLES:
            if text.startswith(article) and len(text) > len(article):
                text, changed = text[len(article) :].strip(), True
    return text


@functools.lru_cache(maxsize=65536)
def is_plural(name: str) -> bool:
    """True when the noun is already plural ("pants", "glasses", "people"), by inflect."""
    words = noun(name).split(" ")
    last = words[-1]
    if not last.isalpha():
        return False
    singular = _engine().singular_noun(last)
    if not singular or singular == last:
        return False
    if not last.endswith("s"):
        return True  # irregular plurals inflect knows: people, men, children, mice, feet
    # "pants" -> plural "pantss": inflect pluralised a plural; "bus" -> "buses" is a real singular.
    return _engine().plural_noun(last) == last + "s"


@functools.lru_cache(maxsize=65536)
def plural(name: str) -> str:
    """Plural of a noun phrase ("baseball uniform" -> "baseball uniforms"); plurals stay as they are."""
    text = noun(name)
    if is_plural(text):
        return text
    return _engine().plural_noun(text) or text


def plural_if(name: str, n: int) -> str:
    """The noun in the form that goes with ``n`` of it."""
    return noun(name) if n == 1 else plural(name)


def count_phrase(n: int, name: str) -> str:
    """ "1 bat", "3 bats", "0 bats"."""
    return f"{n} {plural_if(name, n)}"


def be(n: int) -> str:
    """ "is" for one, "are" otherwise."""
    return "is" if n == 1 else "are"


def be_for(name: str) -> str:
    """ "is" or "are", agreeing with the noun phrase ("the bat is", "the pants are")."""
    return "are" if is_plural(name) else "is"


@functools.lru_cache(maxsize=65536)
def a(phrase: str) -> str:
    """Indefinite article: "a bat", "an apple", "a street"; plurals and mass nouns get none ("pants", "grass")."""
    text = noun(phrase)
    if is_plural(text.split(" ")[-1]) or is_mass(text):
        return text
    return _engine().a(text)


@functools.lru_cache(maxsize=65536)
def the(phrase: str) -> str:
    """Definite article, never doubled: "the bat" (also for "the bat" or "The bat")."""
    return "the " + noun(phrase)


def join(words: Sequence[str], conj: str = "and") -> str:
    """ "a", "a and b", "a, b, and c" (serial comma), with ``conj`` "and" or "or"."""
    return _join(tuple(w for w in words if w), conj)


def _join(items: tuple[str, ...], conj: str) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} {conj} {items[1]}"
    return ", ".join(items[:-1]) + f", {conj} {items[-1]}"


def number(n: int) -> str:
    """Digits for counts in answers ("3")."""
    return str(int(n))


@functools.lru_cache(maxsize=1024)
def number_words(n: int) -> str:
    """Words for small numbers in prose ("three")."""
    return _engine().number_to_words(int(n))


def attributes_phrase(attributes: Sequence[str], name: str, n: int = 1) -> str:
    """Adjectives before the noun with agreement: (["brown", "wooden"], "bat", 2) -> "brown wooden bats"."""
    head = plural_if(name, n)
    adjectives = " ".join(noun(x) for x in attributes if x)
    return f"{adjectives} {head}".strip()


@functools.lru_cache(maxsize=16384)
def _predicate_forms(predicate: str) -> tuple[str, str]:
    """(singular, plural) verb phrase for a scene-graph predicate."""
    text = predicate_text(noun(predicate))
    if not text:
        return ("is related to", "are related to")
    words = text.split(" ")
    first, rest = words[0], " ".join(words[1:])
    tail = f" {rest}" if rest else ""
    if first in ("is", "are"):
        body = " ".join(words[1:]) or "related to"
        return (f"is {body}", f"are {body}")
    if first in _HAVE:
        singular, plural_form = _HAVE[first]
        return (singular + tail, plural_form + tail)
    participle_like = (first.endswith("ed") or first.endswith("en")) and first not in _BASE_VERBS
    if first in PREPOSITIONS or first.endswith("ing") or participle_like:
        return (f"is {text}", f"are {text}")
    if first.endswith("s") and not first.endswith("ss") and len(first) > 3:
        # already third person ("wears", "contains"): plural drops the -s.
        return (text, _engine().plural_verb(first) + tail)
    # a base-form verb ("hold", "sit on", "wear"): progressive reads naturally for both numbers.
    participle = _engine().present_participle(first)
    return (f"is {participle}{tail}", f"are {participle}{tail}")


def predicate_phrase(predicate: str, plural: bool = False) -> str:
    """ "holding" -> "is holding", "hold" -> "is holding", "on" -> "is on", "has" -> "has" ("have" plural)."""
    singular, plural_form = _predicate_forms(predicate)
    return plural_form if plural else singular


@functools.lru_cache(maxsize=16384)
def relation_answer(predicate: str) -> str:
    """The predicate as a short answer: "hold" -> "holding", "on" -> "on", "has" -> "has"."""
    singular, _ = _predicate_forms(predicate)
    return singular[3:] if singular.startswith("is ") else singular


def predicate_participle(predicate: str) -> str:
    """The predicate without the auxiliary, for "what is X ...?": "hold" -> "holding", "on" -> "on".

    Returns "" for possessives ("has"), which read badly after "what is X"; callers then use
    :func:`predicate_phrase` in a relative clause instead.
    """
    singular, _ = _predicate_forms(predicate)
    if singular.startswith("is "):
        return singular[3:]
    return ""


def region(box: Sequence[float], width: float, height: float) -> str:
    """Box in absolute pixels -> "[x1, y1, x2, y2]" normalised to 0..1 with two decimals."""
    x1, y1, x2, y2 = box
    values = (x1 / width, y1 / height, x2 / width, y2 / height)
    return "[" + ", ".join(f"{min(max(v, 0.0), 1.0):.2f}" for v in values) + "]"


def point(x: float, y: float) -> str:
    """A normalised point "(0.25, 0.60)"."""
    return f"({x:.2f}, {y:.2f})"


def capitalize(text: str) -> str:
    """First letter upper case, the rest untouched ("the bat" -> "The bat")."""
    return text[:1].upper() + text[1:] if text else text


def sentence(text: str, end: str = ".") -> str:
    """Capitalised, single-spaced, ending with ``end`` once."""
    text = " ".join(text.split())
    if not text:
        return text
    if text[-1] not in ".?!":
        text += end
    return capitalize(text)


_DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)
_ARTICLE_WORD = re.compile(r"\b(a|an)\s+([A-Za-z][\w-]*)", re.IGNORECASE)
#: A predicate passed through raw: an article next to an article or before punctuation ("has a the
#: nose", "wearing a?"), or an auxiliary doubled ("is being on", "is are on").
_RAW_PREDICATE = re.compile(
    r"\b(?:a|an|the) (?:a|an|the)\b|(?<=\w )(?:a|an|the)[?.,!]|\b(?:is|are) (?:being|be|is|are) (?:on|in|of|at|by|near|with)\b"
)
#: Lemmas of plural-only nouns ("the pant", "a jean") and sentence-like names ("see tail light.?").
_LEMMA = re.compile(r"\b(?:the|a|an|\d+) (?:pant|jean|sunglass|trouser|legging|goggle)\b", re.IGNORECASE)
_SENTENCE_NAME = re.compile(r"\w\.[?,]|[a-z]{2}\. [a-z]")
#: A noun right after "has"/"shows" with no article ("Which image has street?", "shows light, ...").
_BARE_NOUN = re.compile(r"\b(?:has|have|shows|show|contains) ([a-z]+)(?:\?|,| and\b|\.$)")
_NOT_NOUNS = frozenset("a an the no any some one two three four five six seven eight nine ten been got".split())
#: Words that legitimately repeat ("that that" is rare in our templates; numbers can repeat).
_REPEAT_OK = frozenset({"that", "had", "very", "bye", "tom", "no"})


def lint(text: str) -> list[str]:
    """Grammar problems in a generated text: doubled words ("the the"), wrong "a"/"an", spacing, raw
    predicates ("has a the"), plural-only lemmas ("the pant"), sentence-like names, repeated sentences."""
    problems: list[str] = []
    if not text or not text.strip():
        return ["empty text"]
    if "  " in text.replace("\n", " ").strip() and "\n" not in text:
        problems.append("double space")
    if text != text.strip():
        problems.append("leading or trailing whitespace")
    for match in _DOUBLED.finditer(text):
        word = match.group(1).lower()
        if not word.isdigit() and word not in _REPEAT_OK:
            problems.append(f"doubled word {match.group(0)!r}")
    for match in _ARTICLE_WORD.finditer(text):
        article, word = match.group(1).lower(), match.group(2)
        if len(word) == 1 and word.isupper():
            continue  # "a B" / "an A" (choice labels) are names, not nouns
        expected = _article(word)
        if expected != article:
            problems.append(f"article {match.group(0)!r} (expected {expected!r})")
    if re.search(r"\s[,.?!]", text):
        problems.append("space before punctuation")
    if "{" in text or "}" in text:
        problems.append("unfilled template slot")
    for pattern, what in (
        (_RAW_PREDICATE, "raw predicate"),
        (_LEMMA, "lemma for a plural-only noun"),
        (_SENTENCE_NAME, "sentence-like name"),
    ):
        match = pattern.search(text)
        if match:
            problems.append(f"{what} {match.group(0)!r}")
    for match in _BARE_NOUN.finditer(text):
        word = match.group(1)
        if word not in _NOT_NOUNS and word not in PREPOSITIONS and not is_plural(word) and not is_mass(word):
            problems.append(f"countable noun without an article {match.group(0)!r}")
    for line in text.split("\n"):
        sentences = re.split(r"(?<=[.!?]) +", line)
        if len(set(sentences)) < len(sentences):
            problems.append("repeated sentence")
    return problems


@functools.lru_cache(maxsize=65536)
def _article(word: str) -> str:
    return _engine().a(word).split(" ", 1)[0].lower()


def choice_words(words: Iterable[str]) -> list[str]:
    """Bare nouns for a list of names, order kept, duplicates removed."""
    return list(dict.fromkeys(noun(w) for w in words))


def render_caption(
    counts: Sequence[tuple[str, int | None]],
    attribute_facts: Sequence[tuple[str, bool, Sequence[str]]] = (),
    relation_facts: Sequence[tuple[str, bool, str, str, bool]] = (),
) -> str:
    """A factual caption from scene-graph facts (shared by the caption generator and its check).

    counts: (name, n) in order; n None for uncountable stuff ("grass").
    attribute_facts: (name, unique, attributes): "The bat is brown and wooden." / "A bat is ...".
    relation_facts: (subject, subject unique, predicate, object, object unique).
    """
    listed = []
    for name, n in counts:
        if n is None:
            listed.append(a(name))  # not counted: "grass", "pants", "a street"
        elif n == 1:
            listed.append(a(name))
        else:
            listed.append(f"{number_words(n)} {plural(name)}")
    parts = [sentence(f"the image shows {join(listed)}")] if listed else []
    for name, unique, attributes in attribute_facts:
        subject = the(name) if unique or is_uncountable(name) else a(name)
        parts.append(sentence(f"{subject} {be_for(name)} {join([noun(x) for x in attributes])}"))
    for subject, s_unique, predicate, obj, o_unique in relation_facts:
        s_text = the(subject) if s_unique or is_uncountable(subject) else a(subject)
        o_text = the(obj) if o_unique or is_uncountable(obj) else a(obj)
        parts.append(sentence(f"{s_text} {predicate_phrase(predicate, plural=is_plural(subject))} {o_text}"))
    return " ".join(dict.fromkeys(parts))  # two facts may read the same ("A man is on a street.")
