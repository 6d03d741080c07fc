"""Job task: The whole pipeline on the fixtures. Takes the same parameters as `provision demo`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("demo")
