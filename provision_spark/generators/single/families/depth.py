"""Depth (6): which of two points is closer / farther (depth map); which of two objects is closer /
farther (per-object depth); which of two objects is closer / farther in depth to an anchor object.
Relative depth: larger = nearer the camera. Every comparison needs a clear margin."""

from __future__ import annotations

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.scene import Obj, Scene
from provision_spark.generators.single.common import pick_templates, referent

#: Points must differ by this much on the 0-255 relative depth scale.
POINT_MARGIN = 32
#: ... and their 3x3 neighbourhood must vary by at most this much (no point on an edge).
POINT_SMOOTHNESS = 12
#: Objects (median depth over their mask or box) must differ by this much.
OBJECT_MARGIN = 12

GRID = [i / 100.0 for i in range(5, 96)]


def map_value(depth_map: tuple[int, int, bytes], x: float, y: float) -> int:
    """Depth at the normalised point (x, y) of a (height, width, bytes) map."""
    h, w, data = depth_map
    col = min(w - 1, max(0, int(x * w)))
    row = min(h - 1, max(0, int(y * h)))
    return data[row * w + col]


def _smooth(depth_map, x: float, y: float) -> bool:
    h, w, data = depth_map
    col = min(w - 1, max(0, int(x * w)))
    row = min(h - 1, max(0, int(y * h)))
    values = [
        data[r * w + c]
        for r in range(max(0, row - 1), min(h, row + 2))
        for c in range(max(0, col - 1), min(w, col + 2))
    ]
    return max(values) - min(values) <= POINT_SMOOTHNESS


POINT_TEMPLATES = {
    "closer": (
        "Which of these two points is closer to the camera: {a} or {b}?",
        "Of the points {a} and {b} (normalised x, y), which one is nearer to the viewer?",
        "Which point is closer to the camera, {a} or {b}?",
    ),
    "farther": (
        "Which of these two points is farther from the camera: {a} or {b}?",
        "Of the points {a} and {b} (normalised x, y), which one is further from the viewer?",
        "Which point is farther from the camera, {a} or {b}?",
    ),
}


def _point_items(ctx: Context, which: str):
    scene = ctx.scene
    made = 0
    for _ in range(12 * ctx.limit):
        p = (ctx.rng.choice(GRID), ctx.rng.choice(GRID))
        q = (ctx.rng.choice(GRID), ctx.rng.choice(GRID))
        dp, dq = map_value(scene.depth_map, *p), map_value(scene.depth_map, *q)
        if abs(dp - dq) < POINT_MARGIN or not (_smooth(scene.depth_map, *p) and _smooth(scene.depth_map, *q)):
            continue
        nearer, farther = (p, q) if dp > dq else (q, p)
        answer, wrong = (nearer, farther) if which == "closer" else (farther, nearer)
        question = pick_templates(ctx.rng, POINT_TEMPLATES[which]).format(a=L.point(*p), b=L.point(*q))
        yield Item(
            key=f"{L.point(*p)}|{L.point(*q)}",
            question=question,
            answer=L.point(*answer),
            distractors=[L.point(*wrong)],
            metadata={"points": [list(p), list(q)], "which": which},
            mc_stem=f"Which of these two points is {'closer to' if which == 'closer' else 'farther from'} the camera?",
        )
        made += 1
        if made >= ctx.limit:
            return


@register("depth_point_closer", family="depth", requires=("depth_map",))
def depth_point_closer(ctx: Context):
    """Which of two points is closer to the camera (depth map)."""
    yield from _point_items(ctx, "closer")


@register("depth_point_farther", family="depth", requires=("depth_map",))
def depth_point_farther(ctx: Context):
    """Which of two points is farther from the camera (depth map)."""
    yield from _point_items(ctx, "farther")


def depth_of(obj: Obj) -> float:
    return float(obj.depth["depth_median"])


def _with_depth(scene: Scene) -> list[tuple[Obj, tuple[str, str, str]]]:
    out = []
    for o in scene.objects:
        if o.depth and o.depth.get("depth_median") is not None:
            ref = referent(scene, o)
            if ref is not None:
                out.append((o, ref))
    return out


OBJECT_TEMPLATES = {
    "closer": (
        "Which is closer to the camera, {a} or {b}?",
        "Between {a} and {b}, which one is nearer to the viewer?",
        "Which of {a} and {b} is closer to the camera?",
    ),
    "farther": (
        "Which is farther from the camera, {a} or {b}?",
        "Between {a} and {b}, which one is further from the viewer?",
        "Which of {a} and {b} is farther from the camera?",
    ),
}


def _object_items(ctx: Context, which: str):
    pool = _with_depth(ctx.scene)
    if len(pool) < 2:
        return
    pairs = [
        (x, y)
        for i, x in enumerate(pool)
        for y in pool[i + 1 :]
        if abs(depth_of(x[0]) - depth_of(y[0])) >= OBJECT_MARGIN and x[1][1] != y[1][1]
    ]
    for (a, ra), (b, rb) in ctx.sampler.sample(
        ctx.rng,
        pairs,
        ctx.limit,
        lambda pr: ctx.sampler.object_weight(pr[0][0].name) + ctx.sampler.object_weight(pr[1][0].name),
    ):
        if ctx.rng.random() < 0.5:
            (a, ra), (b, rb) = (b, rb), (a, ra)
        nearer, farther = (ra, rb) if depth_of(a) > depth_of(b) else (rb, ra)
        answer, wrong = (nearer, farther) if which == "closer" else (farther, nearer)
        question = pick_templates(ctx.rng, OBJECT_TEMPLATES[which]).format(a=ra[0], b=rb[0])
        yield Item(
            key="|".join(sorted([a.object_id, b.object_id])),
            question=question,
            answer=answer[1],
            distractors=[wrong[1]],
            metadata={"object_ids": [a.object_id, b.object_id], "which": which, "referents": [ra[2], rb[2]]},
            mc_stem=f"Which of these is {'closer to' if which == 'closer' else 'farther from'} the camera?",
        )


@register("depth_object_closer", family="depth", requires=("objects", "depth"))
def depth_object_closer(ctx: Context):
    """Which of two objects is closer to the camera (median depth over mask or box)."""
    yield from _object_items(ctx, "closer")


@register("depth_object_farther", family="depth", requires=("objects", "depth"))
def depth_object_farther(ctx: Context):
    """Which of two objects is farther from the camera."""
    yield from _object_items(ctx, "farther")


ANCHOR_TEMPLATES = {
    "closer": (
        "Judging by distance from the camera, which is closer in depth to {anchor}: {a} or {b}?",
        "Which of {a} and {b} is at a depth closer to that of {anchor}?",
    ),
    "farther": (
        "Judging by distance from the camera, which is farther in depth from {anchor}: {a} or {b}?",
        "Which of {a} and {b} is at a depth farther from that of {anchor}?",
    ),
}


def _anchor_items(ctx: Context, which: str):
    pool = _with_depth(ctx.scene)
    if len(pool) < 3:
        return
    made = 0
    for _ in range(6 * ctx.limit):
        trio = ctx.sampler.sample(ctx.rng, pool, 3, lambda c: ctx.sampler.object_weight(c[0].name))
        (anchor, rn), (a, ra), (b, rb) = trio
        if len({rn[1], ra[1], rb[1]}) < 3:
            continue
        gap_a, gap_b = abs(depth_of(a) - depth_of(anchor)), abs(depth_of(b) - depth_of(anchor))
        if abs(gap_a - gap_b) < OBJECT_MARGIN:
            continue
        nearer, farther = (ra, rb) if gap_a < gap_b else (rb, ra)
        answer, wrong = (nearer, farther) if which == "closer" else (farther, nearer)
        question = pick_templates(ctx.rng, ANCHOR_TEMPLATES[which]).format(anchor=rn[0], a=ra[0], b=rb[0])
        yield Item(
            key=f"{anchor.object_id}|" + "|".join(sorted([a.object_id, b.object_id])),
            question=question,
            answer=answer[1],
            distractors=[wrong[1]],
            metadata={
                "anchor_id": anchor.object_id,
                "object_ids": [a.object_id, b.object_id],
                "which": which,
                "referents": [rn[2], ra[2], rb[2]],
            },
            mc_stem=f"Which of these is {'closer in depth to' if which == 'closer' else 'farther in depth from'} {rn[0]}?",
        )
        made += 1
        if made >= ctx.limit:
            return


@register("depth_anchor_closer", family="depth", requires=("objects", "depth"))
def depth_anchor_closer(ctx: Context):
    """Which of two objects is closer in depth to an anchor object."""
    yield from _anchor_items(ctx, "closer")


@register("depth_anchor_farther", family="depth", requires=("objects", "depth"))
def depth_anchor_farther(ctx: Context):
    """Which of two objects is farther in depth from an anchor object."""
    yield from _anchor_items(ctx, "farther")
