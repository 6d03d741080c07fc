"""Seeded sampling as relational operations: hash orderings, runs of images per key, bucket draws.

Every random choice is ``xxhash64(seed, tag, <content>)``, never ``rand()``: the same seed and data
give the same items whatever the partitioning. Two ways to put images together, both costing in the
number of items, never in the pool's size per item:

- **runs** (``runs``): the images holding a key, in a seeded random order; each image is an anchor
  followed by the next ones (``lead`` over one window). "k images that all hold X" is one sort of
  the pool, no join.
- **bucket draws** (``bucketed`` + ``draw``): a pool cut once per run into hash buckets of about
  ``PER_BUCKET`` images, each bucket one row holding its images as an array in a hash order. An
  item joins one bucket (its key's, picked by the item's hash), reads it from a point its hash
  picks and keeps the first candidates that pass its filters (not already chosen; no meaning key in
  common with the question: the anti-join that keeps "a man" out of the distractors of "which
  image has a person?").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: Images per draw bucket: enough for three valid candidates even when most images hold the key.
PER_BUCKET = 16


def hash_of(seed: int, tag: str, *cols: Column | str) -> Column:
    """A seeded 64-bit hash of ``cols``; ``tag`` keeps the choices of different steps independent."""
    return F.xxhash64(F.lit(seed), F.lit(tag), *[F.col(c) if isinstance(c, str) else c for c in cols])


def runs(pool: DataFrame, keys: Sequence[str], n: int, seed: int, tag: str, payload: Sequence[str] = ()) -> DataFrame:
    """Every ``pool`` row as an anchor, with ``others``: the ``n`` rows after it in its key's seeded order.

    Adds ``anchor_rank`` (1 for the key's first image in that order, ...) and ``anchor_hash``; rows
    with fewer than ``n`` followers are dropped. ``others`` holds structs ``(image_id, *payload)``.
    """
    anchor_hash = hash_of(seed, tag, *keys, "image_id")
    order = Window.partitionBy("source", *keys).orderBy("anchor_hash", "image_id")
    fields = ["image_id", *payload]
    follower = lambda j: F.struct(*[F.lead(f, j).over(order).alias(f) for f in fields])  # noqa: E731
    others = F.array(*[follower(j) for j in range(1, n + 1)]) if n else F.array().cast(_structs(pool, fields))
    ranked = pool.withColumn("anchor_hash", anchor_hash).select(
        "*",
        F.row_number().over(order).alias("anchor_rank"),
        others.alias("others"),
    )
    return ranked.filter(F.col("others")[n - 1]["image_id"].isNotNull()) if n else ranked


def _structs(pool: DataFrame, fields: Sequence[str]) -> str:
    types = dict(pool.dtypes)
    return "array<struct<" + ",".join(f"{f}:{types[f]}" for f in fields) + ">>"


def first_rounds(rows: DataFrame, pool: DataFrame, keys: Sequence[str], want: int, followers: int = 0) -> DataFrame:
    """``runs`` rows of the first rounds over keys: every key's rank 1, then every key's rank 2, ...
    up to the round that brings at least ``want`` rows. Spreads items over rare and common keys alike.

    The round is found from the histogram of key sizes (one small query), so the cut is a filter:
    it stays spread over the cluster, unlike a sort-and-limit.
    """
    anchors = (F.count(F.lit(1)) - followers).alias("anchors")  # the last ``followers`` rows lead no run
    histogram = pool.groupBy("source", *keys).agg(anchors).filter("anchors > 0").groupBy("anchors").count().collect()
    return rows.filter(F.col("anchor_rank") <= rounds_for(want, {int(size): int(n) for size, n in histogram}))


def rounds_for(want: int, keys_of_size: dict[int, int]) -> int:
    """Fewest rounds r with sum over keys of min(size, r) >= want (every round if never)."""
    below, keys_left, largest = 0, sum(keys_of_size.values()), 1
    for size in sorted(keys_of_size):
        # for r up to ``size``: rows = below + r * keys_left
        if below + size * keys_left >= want:
            return max(1, -(-(want - below) // keys_left))
        below += size * keys_of_size[size]
        keys_left -= keys_of_size[size]
        largest = size
    return largest


@dataclasses.dataclass(frozen=True)
class Buckets:
    """A pool cut into hash buckets per key: ``frame`` (source, keys, _bucket, cands) and ``sizes``
    (source, keys, _buckets: how many buckets the key has)."""

    keys: tuple[str, ...]
    frame: DataFrame
    sizes: DataFrame

    def persist(self) -> Buckets:
        self.frame.persist(StorageLevel.MEMORY_AND_DISK)
        self.sizes.persist(StorageLevel.MEMORY_AND_DISK)
        return self

    def unpersist(self) -> None:
        self.frame.unpersist()
        self.sizes.unpersist()


def bucketed(pool: DataFrame, keys: Sequence[str], carried: Sequence[str], seed: int) -> Buckets:
    """``pool`` (source, keys, image_id, carried) as buckets of about ``PER_BUCKET`` images per key."""
    join_keys = ["source", *keys]
    sizes = pool.groupBy(*join_keys).agg(
        F.greatest(F.lit(1), F.floor(F.count(F.lit(1)) / PER_BUCKET)).cast("long").alias("_buckets")
    )
    bucket = F.pmod(hash_of(seed, "bucket", "image_id"), F.col("_buckets")).alias("_bucket")
    frame = (
        pool.join(F.broadcast(sizes), join_keys)
        .select(
            *join_keys, bucket, F.struct(hash_of(seed, "order", "image_id").alias("h"), "image_id", *carried).alias("c")
        )
        .groupBy(*join_keys, "_bucket")
        .agg(F.array_sort(F.collect_list("c")).alias("cands"))
    )
    return Buckets(tuple(keys), frame, sizes)


def draw(
    items: DataFrame,
    buckets: Buckets,
    *,
    n: int,
    seed: int,
    tag: str,
    keys: Sequence[str] = (),
    forbidden: Sequence[tuple[str, str]] = (),
    exclude: str = "chosen",
) -> DataFrame:
    """Add ``tag``: an array of ``n`` candidate structs drawn for each item from one bucket of its key.

    ``items`` has ``item_id``, ``source``, ``keys`` (named as in ``buckets.keys``, in order) and
    ``exclude`` (image ids already in the set). Each ``forbidden`` pair (item column, candidate
    field) holds meaning keys: a candidate sharing one with the item is skipped. Items whose bucket
    cannot give ``n`` candidates are dropped; the caller counts them as shortfall.
    """
    renamed = dict(zip(buckets.keys, keys or buckets.keys))
    on = ["source", *[renamed[k] for k in buckets.keys]]
    sizes = buckets.sizes.select("source", *[F.col(k).alias(renamed[k]) for k in buckets.keys], "_buckets")
    frame = buckets.frame.select("source", *[F.col(k).alias(renamed[k]) for k in buckets.keys], "_bucket", "cands")
    with_bucket = (
        items.join(F.broadcast(sizes), on)
        .withColumn("_bucket", F.pmod(hash_of(seed, tag + "/item", "item_id"), F.col("_buckets")))
        .drop("_buckets")
    )

    def allowed(c: Column) -> Column:
        ok = ~F.array_contains(F.col(exclude), c["image_id"])
        for item_col, field in forbidden:
            ok = ok & ~F.coalesce(F.arrays_overlap(F.col(item_col), c[field]), F.lit(False))
        return ok

    # the bucket's images in its own (hash) order, read from a point the item's hash picks; most
    # items find their n among the first n + 2 (picked out by position, without copying the
    # bucket), and only the others filter the whole rotated bucket
    size, m = F.size("cands"), n + 2
    start = F.pmod(hash_of(seed, tag + "/start", "item_id"), size).cast("int")
    first = F.slice(
        F.filter(F.array(*[F.get(F.col("cands"), F.pmod(start + j, size)) for j in range(m)]), allowed), 1, n
    )
    rotated = F.concat(F.slice("cands", start + 1, size), F.slice("cands", 1, start))
    whole = F.slice(F.filter(rotated, allowed), 1, n)
    return (
        with_bucket.join(frame, [*on, "_bucket"])
        .select("*", made_once(_first=F.when(size >= m, first)))
        .select("*", made_once(**{tag: F.when(F.size("_first") == n, F.col("_first")).otherwise(whole)}))
        .drop("_bucket", "cands", "_first")
        .filter(F.size(tag) == n)
    )


def made_once(**columns: Column) -> Column:
    """``columns`` made by one generator (``inline``), for a ``select("*", ...)``: each is then
    computed once per row.

    A filter on a projected column is pushed below the projection (into a join's condition, even),
    so an expensive column filtered on would be computed for the filter and again above it.
    """
    return F.inline(F.array(F.struct(*[c.alias(name) for name, c in columns.items()])))


def place(others: Column, chosen: Column, position: Column) -> Column:
    """``others`` with ``chosen`` inserted at 0-based ``position``."""
    return F.concat(F.slice(others, 1, position), F.array(chosen), F.slice(others, position + 1, F.size(others)))


def uniform_position(seed: int, tag: str, n: Column | int, *cols: Column | str) -> Column:
    """A position uniform on ``[0, n)`` from the hash of ``cols``: where the right answer goes."""
    size = n if isinstance(n, Column) else F.lit(n)
    return F.pmod(hash_of(seed, tag, *cols), size).cast("int")
