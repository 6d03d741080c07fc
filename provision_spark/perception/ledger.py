"""The perception ledger: (stage, image, model version, input version) -> done or quarantined.

Output rows alone cannot say whether an image was processed: an image with no detections, or an
object with no recognisable attribute, leaves none. The ledger records every processed unit so a
re-run skips exactly those, whatever they produced. Its schema is ``schemas/perception_ledger.yaml``
beside this module, in the project's schema format.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from provision_spark.config import Settings

NAME = "perception_ledger"
SPEC_FILE = Path(__file__).resolve().parent / "schemas" / f"{NAME}.yaml"


def _spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text())


def table(settings: Settings) -> str:
    return f"{settings.namespace}.{NAME}"


def ensure(spark: SparkSession, settings: Settings) -> None:
    spec = _spec()
    columns = ",\n  ".join(
        f"`{c['name']}` {c['type']}{'' if c.get('nullable', True) else ' NOT NULL'} COMMENT '{_escape(c.get('comment', ''))}'"
        for c in spec["columns"]
    )
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {settings.namespace}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {table(settings)} (\n  {columns}\n) USING DELTA "
              f"COMMENT '{_escape(spec['description'])}'")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def processed(spark: SparkSession, settings: Settings, stage: str, model_version: str, input_version: str) -> DataFrame:
    """Image ids this stage already handled with this model on this input."""
    return (
        spark.table(table(settings))
        .filter((F.col("stage") == stage) & (F.col("model_version") == model_version)
                & (F.col("input_version") == input_version))
        .select("image_id")
    )


def record(spark: SparkSession, settings: Settings, entries: DataFrame) -> None:
    """MERGE ``entries`` (the spec's columns) on the keys; re-recording a unit updates it."""
    from delta.tables import DeltaTable

    spec = _spec()
    source = entries.select(*[F.col(c["name"]).cast(c["type"]) for c in spec["columns"]]).dropDuplicates(spec["keys"])
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in spec["keys"])
    (
        DeltaTable.forName(spark, table(settings)).alias("t")
        .merge(source.alias("s"), on)
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
