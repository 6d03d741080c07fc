"""Job task: Ingest Visual Genome's raw JSON. Takes the same parameters as `provision ingest-vg`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("ingest-vg")
