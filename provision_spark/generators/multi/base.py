"""What every multi-image generator shares: its parameters, the *facts* row it produces, registration.

A multi-image generator is three small pieces, registered together under one name:

- ``facts(inputs, params) -> DataFrame``: relational (joins, anti-joins, group-bys, windows) - which
  images, in which order, and the facts the answer rests on, as columns ``FACT_COLUMNS``;
- ``render(row, rng) -> Text``: the English (question, answer, wrong choices) from a row's
  ``facts`` and ``n_images``, in Python, with the shared ``language`` helpers;
- ``truth(m, facts) -> Column``: the checker's re-derivation of ``facts`` as an expression over
  ``m`` (``measures.Images``), what each of the item's images holds re-counted from the flat tables.

The engine runs whatever is registered with ``kind="multi"``; adding a generator means writing a
module under ``generators/multi`` with one ``@multi_generator(...)``, nothing else.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from provision_spark.generators import registry
from provision_spark.generators.multi.inputs import MultiInputs
from provision_spark.generators.multi.measures import Images
from provision_spark.generators.multi.sampling import Buckets, draw, first_rounds, place, runs, uniform_position
from provision_spark.lakehouse.session import work_partitions

#: The facts every generator fills (what it does not use stays null). Stored as the row's metadata.
FACTS_DDL = (
    "name string, attribute string, subject string, predicate string, object string, "
    "answer_index int, counts array<int>, total int, sets array<array<string>>, "
    "common array<string>, others array<string>"
)
FACT_FIELDS = [f.split(" ")[0] for f in FACTS_DDL.split(", ")]

#: Columns of a generator's ``facts`` DataFrame.
FACT_COLUMNS = ["instruction_id", "generator", "source", "item_key", "image_ids", "facts", "anchor_rank", "anchor_hash"]


@dataclasses.dataclass(frozen=True)
class Params:
    """One run's knobs: images per question, items wanted per generator, seed."""

    k: int = 2
    count: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.k <= 4:
            raise ValueError(f"k must be 2, 3 or 4 images, not {self.k}")
        if self.count < 0:
            raise ValueError("count must be >= 0")

    def anchors_wanted(self, oversample: float) -> int:
        """Candidate items to build for ``count`` to survive the generator's own filters."""
        return int(self.count * oversample) + 16


@dataclasses.dataclass(frozen=True)
class Text:
    """An item's English. The multiple-choice form asks ``mc_stem`` (default: the question) with
    ``mc_answer`` (default: the answer) among ``distractors``."""

    question: str
    answer: str
    distractors: list[str]
    mc_stem: str | None = None
    mc_answer: str | None = None


def same_answer_choices(truth: dict[str, Any], answer: str | None, choices: list[str], correct: int) -> str | None:
    """Default multiple-choice check: the right choice is the answer, no other choice is."""
    if choices[correct] != answer:
        return f"choice {correct} is {choices[correct]!r}, not the answer {answer!r}"
    if choices.count(answer) != 1:
        return f"the answer {answer!r} is offered more than once"
    return None


@dataclasses.dataclass(frozen=True)
class MultiGenerator:
    name: str
    family: str
    requires: tuple[str, ...]
    facts: Callable[[MultiInputs, Params], DataFrame]
    render: Callable[[dict[str, Any], random.Random], Text]
    answer: Callable[[dict[str, Any]], str | None]
    truth: Callable[[Images, Column], Column]
    check_choices: Callable[[dict[str, Any], str | None, list[str], int], str | None]


MULTI: dict[str, MultiGenerator] = {}


def multi_generator(
    name: str,
    *,
    family: str,
    requires: tuple[str, ...],
    render: Callable[[dict[str, Any], random.Random], Text],
    answer: Callable[[dict[str, Any]], str | None],
    truth: Callable[[Images, Column], Column],
    check_choices: Callable[[dict[str, Any], str | None, list[str], int], str | None] = same_answer_choices,
) -> Callable[[Callable[[MultiInputs, Params], DataFrame]], Callable[[MultiInputs, Params], DataFrame]]:
    """Register a relational multi-image generator in the shared registry (``kind="multi"``).

    ``answer(facts)`` is the short answer the facts imply (None when they imply none): the
    renderer uses it and the checker compares it with the stored answer. ``check_choices(truth,
    answer, choices, correct_index)`` says what is wrong with the multiple-choice form, or None.
    """

    def decorate(fn: Callable[[MultiInputs, Params], DataFrame]) -> Callable[[MultiInputs, Params], DataFrame]:
        registry.register(
            name,
            family=family,
            kind="multi",
            requires=requires,
            n_images=(2, 4),
            description=(fn.__doc__ or "").strip().split("\n")[0],
        )(fn)
        MULTI[name] = MultiGenerator(name, family, requires, fn, render, answer, truth, check_choices)
        return fn

    return decorate


def multi_generators(names: list[str] | None = None) -> list[MultiGenerator]:
    """The registered multi-image generators (all, or ``names``), in registry order."""
    return [MULTI[spec.name] for spec in registry.registered(kind="multi", names=names)]


# --------------------------------------------------------------------------- assembling facts
def facts_struct(**values: Column) -> Column:
    """The ``facts`` struct with the given fields set and every other field null."""
    types = dict(f.split(" ", 1) for f in FACTS_DDL.split(", "))
    return F.struct(
        *[(values[field] if field in values else F.lit(None)).cast(types[field]).alias(field) for field in FACT_FIELDS]
    )


def image_ids_of(drawn: Column) -> Column:
    """Image ids from an array of drawn structs (the field taken from every struct, compiled)."""
    return drawn["image_id"]


def anchored(
    pool: DataFrame,
    keys: list[str],
    params: Params,
    generator: str,
    oversample: float | None = None,
    *,
    followers: int = 0,
    payload: tuple[str, ...] = (),
) -> DataFrame:
    """Anchor items: ``pool`` rows (key, image), each with its key's next ``followers`` images (``others``).

    ``chosen`` holds the item's image ids so far. With ``oversample`` only the first rounds over
    keys that give ``count * oversample`` anchors are kept: worth it before draws and filters, which
    cost per item.
    """
    pool = pool.select("source", *keys, "image_id", *payload)
    rows = runs(pool, keys, followers, params.seed, generator, payload)
    if oversample is not None:
        rows = first_rounds(rows, pool, keys, params.anchors_wanted(oversample), followers)
    return rows.withColumn("item_id", item_id(generator, *keys, "image_id")).withColumn(
        "chosen", F.concat(F.array("image_id"), image_ids_of(F.col("others")))
    )


def draw_ids(items: DataFrame, buckets: Buckets, n: int, params: Params, tag: str, **options: Any) -> DataFrame:
    """``draw`` keeping only image ids (``tag``: array<string>), and the ids added to ``chosen``."""
    drawn = draw(items, buckets, n=n, seed=params.seed, tag=tag, **options)
    return drawn.withColumn(tag, image_ids_of(F.col(tag))).withColumn("chosen", F.concat("chosen", tag))


def with_keys(df: DataFrame, inputs: MultiInputs, kind: str, column: str, out: str) -> DataFrame:
    """Join the meaning-group ids of ``column`` (a name, attribute or predicate) as array ``out``."""
    table = inputs.keys_of(kind)
    return df.join(table.withColumnRenamed(kind, column), column).withColumnRenamed(f"{kind}_keys", out)


def answer_first(df: DataFrame, answer: Column, others: Column, params: Params, tag: str) -> DataFrame:
    """Put the answer image at a uniformly drawn position among the others: ``image_ids`` and ``answer_index``."""
    position = uniform_position(params.seed, tag + "/position", params.k, "item_id")
    return df.withColumn("answer_index", position).withColumn("image_ids", place(others, answer, F.col("answer_index")))


def finish(df: DataFrame, generator: str, facts: Column, params: Params, unique_sets: bool = False) -> DataFrame:
    """The generator's output: ``FACT_COLUMNS``, at most ``params.count`` rows, in the anchors'
    round-robin order (every key once before any key twice).

    ``unique_sets``: keep one item per question (what it asks about, and the set of images), for
    generators where two anchors can lead to the same question about the same images.
    """
    out = (
        df.withColumn("generator", F.lit(generator))
        .withColumn("item_key", F.col("item_id"))
        .withColumn("facts", facts)
        .withColumn("instruction_id", instruction_id(params.seed))
        .select(*FACT_COLUMNS)
    )
    if unique_sets:
        asked = [F.col(f"facts.{f}") for f in ("name", "attribute", "subject", "predicate", "object")]
        first = Window.partitionBy("source", *asked, F.array_sort("image_ids")).orderBy(
            "anchor_rank", "anchor_hash", "item_key"
        )
        out = out.withColumn("_n", F.row_number().over(first)).filter(F.col("_n") == 1).drop("_n")
    # a sort-and-limit ends in one task: the rows are spread again for the checking and wording, over
    # a fixed number of tasks (left to itself, adaptive execution would merge the small facts rows
    # into one task, and the costly checking and wording that follow would run in it alone)
    spread = work_partitions(df.sparkSession)
    return (
        out.orderBy("anchor_rank", "anchor_hash", "item_key").limit(params.count).repartition(spread, "instruction_id")
    )


def instruction_id(seed: int) -> Column:
    """``ids.instruction_id`` as a column: sha256 of (generator, image ids, seed, item key), 32 hex digits."""
    text = F.concat_ws(
        "\x1f", F.col("generator"), F.array_join("image_ids", "\x1e"), F.lit(str(seed)), F.col("item_key")
    )
    return F.substring(F.sha2(text, 256), 1, 32)


def item_id(generator: str, *cols: str) -> Column:
    """A readable key of the item: generator and the anchor's columns (unique per generator)."""
    return F.concat_ws("|", F.lit(generator), *[F.col(c) for c in cols])


def shuffled(params: Params, every: Column) -> Column:
    """The item's ``params.k`` images (structs with ``image_id``) in a seeded order: none is always first.

    Written out image by image and ordered by ``sort_array``, which Spark compiles (``array_sort``
    and ``transform`` take lambdas, interpreted for every element of every item).
    """
    keyed = F.sort_array(
        F.array(
            *[
                F.struct(
                    F.xxhash64(F.lit(params.seed), F.col("item_id"), every[i]["image_id"]).alias("h"),
                    every[i].alias("s"),
                )
                for i in range(params.k)
            ]
        )
    )
    return keyed["s"]
