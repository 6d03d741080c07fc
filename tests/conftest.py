"""One real local SparkSession with Delta and a Hive metastore for the whole test run.

Each test module that writes tables gets its own schema (``settings`` fixture) so modules do not
see each other's rows; the MLflow sqlite store is created once, here, before any test runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provision_spark.lakehouse import tables, tracking
from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.session import get_spark

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="session")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


#: Tests run many small queries on tiny data, where compiling generated code costs more than it
#: saves and adaptive re-planning has nothing to adapt to; the queries and their results are the same.
SMALL_DATA_CONF = "spark.sql.codegen.wholeStage=false,spark.sql.adaptive.enabled=false"


@pytest.fixture(scope="session")
def base_settings(lakehouse_root: Path) -> Settings:
    settings = Settings(
        lakehouse=lakehouse_root,
        master="local[2]",
        shuffle_partitions=4,
        driver_memory="3g",
        spark_conf=SMALL_DATA_CONF,
    )
    tracking.configure(settings)
    return settings


@pytest.fixture(scope="session")
def spark(base_settings: Settings):
    session = get_spark(base_settings)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest, base_settings: Settings, spark) -> Settings:
    """Settings with a schema of the module's own, its tables created empty."""
    schema = "t_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1]).lower()
    module_settings = Settings(**{**base_settings.__dict__, "schema": schema})
    spark.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    tables.ensure_tables(spark, module_settings)
    return module_settings
