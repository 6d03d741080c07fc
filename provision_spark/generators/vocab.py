"""The generators' vocabularies, read once from ``provision_spark/vocab/`` (data we own).

- ``attributes.yaml``: ``{type: [attribute, ...]}`` -> ``attribute_type(a)``, ``attributes_of_type(t)``.
- ``synonyms.yaml``: groups of predicates, attributes and object names that mean nearly the same
  -> ``same_meaning(kind, a, b)``, ``synonyms(kind, word)``; ``vague_predicates``.
- ``uncountable.txt``: mass nouns, which take no article -> ``is_mass(name)``.
- ``not_counted.txt``: countable nouns never counted (street, light) -> with the mass nouns, ``is_uncountable(name)``.

Everything is normalised with :func:`norm` (lower case, single spaces, no hyphens/underscores).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

VOCAB_DIR = Path(__file__).resolve().parents[1] / "vocab"

_SPACES = re.compile(r"[\s_\-]+")


@functools.lru_cache(maxsize=262144)
def norm(text: str) -> str:
    """Lower case, trimmed, ``-``/``_``/runs of spaces -> one space."""
    return _SPACES.sub(" ", str(text).strip().lower()).strip()


def _load(name: str):
    """A vocabulary YAML file; every leaf must be a string (YAML 1.1 reads a bare on/no/yes as a bool)."""
    raw = yaml.safe_load((VOCAB_DIR / name).read_text())

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k, where)
                walk(v, f"{where}/{k}")
        elif isinstance(value, list):
            for v in value:
                walk(v, where)
        elif not isinstance(value, str):
            raise ValueError(f'{name}{where}: {value!r} is not a string; quote it (e.g. "on")')

    walk(raw, "")
    return raw


@functools.cache
def _attributes() -> dict[str, tuple[str, ...]]:
    raw = _load("attributes.yaml")
    return {str(t): tuple(dict.fromkeys(norm(a) for a in values)) for t, values in raw.items()}


@functools.cache
def _attribute_types() -> dict[str, str]:
    out: dict[str, str] = {}
    for type_name, values in _attributes().items():
        for value in values:
            out.setdefault(value, type_name)
    return out


def attribute_types() -> list[str]:
    """The attribute types (color, material, shape, size, pattern, state, pose, age)."""
    return list(_attributes())


def attribute_type(attribute: str) -> str | None:
    """The type of an attribute, or None when it is not in the typed vocabulary."""
    return _attribute_types().get(norm(attribute))


def attributes_of_type(type_name: str) -> tuple[str, ...]:
    return _attributes().get(type_name, ())


def attribute_vocabulary() -> list[str]:
    """The union of all typed attributes (what perception uses as its attribute vocabulary)."""
    return list(_attribute_types())


@functools.cache
def _synonym_index() -> dict[str, dict[str, frozenset[str]]]:
    raw = _load("synonyms.yaml")
    index: dict[str, dict[str, frozenset[str]]] = {}
    for kind in ("predicates", "attributes", "objects"):
        words: dict[str, set[str]] = {}
        for group in raw.get(kind, []):
            members = {norm(w) for w in group}
            for word in members:
                words.setdefault(word, set()).update(members)
        index[kind] = {w: frozenset(g) for w, g in words.items()}
    index["vague_predicates"] = {norm(w): frozenset() for w in raw.get("vague_predicates", [])}
    return index


@functools.cache
def _phrasing() -> dict[str, str]:
    raw = _load("synonyms.yaml")
    return {norm(k): norm(v) for k, v in (raw.get("predicate_phrasing") or {}).items()}


def predicate_text(predicate: str) -> str:
    """How a terse predicate reads in a sentence ("look" -> "look at", "in the front of" -> "in front of")."""
    p = norm(predicate)
    return _phrasing().get(p, p)


_KINDS = {"predicate": "predicates", "attribute": "attributes", "object": "objects"}


@functools.lru_cache(maxsize=262144)
def synonyms(kind: str, word: str) -> frozenset[str]:
    """``word`` and every word sharing a group with it; ``kind`` is predicate, attribute or object."""
    w = norm(word)
    return _synonym_index()[_KINDS[kind]].get(w, frozenset()) | {w}


@functools.lru_cache(maxsize=262144)
def same_meaning(kind: str, a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are the same word or in one synonym group."""
    return norm(b) in synonyms(kind, a)


@functools.lru_cache(maxsize=65536)
def is_vague_predicate(predicate: str) -> bool:
    """Predicates (near, with, on, ...) too often true to be offered as a wrong choice."""
    return norm(predicate) in _synonym_index()["vague_predicates"]


def _word_list(name: str) -> frozenset[str]:
    lines = (VOCAB_DIR / name).read_text().splitlines()
    return frozenset(norm(x) for x in lines if x.strip() and not x.lstrip().startswith("#"))


@functools.cache
def _mass() -> frozenset[str]:
    return _word_list("uncountable.txt")


@functools.cache
def _uncountable() -> frozenset[str]:
    return _mass() | _word_list("not_counted.txt")


def _in(words: frozenset[str], name: str) -> bool:
    """The whole name or its head noun is in ``words``."""
    n = norm(name)
    return n in words or (n.split(" ")[-1] in words and n.split(" ")[-1] != n)


@functools.lru_cache(maxsize=65536)
def is_uncountable(name: str) -> bool:
    """Things we never count: mass nouns (sky, grass, water) and countable scenery (street, light)."""
    return _in(_uncountable(), name)


@functools.lru_cache(maxsize=65536)
def is_mass(name: str) -> bool:
    """Mass nouns, which take no article ("grass", not "a grass"); "street" is not one."""
    return _in(_mass(), name)
