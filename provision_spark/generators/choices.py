"""Multiple-choice formatting, shared by the single- and multi-image generators.

``build_mc(stem, answer, distractors, rng)`` puts the answer at a uniformly random position
(``rng.randrange``), shuffles the wrong choices into the other slots, picks one of several label
styles (``A.``, ``(A)``, ``A)``, ``1.``, ``(1)``, ``a.``; letters only when a choice is
a number) and a closing instruction, and returns an :class:`MC` with the full question text, the choices in order, the correct index and the label
the answer is given as ("B", "2", ...):

    >>> import random
    >>> mc = build_mc("Which is closer?", "bat", ["ball"], random.Random(0))
    >>> mc.choices[mc.correct_index]
    'bat'

Everything is driven by the ``rng`` passed in, so an item's choices are reproducible from its seed.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
from collections.abc import Sequence

from provision_spark.generators.language import capitalize

#: Options that name an image ("Image 2"): shown in natural order, not shuffled.
_IMAGE_OPTION = re.compile(r"^Image (\d+)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclasses.dataclass(frozen=True)
class ChoiceStyle:
    name: str
    kind: str  # "upper" | "lower" | "number"
    template: str  # how one label is shown, e.g. "({})"

    def label(self, index: int) -> str:
        """The bare label of choice ``index`` ("A", "b", "3")."""
        if self.kind == "number":
            return str(index + 1)
        letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index]
        return letter if self.kind == "upper" else letter.lower()

    def shown(self, index: int) -> str:
        """The label as printed before the choice ("(A)", "1.")."""
        return self._shown[index]

    @functools.cached_property
    def _shown(self) -> tuple[str, ...]:
        """Every printed label, formatted once: a million items format a few million labels."""
        return tuple(self.template.format(self.label(i)) for i in range(26))


STYLES: tuple[ChoiceStyle, ...] = (
    ChoiceStyle("upper_dot", "upper", "{}."),
    ChoiceStyle("upper_paren", "upper", "({})"),
    ChoiceStyle("upper_close", "upper", "{})"),
    ChoiceStyle("number_dot", "number", "{}."),
    ChoiceStyle("number_paren", "number", "({})"),
    ChoiceStyle("lower_dot", "lower", "{}."),
)
STYLE_BY_NAME = {s.name: s for s in STYLES}
#: Styles for numeric choices: a number label would itself be another option's value ("1. 4  2. 1").
LETTER_STYLES = tuple(s for s in STYLES if s.kind != "number")

_INSTRUCTIONS = {
    "upper": (
        "Answer with the option's letter from the given choices directly.",
        "Reply with the letter of the correct option.",
        "Choose the correct option and answer with its letter.",
    ),
    "lower": (
        "Answer with the option's letter from the given choices directly.",
        "Reply with the letter of the correct option.",
    ),
    "number": (
        "Answer with the option's number from the given choices directly.",
        "Reply with the number of the correct option.",
    ),
}

_LEADS = ("Options:", "Choices:", "Select one:", "")


@dataclasses.dataclass(frozen=True)
class MC:
    question: str  # stem, choices and instruction, as shown to the model
    choices: list[str]  # in the order shown
    correct_index: int
    label: str  # the answer as the label of the right choice ("B", "2", "c")
    style: str  # ChoiceStyle.name


def place(answer: str, distractors: Sequence[str], rng: random.Random) -> tuple[list[str], int]:
    """Answer at a uniformly random position among ``1 + len(distractors)`` slots; wrong ones shuffled.

    Image options ("Image 1", "Image 3") are put in natural order instead.
    """
    others = list(distractors)
    rng.shuffle(others)
    index = rng.randrange(len(others) + 1)
    choices = others[:index] + [answer] + others[index:]
    if all(_IMAGE_OPTION.match(c) for c in choices):
        choices.sort(key=lambda c: int(_IMAGE_OPTION.match(c).group(1)))
        index = choices.index(answer)
    return choices, index


def numeric(choices: Sequence[str]) -> bool:
    """Whether any choice is a number (then choices get letter labels)."""
    return any(_NUMBER.match(c.strip()) for c in choices)


def format_choices(choices: Sequence[str], style: ChoiceStyle, separator: str = "\n") -> str:
    return separator.join(f"{style.shown(i)} {c}" for i, c in enumerate(choices))


def build_mc(
    stem: str,
    answer: str,
    distractors: Sequence[str],
    rng: random.Random,
    style: ChoiceStyle | str | None = None,
) -> MC:
    """The multiple-choice form of an item; ``distractors`` must be non-empty and distinct from ``answer``."""
    if not distractors:
        raise ValueError("a multiple-choice item needs at least one wrong choice")
    choices, index = place(answer, distractors, rng)
    chosen = STYLE_BY_NAME[style] if isinstance(style, str) else style
    styles = LETTER_STYLES if numeric(choices) else STYLES
    if chosen is None or chosen not in styles:
        chosen = styles[rng.randrange(len(styles))]
    instruction = rng.choice(_INSTRUCTIONS[chosen.kind])
    lead = rng.choice(_LEADS)
    body = format_choices(choices, chosen)
    parts = [capitalize(stem.strip())] + ([lead] if lead else []) + [body, instruction]
    return MC("\n".join(parts), choices, index, chosen.label(index), chosen.name)


def choice_problems(choices: Sequence[str], style: str | None) -> list[str]:
    """What is wrong with how choices are shown: number labels on numeric choices, image options out
    of natural order (the checkers of both engines ask this)."""
    problems = []
    chosen = STYLE_BY_NAME.get(style or "")
    if chosen is not None and chosen.kind == "number" and numeric(choices):
        problems.append("number labels on numeric choices")
    if all(_IMAGE_OPTION.match(c) for c in choices):
        numbers = [int(_IMAGE_OPTION.match(c).group(1)) for c in choices]
        if numbers != sorted(numbers):
            problems.append("image options out of order")
    return problems
