"""Job task: Ingest the ProVision reference layout (JSON, depth maps, masks). Takes the same parameters as `provision ingest-provision`."""

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("ingest-provision")
