"""The independent checker: every answer is re-derived from the scene graph by a separate code path.

A check is registered per generator with ``@checks(name)``. It receives the scene(s) and the
item's ``metadata`` (the question's *inputs*: object ids, names, predicate, points, ...) and never
the generator's answer; it returns a :class:`Derivation`: the set of answers that are true, what
must not be offered as a wrong choice, and whether the answer must be unique. ``check_row`` then
applies the rules every item must pass:

- the short answer is one of the re-derived truths (and the only one when ``unique``);
- the multiple-choice form is consistent: ``choices[correct_index] == answer``, the choices are
  distinct, the label recorded for export is the right one;
- no wrong choice is true, forbidden (e.g. another attribute the object has), or a synonym or
  near-duplicate of a true answer (``synonyms.yaml``, by ``Derivation.kind``);
- question, choices and answer pass the grammar lint (no "the the", right "a"/"an", ...).

A row that fails is dropped by the engine, counted per generator and kept in ``quarantine``. The
built-in single-image checks are in ``generators/single/checks.py``; a new generator may register
its check in its own module (see ``registry``). Multi-image items are judged relationally by
``generators/multi/checker.py`` from each generator's ``truth``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from provision_spark.generators.choices import STYLE_BY_NAME, choice_problems
from provision_spark.generators.language import lint, noun
from provision_spark.generators.scene import Scene
from provision_spark.generators.vocab import norm, synonyms


class CheckError(ValueError):
    """A check could not re-derive an answer (inputs missing from the scene)."""


@dataclasses.dataclass
class Derivation:
    """What the checker re-derived for one item.

    truths: every correct answer (normalised comparison).
    forbidden: strings that must not be offered as wrong choices although they are not the answer
      (e.g. the other attributes the referent has).
    unique: the short answer must be the only truth.
    kind: synonym group used to widen truths/forbidden for the distractor rule:
      "predicate", "attribute", "object" or "text" (exact match only).
    reject: optional extra rule per wrong choice; returns a reason or None.
    problems: anything else the check found wrong.
    """

    truths: set[str]
    forbidden: set[str] = dataclasses.field(default_factory=set)
    unique: bool = True
    kind: str = "text"
    reject: Callable[[str], str | None] | None = None
    problems: list[str] = dataclasses.field(default_factory=list)


CheckFn = Callable[[Sequence[Scene], Mapping[str, Any]], Derivation]
_CHECKS: dict[str, CheckFn] = {}


def checks(generator: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register the independent check for ``generator``."""

    def decorate(fn: CheckFn) -> CheckFn:
        _CHECKS[generator] = fn
        return fn

    return decorate


def unregister(generator: str) -> None:
    _CHECKS.pop(generator, None)


def load_builtin() -> None:
    """Discover the generators, and with them their checks (``registry.load_builtin``)."""
    from provision_spark.generators import registry

    registry.load_builtin()


def has_check(generator: str) -> bool:
    load_builtin()
    return generator in _CHECKS


@functools.lru_cache(maxsize=262144)
def canon(text: str) -> str:
    """Comparison form of an answer: normalised, no trailing punctuation, no leading article."""
    return noun(norm(text).rstrip(".!?").strip())


def _widen(words: Iterable[str], kind: str) -> set[str]:
    out: set[str] = set()
    for w in words:
        c = canon(w)
        out.add(c)
        if kind in ("predicate", "attribute", "object"):
            out |= {canon(s) for s in synonyms(kind, c)}
    return out


def get_check(generator: str) -> CheckFn | None:
    """The registered check of ``generator`` (None when there is none)."""
    load_builtin()
    return _CHECKS.get(generator)


def check_row(row: Mapping[str, Any], scenes: Sequence[Scene], fn: CheckFn | None = None) -> list[str]:
    """Problems with an ``instructions`` row (empty when it passes); ``scenes`` in ``image_ids`` order.

    ``fn`` overrides the registered check (the engine passes the checks it shipped to the task).
    """
    generator = row["generator"]
    if fn is None:
        load_builtin()
        fn = _CHECKS.get(generator)
    if fn is None:
        return [f"no check registered for {generator!r}"]
    try:
        meta = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else dict(row["metadata"])
    except (TypeError, ValueError) as exc:
        return [f"metadata is not JSON: {exc}"]
    try:
        derived = fn(scenes, meta)
    except (CheckError, KeyError, IndexError, TypeError, ValueError) as exc:
        return [f"check could not re-derive the answer: {type(exc).__name__}: {exc}"]

    problems = list(derived.problems)
    answer = canon(row["answer"])
    truths = {canon(t) for t in derived.truths}
    if not truths:
        problems.append("no true answer re-derived")
    elif answer not in truths:
        problems.append(f"answer {row['answer']!r} is not re-derived (expected one of {sorted(truths)})")
    if derived.unique and len(truths) > 1:
        problems.append(f"answer is not unique: {sorted(truths)}")

    choices = list(row["choices"])
    index = row["correct_index"]
    if not (isinstance(index, int) and 0 <= index < len(choices)):
        problems.append(f"correct_index {index!r} out of range")
    elif canon(choices[index]) != answer:
        problems.append(f"choice {index} is {choices[index]!r}, not the answer {row['answer']!r}")
    if len(choices) < 2:
        problems.append("fewer than two choices")
    if len({canon(c) for c in choices}) != len(choices):
        problems.append("duplicate choices")
    mc = meta.get("mc") or {}
    style = STYLE_BY_NAME.get(mc.get("style", ""))
    if style is None or not isinstance(index, int) or style.label(index) != mc.get("label"):
        problems.append("multiple-choice label does not match the correct index")
    problems.extend(choice_problems(choices, mc.get("style")))

    banned = _widen(truths | set(derived.forbidden), derived.kind)
    for i, choice in enumerate(choices):
        if i == index:
            continue
        c = canon(choice)
        if c in banned:
            problems.append(f"wrong choice {choice!r} is true, forbidden or a synonym of a true answer")
        elif derived.reject is not None:
            why = derived.reject(choice)
            if why:
                problems.append(f"wrong choice {choice!r}: {why}")

    # the multiple-choice question holds every choice, one per line, so linting it covers them
    for field in ("question", "mc_question", "answer"):
        for p in lint(str(row[field])):
            problems.append(f"{field}: {p}")
    return problems


def failure_reason(row: Mapping[str, Any], scenes: Sequence[Scene], fn: CheckFn | None = None) -> str | None:
    """``None`` when the row passes, else its problems joined into one reason."""
    problems = check_row(row, scenes, fn)
    return "; ".join(problems) if problems else None
