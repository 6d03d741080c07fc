"""Job task: Generate verified single-image instructions. Takes the same parameters as `provision generate-single`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("generate-single")
