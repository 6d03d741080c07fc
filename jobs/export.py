"""Job task: Export instructions in a trainer's format. Takes the same parameters as `provision export`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("export")
