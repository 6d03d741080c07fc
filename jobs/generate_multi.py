"""Job task: Generate verified multi-image instructions. Takes the same parameters as `provision generate-multi`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("generate-multi")
