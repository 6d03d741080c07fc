"""Benchmark: what a cluster of separate executors costs over one local JVM, on single-image generation.

Runs ``bench_generate_single.py`` (VRD scene graphs replicated to each size; generate, check, MERGE)
twice, each in a process of its own: on ``local[2]`` (driver and two task slots in one JVM) and on
``local-cluster[2,1,2048]`` (two executors of one core each, separate JVMs and Python workers: rows
and closures travel between processes as on a real cluster). Same cores, same data, so the ratio is
the cost of being distributed: serialisation, shuffle over the network stack, executor start-up.

    python benchmarks/bench_cluster.py --sizes 100000        # the figure the issue asks for
    python benchmarks/bench_cluster.py --sizes 2000 --warmup 0   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MASTERS = ("local[2]", "local-cluster[2,1,2048]")


def run(master: str, sizes: str, warmup: int, driver_memory: str) -> list[dict]:
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench_generate_single.py"),
            "--master",
            master,
            "--sizes",
            sizes,
            "--warmup",
            str(warmup),
            "--driver-memory",
            driver_memory,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"--- {master}\n{done.stdout}", flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000", help="Comma-separated numbers of images.")
    parser.add_argument("--warmup", type=int, default=2000, help="Images generated once, untimed, first.")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()
    results = {master: run(master, args.sizes, args.warmup, args.driver_memory) for master in MASTERS}
    local, cluster = (results[m] for m in MASTERS)
    print(f"{'images':>10} {'local[2] s':>11} {'cluster s':>10} {'overhead':>9} {'same count':>11}")
    for a, b in zip(local, cluster):
        print(
            f"{a['images']:>10,} {a['seconds']:>11.1f} {b['seconds']:>10.1f} {b['seconds'] / a['seconds']:>8.2f}x "
            f"{str(a['instructions'] == b['instructions']):>11}"
        )


if __name__ == "__main__":
    main()
