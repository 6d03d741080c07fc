"""Answer a read-only query on a local lakehouse without starting Spark, where that gives Spark's answer.

``provision sql`` spends most of its time starting a JVM, a Hive metastore and Delta. A plain
query over the tables (filters, joins, group-bys, the common aggregates) needs none of that: the
Delta tables' current snapshots are read with ``deltalake`` (delta-rs) and the query is run by
DuckDB. Only queries whose every construct means the same in both dialects are answered here; a
query with anything else (views, casts, array indexing, window functions, double quotes, backslash
escapes, any other function) returns ``None`` and the caller runs it on Spark, which is also what
reports every error, so messages are Spark's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provision_spark.lakehouse.config import Settings

#: Functions (and operators, which DuckDB's syntax tree names as functions) that compute the same
#: value in Spark SQL and DuckDB.
SAME_FUNCTIONS = frozenset(
    {"count", "count_star", "sum", "min", "max", "avg", "lower", "upper", "length", "abs", "coalesce"}
    | {"+", "-", "*", "/", "%", "~~", "!~~"}  # arithmetic, LIKE, NOT LIKE
)
#: Expression classes and operator types with the same meaning in both.
SAME_CLASSES = frozenset({"COLUMN_REF", "CONSTANT", "STAR", "COMPARISON", "CONJUNCTION", "BETWEEN", "CASE", "SUBQUERY"})
SAME_OPERATORS = frozenset({"OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "COMPARE_IN", "COMPARE_NOT_IN"})
SAME_TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY"})


def query(settings: Settings, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """(columns, at most ``limit`` rows), or None when the query is not one this can answer as Spark would."""
    if not settings.is_local or '"' in sql or "\\" in sql:
        return None  # Spark reads "x" as a string and \ as an escape; DuckDB does neither
    import duckdb

    con = duckdb.connect()
    try:
        tables = _tables_if_same_in_both(con, sql)
        if tables is None or not all(_register(con, settings, schema, table) for schema, table in tables):
            return None
        # Spark's default order puts NULLs first when ascending and last when descending.
        con.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
        relation = con.sql(sql)
        columns = ["count(1)" if c == "count_star()" else c for c in relation.columns]  # Spark's name for it
        return columns, relation.limit(limit).fetchall()
    except (duckdb.Error, OSError, ValueError):
        return None  # Spark answers (or reports the error in its words)
    finally:
        con.close()


def _tables_if_same_in_both(con, sql: str) -> set[tuple[str, str]] | None:
    """The (schema, table) pairs a query reads, or None if anything in it may differ between the two."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error") or len(tree["statements"]) != 1:
        return None
    nodes = list(_nodes(tree["statements"][0]))
    if not all(_allowed(node) for node in nodes):
        return None
    return {(n["schema_name"], n["table_name"]) for n in nodes if n.get("type") == "BASE_TABLE"}


def _allowed(node: dict) -> bool:
    kind, cls = node.get("type"), node.get("class")
    if cls == "FUNCTION":
        return node["function_name"] in SAME_FUNCTIONS and not node.get("schema") and not node.get("catalog")
    if cls == "OPERATOR":
        return kind in SAME_OPERATORS
    if cls is not None:
        return cls in SAME_CLASSES
    if "table_name" in node or kind in ("TABLE_FUNCTION", "EXPRESSION_LIST", "PIVOT", "COLUMN_DATA", "DELIM_GET"):
        return kind in SAME_TABLE_REFS
    return True


def _nodes(value: Any):
    """Every dict in the syntax tree (expressions, table references, modifiers)."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _register(con, settings: Settings, schema: str, table: str) -> bool:
    """Make ``schema.table`` a DuckDB view of the Delta table's snapshot; False if it is no such table
    (a view, a CTE, a name without its schema: Spark resolves those)."""
    from deltalake import DeltaTable

    schema, table = schema.lower(), table.lower()
    if schema != settings.schema.lower() or not table.isidentifier():
        return False
    path = Path(settings.warehouse_dir) / f"{schema}.db" / table
    if not (path / "_delta_log").is_dir():
        return False  # a view, or no such table: Spark knows
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.register(f"__{schema}__{table}", dataset)
    con.execute(f"CREATE OR REPLACE VIEW {schema}.{table} AS SELECT * FROM __{schema}__{table}")
    return True
