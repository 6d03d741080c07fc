"""Objects (7): how many; most / least frequent among candidates; left-, right-, top-, bottom-most."""

from __future__ import annotations

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.single.common import (
    countable,
    is_unique_name,
    name_counts,
    name_is_clean,
    name_of,
    number_distractors,
    pick_templates,
)

# ----------------------------------------------------------------------------------- counting
COUNT_TEMPLATES = (
    "How many {plural} are there in the image?",
    "How many {plural} can you see?",
    "Count the {plural} in this picture.",
    "What is the number of {plural} in the image?",
    "How many {plural} does this image show?",
)


@register("object_count", family="objects")
def object_count(ctx: Context):
    """How many of an object (countable names only, no synonym of it elsewhere in the image)."""
    scene = ctx.scene
    counts = name_counts(scene)
    names = [n for n in sorted(counts) if countable(n) and name_is_clean(scene, n)]
    for name in ctx.sampler.sample(ctx.rng, names, ctx.limit, ctx.sampler.object_weight):
        n = counts[name]
        question = pick_templates(ctx.rng, COUNT_TEMPLATES).format(plural=L.plural(name))
        yield Item(
            key=name,
            question=question,
            answer=L.number(n),
            distractors=number_distractors(ctx.rng, n),
            metadata={"name": name},
        )


# ------------------------------------------------------------------------- most / least frequent
FREQ_TEMPLATES = {
    "most": (
        "Which of these appears most often in the image: {options}?",
        "Among {options}, which one is the most common in the image?",
        "Of {options}, which occurs the most times in this picture?",
    ),
    "least": (
        "Which of these appears least often in the image: {options}?",
        "Among {options}, which one is the least common in the image?",
        "Of {options}, which occurs the fewest times in this picture?",
    ),
}
FREQ_STEMS = {
    "most": "Which of these objects appears most often in the image?",
    "least": "Which of these objects appears least often in the image?",
}


def _frequency(ctx: Context, extreme: str):
    scene = ctx.scene
    counts = name_counts(scene)
    names = [n for n in sorted(counts) if countable(n) and name_is_clean(scene, n)]
    if len(names) < 2 or len(set(counts[n] for n in names)) < 2:
        return
    made = 0
    for _ in range(4 * ctx.limit + 4):
        k = min(len(names), ctx.rng.choice((2, 3, 3, 4)))
        chosen = ctx.sampler.sample(ctx.rng, names, k, ctx.sampler.object_weight)
        values = [counts[n] for n in chosen]
        best = max(values) if extreme == "most" else min(values)
        if values.count(best) != 1:
            continue  # a tie has no single answer
        answer = chosen[values.index(best)]
        options = sorted(chosen)
        plurals = [L.plural(n) for n in options]
        question = pick_templates(ctx.rng, FREQ_TEMPLATES[extreme]).format(options=L.join(plurals, "or"))
        yield Item(
            key="|".join(options),
            question=question,
            answer=answer,
            distractors=[n for n in options if n != answer],
            metadata={"candidates": options, "extreme": extreme},
            mc_stem=FREQ_STEMS[extreme],
        )
        made += 1
        if made >= ctx.limit:
            return


@register("object_most_frequent", family="objects")
def object_most_frequent(ctx: Context):
    """Which of 2-4 candidate objects is the most frequent (unique maximum only)."""
    yield from _frequency(ctx, "most")


@register("object_least_frequent", family="objects")
def object_least_frequent(ctx: Context):
    """Which of 2-4 candidate objects is the least frequent (unique minimum only)."""
    yield from _frequency(ctx, "least")


# ---------------------------------------------------------------------------------- positions
#: The extreme object must beat the runner-up by this fraction of the image side.
POSITION_MARGIN = 0.05

POSITION_WORDS = {
    "left": ("furthest to the left", "the left-most", "closest to the left edge"),
    "right": ("furthest to the right", "the right-most", "closest to the right edge"),
    "top": ("highest up", "the top-most", "closest to the top edge"),
    "bottom": ("lowest down", "the bottom-most", "closest to the bottom edge"),
}
POSITION_TEMPLATES = (
    "Which of these is {where} in the image: {options}?",
    "Among {options}, which one is {where}?",
    "Of {options}, which appears {where} in the picture?",
)


def _extent(scene) -> tuple[float, float]:
    if scene.has("size"):
        return float(scene.width), float(scene.height)
    return (max(o.box[2] for o in scene.objects), max(o.box[3] for o in scene.objects))


def _position(ctx: Context, direction: str):
    scene = ctx.scene
    pool = [o for o in scene.objects if countable(name_of(o)) and is_unique_name(scene, o)]
    if len(pool) < 2:
        return
    width, height = _extent(scene)
    axis, sign = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}[direction]
    side = width if axis == 0 else height
    made = 0
    for _ in range(4 * ctx.limit + 4):
        k = min(len(pool), ctx.rng.choice((2, 3, 3, 4)))
        chosen = ctx.sampler.sample(ctx.rng, pool, k, lambda o: ctx.sampler.object_weight(o.name))
        ranked = sorted(chosen, key=lambda o: sign * o.center[axis], reverse=True)
        if sign * (ranked[0].center[axis] - ranked[1].center[axis]) < POSITION_MARGIN * side:
            continue
        answer = name_of(ranked[0])
        options = sorted(name_of(o) for o in chosen)
        where = ctx.rng.choice(POSITION_WORDS[direction])
        question = pick_templates(ctx.rng, POSITION_TEMPLATES).format(
            where=where, options=L.join([L.the(n) for n in options], "or")
        )
        yield Item(
            key="|".join(sorted(o.object_id for o in chosen)),
            question=question,
            answer=answer,
            distractors=[n for n in options if n != answer],
            metadata={"object_ids": sorted(o.object_id for o in chosen), "direction": direction},
            mc_stem=f"Which of these objects is {where} in the image?",
        )
        made += 1
        if made >= ctx.limit:
            return


@register("object_leftmost", family="objects")
def object_leftmost(ctx: Context):
    """Which of 2-4 uniquely named objects is furthest left (clear margin)."""
    yield from _position(ctx, "left")


@register("object_rightmost", family="objects")
def object_rightmost(ctx: Context):
    """Which of 2-4 uniquely named objects is furthest right (clear margin)."""
    yield from _position(ctx, "right")


@register("object_topmost", family="objects")
def object_topmost(ctx: Context):
    """Which of 2-4 uniquely named objects is highest (clear margin)."""
    yield from _position(ctx, "top")


@register("object_bottommost", family="objects")
def object_bottommost(ctx: Context):
    """Which of 2-4 uniquely named objects is lowest (clear margin)."""
    yield from _position(ctx, "bottom")
