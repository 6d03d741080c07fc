"""The SparkSession: the cluster's own on Databricks, a local one with Delta and a metastore here.

Delta's JVM jars are not on PyPI. ``fetch_delta_jars`` resolves them once from Maven Central (with
``delta.configure_spark_with_delta_pip``'s own Ivy resolution) into a cache folder; every later
session puts the cached files on the class path, so no job needs the network.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from provision_spark.lakehouse.config import Settings

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def work_partitions(spark: SparkSession) -> int:
    """How many tasks to spread Python-heavy work over: ``spark.sql.shuffle.partitions`` where it is a
    number, else (Databricks' ``auto``) the cluster's default parallelism. A table's files are no
    guide: one Delta file of a million scene graphs is a single task of hours."""
    configured = spark.conf.get("spark.sql.shuffle.partitions", "auto")
    if configured.isdigit():
        return int(configured)
    try:
        return spark.sparkContext.defaultParallelism
    except Exception:  # Spark Connect has no SparkContext
        return 200


def jars_dir() -> Path:
    """Cache folder for Delta's jars, named by the delta-spark and Spark versions they pair with."""
    import pyspark

    delta_version = importlib.metadata.version("delta-spark")
    spark_line = ".".join(pyspark.__version__.split(".")[:2])
    default = Path.home() / ".cache" / "provision-spark" / f"delta-{delta_version}-spark-{spark_line}"
    return Path(os.environ.get("PROVISION_JARS_DIR", default))


def cached_jars() -> list[Path]:
    folder = jars_dir()
    return sorted(folder.glob("*.jar")) if folder.is_dir() else []


def fetch_delta_jars() -> list[Path]:
    """Resolve Delta's jars from Maven Central once and keep them in ``jars_dir()``."""
    if cached_jars():
        return cached_jars()
    from delta import configure_spark_with_delta_pip

    ivy = jars_dir().parent / "ivy"
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("provision-fetch-jars")
        .config("spark.jars.ivy", str(ivy))
        .config("spark.ui.enabled", "false")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.stop()
    target = jars_dir()
    target.mkdir(parents=True, exist_ok=True)
    # Spark ships the rest of what Ivy resolves (Hadoop, Parquet, Jackson): only Delta's own jars are kept,
    # so nothing shadows Spark's versions of those libraries.
    for jar in (ivy / "jars").glob("io.delta_delta-*.jar"):
        shutil.copy2(jar, target / jar.name)
    jars = cached_jars()
    if not any("delta-spark" in j.name for j in jars):
        raise RuntimeError(f"Delta jars did not resolve into {target}; see the Ivy output above")
    return jars


def get_spark(settings: Settings | None = None) -> SparkSession:
    """The active session on Databricks (its built-in Delta and Unity Catalog); else a local one."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks():
        return SparkSession.builder.getOrCreate()
    return _local_session(settings or Settings.from_env())


def _local_session(settings: Settings) -> SparkSession:
    jars = cached_jars()
    if not jars:
        raise RuntimeError(
            f"Delta's jars are not cached in {jars_dir()}: run `make setup` "
            "(or `python -m provision_spark.lakehouse.session fetch-jars`) once with network access."
        )
    # Python workers must run the same interpreter (and packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings.lakehouse.mkdir(parents=True, exist_ok=True)
    root = settings.lakehouse.resolve()
    # The throughput collector: a local session is one batch job in one JVM (driver and executor),
    # where G1's concurrent marking and write barriers cost CPU the job needs (measured on the
    # multi-image benchmark, 2 cores: about a tenth of the job's CPU time). Databricks sets its own.
    java_options = f"-XX:+UseParallelGC -Dderby.system.home={root} -Dderby.stream.error.file={root / 'derby.log'}"
    if not settings.verbose:  # no JVM start-up chatter: our log4j2 configuration is silent
        java_options += f" -Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties')}"
    builder = (
        SparkSession.builder.master(settings.master)
        .appName("provision-spark")
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.sql.warehouse.dir", str(settings.warehouse_dir))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true",
        )
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        # Delta replays its log with 50 partitions by default: far too many tasks for a local machine.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.databricks.delta.schema.autoMerge.enabled", "false")
    )
    for key, value in settings.spark_conf_pairs.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN" if settings.verbose else "OFF")
    return spark


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch-jars"]:
        for jar in fetch_delta_jars():
            print(jar)
    else:
        raise SystemExit("usage: python -m provision_spark.lakehouse.session fetch-jars")
