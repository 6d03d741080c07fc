"""Job task: Ingest GQA scene graphs. Takes the same parameters as `provision ingest-gqa`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("ingest-gqa")
