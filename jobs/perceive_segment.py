"""Job task: The perception pipeline's segment stage, so a workflow can give it its own (GPU) cluster.
Takes the same parameters as `provision perceive`, with `--stage segment`."""

import sys

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("perceive", [*sys.argv[1:], "--stage", "segment"])
