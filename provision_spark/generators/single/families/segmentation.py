"""Segmentation (2): given three points, which one lies on the same object as the first; which lies on
a different object. Points are on a 0.01 grid of normalised coordinates and each lies on exactly
one object's mask, so the answer is unambiguous."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from provision_spark.generators import language as L
from provision_spark.generators.registry import Context, Item, register
from provision_spark.generators.scene import Scene
from provision_spark.generators.single.common import pick_templates

GRID = np.arange(1, 100) / 100.0
#: Two points on the same object are at least this far apart (normalised units).
MIN_SEPARATION = 0.05


def decode(mask) -> np.ndarray:
    """A ``scene_graphs`` mask struct -> bool array (height, width)."""
    rle = {"size": [int(mask["height"]), int(mask["width"])], "counts": mask["rle_counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)


def grid_pixel(value: float, size: int) -> int:
    """Normalised coordinate -> pixel index (the rule the checker uses too)."""
    return min(size - 1, max(0, int(value * size)))


def exclusive_points(scene: Scene) -> dict[str, list[tuple[float, float]]]:
    """object_id -> grid points that lie on its mask and on no other object's mask (memoised per scene)."""
    if "exclusive_points" not in scene.memo:
        scene.memo["exclusive_points"] = _exclusive_points(scene)
    return scene.memo["exclusive_points"]


def _exclusive_points(scene: Scene) -> dict[str, list[tuple[float, float]]]:
    with_masks = [o for o in scene.objects if o.mask and o.mask.get("rle_counts")]
    if len(with_masks) < 2:
        return {}
    h, w = int(with_masks[0].mask["height"]), int(with_masks[0].mask["width"])
    rows = np.array([grid_pixel(v, h) for v in GRID])
    cols = np.array([grid_pixel(v, w) for v in GRID])
    sampled = []
    for o in with_masks:
        m = decode(o.mask)
        if m.shape != (h, w):
            return {}
        sampled.append(m[np.ix_(rows, cols)])  # (len(GRID) y, len(GRID) x)
    stack = np.stack(sampled)
    alone = stack.sum(axis=0) == 1
    out: dict[str, list[tuple[float, float]]] = {}
    for o, m in zip(with_masks, stack):
        ys, xs = np.nonzero(m & alone)
        if len(ys):
            out[o.object_id] = [(float(GRID[x]), float(GRID[y])) for y, x in zip(ys, xs)]
    return out


SAME_TEMPLATES = (
    "The point {p} lies on an object. Which of the points {a} and {b} lies on the same object?",
    "Consider the points {p}, {a} and {b} (normalised x, y). Which of the last two is on the same object as {p}?",
    "Which point is on the same object as the point {p}: {a} or {b}?",
)
DIFFERENT_TEMPLATES = (
    "The point {p} lies on an object. Which of the points {a} and {b} lies on a different object?",
    "Consider the points {p}, {a} and {b} (normalised x, y). Which of the last two is on another object than {p}?",
    "Which point is on a different object from the point {p}: {a} or {b}?",
)


def _points(ctx: Context, relation: str):
    scene = ctx.scene
    points = exclusive_points(scene)
    if len(points) < 2:
        return
    ids = sorted(points)
    made = 0
    for _ in range(3 * ctx.limit + 3):
        owners = [i for i in ids if len(points[i]) >= 2]
        if not owners:
            return
        first = ctx.rng.choice(owners)
        other = ctx.rng.choice([i for i in ids if i != first])
        p1 = ctx.rng.choice(points[first])
        far = [q for q in points[first] if max(abs(q[0] - p1[0]), abs(q[1] - p1[1])) >= MIN_SEPARATION]
        if not far:
            continue
        p2 = ctx.rng.choice(far)
        p3 = ctx.rng.choice(points[other])
        same, different = L.point(*p2), L.point(*p3)
        shown = [p2, p3] if ctx.rng.random() < 0.5 else [p3, p2]
        templates = SAME_TEMPLATES if relation == "same" else DIFFERENT_TEMPLATES
        question = pick_templates(ctx.rng, templates).format(p=L.point(*p1), a=L.point(*shown[0]), b=L.point(*shown[1]))
        answer, wrong = (same, different) if relation == "same" else (different, same)
        stem = (
            f"Which point is on the same object as the point {L.point(*p1)}?"
            if relation == "same"
            else f"Which point is on a different object from the point {L.point(*p1)}?"
        )
        yield Item(
            key=f"{L.point(*p1)}|{same}|{different}",
            question=question,
            answer=answer,
            distractors=[wrong],
            metadata={
                "points": [list(p1), list(shown[0]), list(shown[1])],
                "relation": relation,
                "object_ids": [first, other],
            },
            mc_stem=stem,
        )
        made += 1
        if made >= ctx.limit:
            return


@register("seg_same_object", family="segmentation", requires=("objects", "masks"))
def seg_same_object(ctx: Context):
    """Which of two points lies on the same object as a first point (masks)."""
    yield from _points(ctx, "same")


@register("seg_different_object", family="segmentation", requires=("objects", "masks"))
def seg_different_object(ctx: Context):
    """Which of two points lies on a different object than a first point (masks)."""
    yield from _points(ctx, "different")
