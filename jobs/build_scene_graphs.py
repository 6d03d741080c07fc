"""Job task: Join the flat tables into scene graphs. Takes the same parameters as `provision build-scene-graphs`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("build-scene-graphs")
