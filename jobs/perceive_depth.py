"""Job task: The perception pipeline's depth stage, so a workflow can give it its own (GPU) cluster.
Takes the same parameters as `provision perceive`, with `--stage depth`."""

import sys

from provision_spark.cli import run_job

if __name__ == "__main__":
    run_job("perceive", [*sys.argv[1:], "--stage", "depth"])
