"""Job task: Mix our instructions into a base dataset. Takes the same parameters as `provision mix`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("mix")
