"""Table specs from ``schemas/*.yaml`` (the one source of truth) and the idempotent Delta writer.

Writers, readers and tests all go through ``schema_of``/``merge_into`` so a column is defined in
exactly one place. Writes are MERGEs on the table's keys: re-running a job never duplicates rows,
and a row whose content did not change is not rewritten.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import yaml
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StructField, StructType

from provision_spark.lakehouse.config import Settings

#: Columns that record who wrote a row; a re-run with the same content keeps the first writer.
BOOKKEEPING_COLUMNS = ("run_id",)


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    nullable: bool
    comment: str


@dataclasses.dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    keys: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    properties: tuple[tuple[str, str], ...] = ()  # Delta table properties set when the table is created

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def schemas_dir() -> Path:
    """``schemas/`` in a source checkout, or the copy packaged into the wheel."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "schemas", package / "_schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("schemas/ not found beside the package nor inside it")


def table_names() -> list[str]:
    return sorted(p.stem for p in schemas_dir().glob("*.yaml"))


@functools.cache
def spec(name: str) -> TableSpec:
    raw = yaml.safe_load((schemas_dir() / f"{name}.yaml").read_text())
    columns = tuple(
        ColumnSpec(c["name"], c["type"], bool(c.get("nullable", True)), c.get("comment", "")) for c in raw["columns"]
    )
    properties = tuple((str(k), str(v)) for k, v in (raw.get("properties") or {}).items())
    return TableSpec(raw["name"], raw.get("description", ""), tuple(raw["keys"]), columns, properties)


@functools.cache
def schema_of(name: str) -> StructType:
    """The table's Spark schema (needs a running SparkSession to parse the DDL types)."""
    return StructType(
        [StructField(c.name, _parse_type(c.type), c.nullable, {"comment": c.comment}) for c in spec(name).columns]
    )


def _parse_type(ddl: str) -> DataType:
    return DataType.fromDDL(ddl)


def table_name(settings: Settings, name: str) -> str:
    spec(name)  # fail early on an unknown table
    return f"{settings.namespace}.{name}"


def ensure_tables(spark: SparkSession, settings: Settings, names: list[str] | None = None) -> None:
    """Create the schema and the (empty) Delta tables that do not exist yet."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {settings.namespace}")
    for name in names or table_names():
        table_spec = spec(name)
        columns = ",\n  ".join(
            f"`{c.name}` {c.type}{'' if c.nullable else ' NOT NULL'} COMMENT {_sql_string(c.comment)}"
            for c in table_spec.columns
        )
        properties = ", ".join(f"{_sql_string(k)} = {_sql_string(v)}" for k, v in table_spec.properties)
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {table_name(settings, name)} (\n  {columns}\n) USING DELTA "
            f"COMMENT {_sql_string(table_spec.description)}" + (f" TBLPROPERTIES ({properties})" if properties else "")
        )


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_table(spark: SparkSession, settings: Settings, name: str) -> DataFrame:
    return spark.table(table_name(settings, name))


def conform(df: DataFrame, name: str) -> DataFrame:
    """Select the table's columns in order, cast to its types; missing nullable columns become null."""
    present = set(df.columns)
    selected: list[Column] = []
    for field in schema_of(name).fields:
        if field.name in present:
            selected.append(F.col(field.name).cast(field.dataType).alias(field.name))
        elif field.nullable:
            selected.append(F.lit(None).cast(field.dataType).alias(field.name))
        else:
            raise ValueError(f"{name}: required column {field.name!r} is missing from the data")
    return df.select(*selected)


def one_row_per_key(df: DataFrame, keys: tuple[str, ...] | list[str], order: list[Column] | None = None) -> DataFrame:
    """Keep one row per key, chosen by ``order`` then by content, so the choice is deterministic."""
    tiebreak = F.xxhash64(*[F.col(c) for c in df.columns])
    window = Window.partitionBy(*keys).orderBy(*(order or []), tiebreak)
    return df.withColumn("_rank", F.row_number().over(window)).filter("_rank = 1").drop("_rank")


#: Delta setting: whether a MERGE first copies its source (by default, any source that is not a Delta scan).
MATERIALIZE_SOURCE_CONF = "spark.databricks.delta.merge.materializeSource"


def merge_into(
    spark: SparkSession,
    settings: Settings,
    name: str,
    df: DataFrame,
    run_id: str | None = None,
    unique_keys: bool = False,
    kept: bool = False,
) -> None:
    """Upsert ``df`` into the table on its keys; unchanged rows are left as they are.

    A MERGE needs one source row per key: ``df`` is reduced to one, unless the caller guarantees it
    (``unique_keys``: rows keyed by a hash of their own content), which saves a sort of every row.
    ``kept``: ``df`` is a local checkpoint of deterministic rows, so Delta need not copy it again
    before the MERGE reads it twice. (Rows in Spark's cache do not qualify: without its own copy,
    Delta refuses a MERGE whose source plan is cached.)
    """
    from delta.tables import DeltaTable

    table_spec = spec(name)
    if run_id is not None and "run_id" in table_spec.column_names:
        df = df.withColumn("run_id", F.lit(run_id))
    source = conform(df, name) if unique_keys else one_row_per_key(conform(df, name), table_spec.keys)
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in table_spec.keys)
    compared = [c for c in table_spec.column_names if c not in table_spec.keys and c not in BOOKKEEPING_COLUMNS]
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in compared) or "false"
    merge = (
        DeltaTable.forName(spark, table_name(settings, name))
        .alias("t")
        .merge(source.alias("s"), on)
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
    )
    if not kept:
        merge.execute()
        return
    previous = spark.conf.get(MATERIALIZE_SOURCE_CONF, None)
    spark.conf.set(MATERIALIZE_SOURCE_CONF, "none")
    try:
        merge.execute()
    finally:
        if previous is None:
            spark.conf.unset(MATERIALIZE_SOURCE_CONF)
        else:
            spark.conf.set(MATERIALIZE_SOURCE_CONF, previous)
