"""Rows that cannot be used go to the ``quarantine`` table with a reason, never silently away."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def reason_of(*rules: tuple[Column, str | Column]) -> Column:
    """The first failing rule's reason, or null when the row is valid: ``reason_of((cond, why), ...)``."""
    reason: Column = F.lit(None).cast("string")
    for condition, why in reversed(rules):
        reason = F.when(condition, why if isinstance(why, Column) else F.lit(why)).otherwise(reason)
    return reason


def to_quarantine(
    df: DataFrame,
    *,
    dataset: str | Column,
    entity: str,
    stage: str,
    key_cols: Sequence[str],
    reason_col: str = "reason",
    payload: Column | None = None,
) -> DataFrame:
    """Rows of ``df`` in the quarantine table's shape; the payload defaults to the whole row as JSON."""
    data_cols = [c for c in df.columns if c != reason_col]
    record_key = F.concat_ws("/", *[F.coalesce(F.col(k).cast("string"), F.lit("?")) for k in key_cols])
    dataset_col = dataset if isinstance(dataset, Column) else F.lit(dataset)
    return df.select(
        dataset_col.alias("dataset"),
        F.lit(entity).alias("entity"),
        record_key.alias("record_key"),
        F.lit(stage).alias("stage"),
        F.col(reason_col).alias("reason"),
        (payload if payload is not None else F.to_json(F.struct(*data_cols))).alias("payload"),
    ).withColumn(
        "quarantine_id",
        F.sha2(F.concat_ws("\u0001", "dataset", "entity", "record_key", "stage", "reason"), 256),
    )


def split_valid(df: DataFrame, reason: Column) -> tuple[DataFrame, DataFrame]:
    """(valid rows, rejected rows with a ``reason`` column) for one validation pass."""
    checked = df.withColumn("reason", reason)
    return checked.filter(F.col("reason").isNull()).drop("reason"), checked.filter(F.col("reason").isNotNull())


def failed_instructions(rows: DataFrame, reason_col: str) -> DataFrame:
    """Instructions rows the checker refused, in the quarantine table's shape (single- and multi-image
    alike): keyed by generator, first image and instruction id, the item as the payload."""
    return to_quarantine(
        rows.select(
            "instruction_id",
            "generator",
            F.col("image_ids")[0].alias("image_id"),
            F.col(reason_col).alias("reason"),
            F.to_json(
                F.struct("generator", "image_ids", "question", "answer", "choices", "correct_index", "metadata")
            ).alias("payload"),
            F.element_at(F.split(F.col("image_ids")[0], "/"), 1).alias("dataset"),
        ),
        dataset=F.col("dataset"),
        entity="instruction",
        stage="check",
        key_cols=["generator", "image_id", "instruction_id"],
        payload=F.col("payload"),
    )
