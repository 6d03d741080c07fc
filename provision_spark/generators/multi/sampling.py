"""Seeded sampling as relational operations: hash orderings, balanced anchors, hash-bucket draws.

Every random choice is ``xxhash64(seed, tag, <content>)``, never ``rand()``: the same seed and data
give the same items whatever the partitioning. Nothing here grows with the corpus per item: a draw
joins each item with one hash bucket of its pool (about ``candidates`` images), not the whole pool.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def hash_of(seed: int, tag: str, *cols: Column | str) -> Column:
    """A seeded 64-bit hash of ``cols``; ``tag`` keeps the choices of different steps independent."""
    return F.xxhash64(F.lit(seed), F.lit(tag), *[F.col(c) if isinstance(c, str) else c for c in cols])


def anchors(pool: DataFrame, keys: Sequence[str], want: int, seed: int, tag: str) -> DataFrame:
    """``want`` rows of ``pool`` spread round-robin over ``keys``: every key's first row before any second.

    Adds ``anchor_rank`` (the round) and ``anchor_hash``; the order is a total order on content.
    """
    keyed = pool.withColumn("anchor_hash", hash_of(seed, tag, *keys, "image_id"))
    ranked = keyed.withColumn(
        "anchor_rank",
        F.row_number().over(Window.partitionBy("source", *keys).orderBy("anchor_hash", "image_id")),
    ).filter(F.col("anchor_rank") <= want)
    key_hash = hash_of(seed, tag + "/key", "source", *keys)
    return ranked.orderBy("anchor_rank", key_hash, "anchor_hash", "image_id").limit(want)


def draw(
    items: DataFrame,
    pool: DataFrame,
    *,
    keys: Sequence[str],
    n: int,
    seed: int,
    tag: str,
    payload: Sequence[str] = (),
    forbidden: Sequence[tuple[str, str]] = (),
    exclude: str = "chosen",
    candidates: int | None = None,
) -> DataFrame:
    """Add ``tag``: an array of ``n`` structs ``(image_id, *payload)`` drawn from ``pool`` for each item.

    ``items`` has ``item_id``, ``source``, ``keys`` and ``exclude`` (image ids already in the set);
    ``pool`` has ``source``, ``keys``, ``image_id`` and ``payload``. Pool and items are hashed into
    ``size // candidates`` buckets per key and equi-joined on the bucket, so each item sees a few
    dozen candidates whatever the pool's size. Each ``forbidden`` pair (item column, pool column)
    holds meaning keys: a candidate whose image shares one with the item is dropped (the anti-join
    that keeps synonyms out of distractors). Items that cannot be given ``n`` images are dropped;
    the caller counts them as shortfall.
    """
    per_bucket = candidates or 12 * n + 12
    join_keys = ["source", *keys]
    carried = ["image_id", *payload, *[p for _, p in forbidden if p not in payload]]
    sizes = pool.groupBy(*join_keys).agg(F.count(F.lit(1)).alias("_size")).withColumn(
        "_buckets", F.greatest(F.lit(1), F.floor(F.col("_size") / per_bucket)).cast("long")
    ).drop("_size")
    bucketed_pool = pool.select(*join_keys, *[F.col(c).alias(f"_c_{c}") for c in carried]).join(sizes, join_keys)
    bucketed_pool = bucketed_pool.withColumn(
        "_bucket", F.pmod(hash_of(seed, tag + "/pool", "_c_image_id"), F.col("_buckets"))
    ).drop("_buckets")
    bucketed_items = items.join(sizes, join_keys).withColumn(
        "_bucket", F.pmod(hash_of(seed, tag + "/item", "item_id"), F.col("_buckets"))
    ).drop("_buckets")
    # only the buckets some item asked for travel to the join: a draw costs in items, not pool size
    asked = bucketed_items.select(*join_keys, "_bucket").distinct()
    bucketed_pool = bucketed_pool.join(asked, [*join_keys, "_bucket"], "left_semi")
    cand = bucketed_items.join(bucketed_pool, [*join_keys, "_bucket"]).filter(
        ~F.array_contains(F.col(exclude), F.col("_c_image_id"))
    )
    for item_col, pool_col in forbidden:
        cand = cand.filter(~F.arrays_overlap(F.col(item_col), F.col(f"_c_{pool_col}")))
    order = hash_of(seed, tag + "/pick", "item_id", "_c_image_id")
    drawn = F.struct(order.alias("_h"), F.col("_c_image_id").alias("image_id"), *[F.col(f"_c_{p}").alias(p) for p in payload])
    picked = F.slice(F.array_sort(F.collect_list(drawn)), 1, n)
    return cand.groupBy(*items.columns).agg(picked.alias(tag)).filter(F.size(tag) == n).withColumn(
        tag, F.transform(tag, lambda s: F.struct(s["image_id"].alias("image_id"), *[s[p].alias(p) for p in payload]))
    )


def place(others: Column, chosen: Column, position: Column) -> Column:
    """``others`` with ``chosen`` inserted at 0-based ``position``."""
    return F.concat(F.slice(others, 1, position), F.array(chosen), F.slice(others, position + 1, F.size(others)))


def uniform_position(seed: int, tag: str, n: Column | int, *cols: Column | str) -> Column:
    """A position uniform on ``[0, n)`` from the hash of ``cols``: where the right answer goes."""
    size = n if isinstance(n, Column) else F.lit(n)
    return F.pmod(hash_of(seed, tag, *cols), size).cast("int")
