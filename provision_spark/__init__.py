"""provision-spark: ProVision's scene graphs and instruction generators as a Spark/Delta lakehouse ETL.

The Python API is the functions the command line calls, for notebooks and jobs::

    from provision_spark import Settings, get_spark, ingest_scene_graphs, build, generate, export, report

    settings = Settings.from_env(lakehouse="lakehouse")  # Databricks: Settings.from_env(catalog="main")
    spark = get_spark(settings)                            # the cluster's session on Databricks
    ingest_scene_graphs(spark, settings, "visual_genome", "/data/visual_genome")  # or "gqa", "provision"
    ingest_images(spark, settings, "/data/my_photos")    # images for the perception stages
    build(spark, settings)                                 # flat tables -> scene_graphs
    generate(spark, settings, seed=0, per_image=2)         # single-image QA -> instructions
    generate_multi(spark, settings, MultiParams(k=2, count=1000, seed=0))
    export(spark, settings, "train.json", "llava")          # LLaVA-1.5 JSON array
    quality_report(spark, settings)                        # answer balance, defects
    report(spark, settings)                                # rows per table

Each returns the summary it logged to its MLflow run. The names are imported on first use, so
``import provision_spark`` stays cheap (no Spark, no MLflow). (``provision_spark.ingest`` is the
package of the readers, hence ``ingest_scene_graphs``.)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> (module, attribute): the stage functions and what they take.
API = {
    "Settings": ("provision_spark.lakehouse.config", "Settings"),
    "get_spark": ("provision_spark.lakehouse.session", "get_spark"),
    "ingest_scene_graphs": ("provision_spark.stages", "ingest"),
    "ingest_images": ("provision_spark.stages", "ingest_images"),
    "perceive": ("provision_spark.stages", "perceive"),
    "build": ("provision_spark.stages", "build_scene_graphs"),
    "generate": ("provision_spark.stages", "generate_single"),
    "generate_multi": ("provision_spark.stages", "generate_multi"),
    "MultiParams": ("provision_spark.generators.multi.base", "Params"),
    "export": ("provision_spark.exports.stage", "run_export"),
    "mix": ("provision_spark.exports.stage", "run_mix"),
    "quality_report": ("provision_spark.stages", "quality_report"),
    "report": ("provision_spark.stages", "table_counts"),
}
__all__ = sorted(API)


def __getattr__(name: str):
    if name not in API:
        raise AttributeError(f"module 'provision_spark' has no attribute {name!r}")
    module, attribute = API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
