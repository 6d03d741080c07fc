"""The command line's feedback times, this checkout against an earlier commit, in one run.

- time to the first printed row of ``provision sql`` on a lakehouse (the demo's: ``provision
  --lakehouse DIR demo`` makes one);
- time to the error of a bad option (``ingest-vg --src`` a folder that does not exist).

"Before" is a git worktree of ``--before`` (default 8803a18, the commit before issue 20), made in a
temporary folder unless ``--before-dir`` names an existing checkout. Both run with this Python.
Usage: python benchmarks/bench_cli.py --lakehouse /tmp/20-lh [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Both checkouts' entry point (the earlier one has no ``python -m provision_spark``).
LAUNCH = [sys.executable, "-c", "from provision_spark.cli import main; main()"]
QUERY = "SELECT name, count(*) FROM provision.objects GROUP BY name ORDER BY 2 DESC"


def first_row_seconds(checkout: Path, lakehouse: Path) -> float:
    """Seconds from launch to the first table row (a line starting with the table's left border)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*LAUNCH, "--lakehouse", str(lakehouse), "sql", "--limit", "10", QUERY],
        cwd=checkout,
        env=env_for(checkout),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if line.startswith("│"):
            seconds = time.perf_counter() - started
            break
    else:
        raise RuntimeError(f"no row printed by {checkout}")
    process.wait()
    return seconds


def error_seconds(checkout: Path, tmp: Path) -> tuple[float, int]:
    """Seconds to the exit of a command with a bad option, and how many lines it printed."""
    started = time.perf_counter()
    result = subprocess.run(
        [*LAUNCH, "--lakehouse", str(tmp / "lh"), "ingest-vg", "--src", str(tmp / "nope")],
        cwd=checkout,
        env=env_for(checkout),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    assert result.returncode != 0, "the bad option did not fail"
    return seconds, len((result.stdout + result.stderr).splitlines())


def env_for(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISION_")}
    return {**env, "PYTHONPATH": str(checkout), "PYSPARK_PYTHON": sys.executable, "PROVISION_DRIVER_MEMORY": "2g"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lakehouse", type=Path, required=True, help="A lakehouse with provision.objects (the demo's)."
    )
    parser.add_argument("--before", default="8803a18", help="The commit to compare with.")
    parser.add_argument("--before-dir", type=Path, help="An existing checkout of that commit.")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as scratch:
        tmp = Path(scratch)
        before = args.before_dir
        if before is None:
            before = tmp / "before"
            subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True)
        try:
            rows = {}
            for name, checkout in (("before", before), ("after", ROOT)):
                firsts = [first_row_seconds(checkout, args.lakehouse.resolve()) for _ in range(args.repeat)]
                errors = [error_seconds(checkout, tmp) for _ in range(args.repeat)]
                rows[name] = (statistics.median(firsts), statistics.median(e[0] for e in errors), errors[0][1])
                print(
                    f"{name:6s} sql first row {rows[name][0]:6.1f} s   bad option error {rows[name][1]:6.1f} s "
                    f"({rows[name][2]} lines)   runs: {', '.join(f'{s:.1f}' for s in firsts)}",
                    flush=True,
                )
            print(
                f"sql first row: {rows['before'][0] / rows['after'][0]:.1f}x faster; "
                f"bad option: {rows['before'][1] / rows['after'][1]:.1f}x faster"
            )
        finally:
            if args.before_dir is None:
                subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
