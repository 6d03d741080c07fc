"""With a catalog configured, every table, view and schema the code addresses is ``catalog.schema.name``.

No Unity Catalog is reachable here, so the statements are recorded instead of run: a session that
keeps each ``spark.sql`` text (everything else, e.g. the MERGE source's temp view, is a real local
session's). Each name after FROM / JOIN / INTO / TABLE / VIEW / SCHEMA must be fully qualified;
temporary views (the MERGE source) and common table expressions are local and have no catalog.
"""

from __future__ import annotations

import re

import pytest

from provision_spark.lakehouse import tables, views
from provision_spark.lakehouse.config import Settings

NAMED = re.compile(
    r"\b(?:FROM|JOIN|INTO|TABLE(?: IF NOT EXISTS)?|VIEW|SCHEMA(?: IF NOT EXISTS)?)\s+([`\w.]+)", re.IGNORECASE
)


class Recorder:
    def __init__(self, spark) -> None:
        self.spark, self.statements = spark, []

    def sql(self, text: str, *args, **kwargs):
        self.statements.append(text)

    def __getattr__(self, name):
        return getattr(self.spark, name)


@pytest.fixture()
def recorded(spark):
    settings = Settings(catalog="main", schema="provision", lakehouse="/tmp/unused")
    return Recorder(spark), settings


#: A common table expression (``WITH annotated AS (...)``): a name local to its statement.
CTE = re.compile(r"\b(\w+)\s+AS\s*\(", re.IGNORECASE)


#: A SQL string literal (comments of tables and columns are English: "... from the image ...").
LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


def _names(statements: list[str]) -> set[str]:
    code = [LITERAL.sub("''", s) for s in statements]
    return {m.group(1) for s in code for m in NAMED.finditer(s) if m.group(1) not in set(CTE.findall(s))}


def test_tables_and_views_are_addressed_catalog_schema_name(recorded):
    recorder, settings = recorded
    views.create_views(recorder, settings)  # the schema, every table, every view
    names = _names(recorder.statements)
    assert "main.provision" in names  # CREATE SCHEMA
    objects = names - {"main.provision"}
    assert objects >= {f"main.provision.{t}" for t in tables.table_names()} | {
        f"main.provision.{v}" for v in views.VIEWS
    }
    assert all(re.fullmatch(r"main\.provision\.\w+", n) for n in objects), sorted(objects)


def test_merges_write_to_the_qualified_table(recorded, spark):
    recorder, settings = recorded
    rows = spark.createDataFrame([], tables.schema_of("quarantine"))
    tables.merge_into(recorder, settings, "quarantine", rows)
    (merge,) = [s for s in recorder.statements if s.startswith("MERGE")]
    target, source = re.match(r"MERGE INTO (\S+) AS t USING (\S+) AS s", merge).groups()
    assert target == "main.provision.quarantine"
    assert source.startswith("merge_source_")  # a temp view: session-scoped, no catalog
