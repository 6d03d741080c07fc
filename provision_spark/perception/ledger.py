"""The perception ledger: (stage, image, model version, input version) -> done or quarantined.

Output rows alone cannot say whether an image was processed: an image with no detections, or an
object with no recognisable attribute, leaves none. The ledger records every processed unit so a
re-run skips exactly those, whatever they produced. It is an ordinary table of the lakehouse
(``schemas/perception_ledger.yaml``), created and MERGEd by :mod:`provision_spark.lakehouse.tables`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.lakehouse import tables
from provision_spark.lakehouse.config import Settings

NAME = "perception_ledger"


def table(settings: Settings) -> str:
    return tables.table_name(settings, NAME)


def ensure(spark: SparkSession, settings: Settings) -> None:
    tables.ensure_tables(spark, settings, [NAME])


def processed(spark: SparkSession, settings: Settings, stage: str, model_version: str, input_version: str) -> DataFrame:
    """Image ids this stage already handled with this model on this input."""
    return (
        tables.read_table(spark, settings, NAME)
        .filter(
            (F.col("stage") == stage)
            & (F.col("model_version") == model_version)
            & (F.col("input_version") == input_version)
        )
        .select("image_id")
    )


def record(spark: SparkSession, settings: Settings, entries: DataFrame) -> None:
    """MERGE ``entries`` on the ledger's keys; re-recording a unit updates it."""
    tables.merge_into(spark, settings, NAME, entries)
