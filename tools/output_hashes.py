"""Hash every output of the pipeline on the fixtures and on the VRD corpus, to prove a refactor
or a speed-up keeps rows identical.

Runs the ``provision`` command line (so it works on any version of the code that has it) into a
fresh lakehouse, then prints one line per output: the ``instructions`` and ``quarantine`` tables
(each row as JSON without its MLflow ``run_id``, hashed, the row hashes sorted and hashed again) and
the exported files (lines sorted and hashed). Compare two commits with::

    python tools/output_hashes.py --lakehouse /tmp/before > before.txt   # at the old commit
    python tools/output_hashes.py --lakehouse /tmp/after > after.txt     # at the new one
    diff before.txt after.txt

``--only fixtures`` or ``--only vrd`` runs half of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TABLES = ("instructions", "quarantine")


def provision(lakehouse: Path, *args: str) -> str:
    """Run one command of the command line in a child process; its stdout."""
    command = [
        sys.executable,
        "-c",
        "from provision_spark.cli import main; main()",
        "--lakehouse",
        str(lakehouse),
        *args,
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    )
    if done.returncode != 0:
        sys.exit(f"provision {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def table_hash(lakehouse: Path, table: str, where: str = "true") -> str:
    """count and sha256 of a table's rows (every column but run_id), computed by Spark."""
    columns = [
        c["name"]
        for c in yaml.safe_load((ROOT / "schemas" / f"{table}.yaml").read_text())["columns"]
        if c["name"] != "run_id"
    ]
    fields = ", ".join(f"`{c}`" for c in columns)
    query = (
        f"SELECT count(*) AS n, sha2(concat_ws(',', sort_array(collect_list("
        f"sha2(to_json(struct({fields})), 256)))), 256) AS h FROM provision.{table} WHERE {where}"
    )
    out = json.loads(provision(lakehouse, "sql", "--json", query).strip().splitlines()[-1])
    return f"{out['n']} {out['h']}"


def file_hash(path: Path) -> str:
    lines = sorted(path.read_text().splitlines())
    return f"{len(lines)} {hashlib.sha256(chr(10).join(lines).encode()).hexdigest()}"


def fixtures(lakehouse: Path) -> dict[str, str]:
    provision(lakehouse, "demo", "--fixtures", str(SHARED / "fixtures"))
    out = {f"fixtures.{t}": table_hash(lakehouse, t) for t in TABLES}
    export = lakehouse / "hash_export.json"
    provision(lakehouse, "export", "--out", str(export), "--split", "VG-S,DC-S")
    out["fixtures.export.single"] = file_hash(export)
    return out


def vrd(lakehouse: Path) -> dict[str, str]:
    provision(lakehouse, "ingest-vg", "--src", str(SHARED / "corpora" / "vrd_train_vg"), "--dataset", "vrd")
    provision(lakehouse, "build-scene-graphs")
    provision(lakehouse, "generate-single", "--seed", "0", "--per-image", "2")
    provision(lakehouse, "generate-multi", "--k", "2", "--count-per-generator", "2000", "--seed", "0")
    out = {f"vrd.{t}": table_hash(lakehouse, t) for t in TABLES}
    for kind in ("single", "multi"):
        out[f"vrd.instructions.{kind}"] = table_hash(lakehouse, "instructions", f"kind = '{kind}'")
    export = lakehouse / "hash_export.json"
    provision(lakehouse, "export", "--out", str(export), "--split", "VG-S")
    out["vrd.export.single"] = file_hash(export)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lakehouse", type=Path, required=True, help="a folder to create (replaced if present)")
    parser.add_argument("--only", choices=("fixtures", "vrd"))
    args = parser.parse_args()
    hashes: dict[str, str] = {}
    for name, run in (("fixtures", fixtures), ("vrd", vrd)):
        if args.only in (None, name):
            lakehouse = args.lakehouse / name
            shutil.rmtree(lakehouse, ignore_errors=True)
            hashes.update(run(lakehouse))
    for key, value in hashes.items():
        print(f"{key} {value}")


if __name__ == "__main__":
    main()
