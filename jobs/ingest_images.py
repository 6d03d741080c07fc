"""Job task: Register a folder's images. Takes the same parameters as `provision ingest-images`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("ingest-images")
