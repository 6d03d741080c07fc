"""Each notebook in notebooks/ runs end to end (nbclient, a real kernel on this venv's Python)
against a local lakehouse made from the fixtures, and draws its figures.

The lakehouse is built in a subprocess: a local lakehouse's metastore (embedded Derby) can be open
in one JVM at a time, and this test process's own Spark session holds the suite's. The notebooks'
kernels then open it one after the other, as a user would locally, through PROVISION_* variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SMALL_DATA_CONF

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCHEMA = "notebooks"
#: The figures each notebook saves when PROVISION_NOTEBOOK_FIGURES names a folder.
FIGURES = {
    "01_explore_scene_graphs.ipynb": {"scene_graph_sizes.png", "most_common.png", "scene_graph_example.png"},
    "02_explore_instructions.ipynb": {
        "instructions_per_generator.png",
        "answer_distributions.png",
        "mc_answer_positions.png",
        "mc_vs_short_answer.png",
        "qa_samples.png",
    },
}
KERNEL = "provision-tests"


def build_lakehouse(root: str, schema: str = SCHEMA) -> None:
    """The fixtures through the pipeline into ``root``: GQA and the ProVision sample (real images,
    masks and depth), scene graphs, instructions and the views. Runs in its own process."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers of the generators' UDFs
    from provision_spark import stages
    from provision_spark.generators.multi.base import Params
    from provision_spark.lakehouse import tracking, views
    from provision_spark.lakehouse.config import Settings
    from provision_spark.lakehouse.session import get_spark

    settings = Settings(
        lakehouse=Path(root),
        schema=schema,
        master="local[2]",
        shuffle_partitions=4,
        driver_memory="2g",
        spark_conf=SMALL_DATA_CONF,
    )
    tracking.configure(settings)
    spark = get_spark(settings)
    stages.ingest(spark, settings, "gqa", str(FIXTURES / "gqa_sample14" / "sceneGraphs.json"))
    stages.ingest(spark, settings, "provision", str(FIXTURES / "provision_baseball"))
    stages.build_scene_graphs(spark, settings)
    stages.generate_single(spark, settings, seed=0, per_image=2)
    stages.generate_multi(spark, settings, Params(k=2, count=20, seed=0))
    views.create_views(spark, settings)
    spark.stop()  # release the metastore for the notebooks' kernels


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("notebook_lakehouse")
    code = f"from tests.test_notebooks import build_lakehouse; build_lakehouse({str(root)!r})"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=1800)
    return root


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Path:
    """A kernelspec that starts this interpreter (the venv's), whatever kernels are installed."""
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "provision tests",
                "language": "python",
            }
        )
    )
    return jupyter_path


def test_notebooks_are_plain_ipynb_with_their_outputs_stripped():
    import nbformat

    assert {p.name for p in NOTEBOOKS} == set(FIGURES)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
        source = "\n".join(c.source for c in nb.cells)
        assert 'dbutils.widgets.text("catalog"' in source and 'dbutils.widgets.text("schema"' in source
        assert "get_spark(settings)" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_end_to_end_and_draws_its_figures(path, lakehouse, kernel, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    figures = tmp_path / "figures"
    monkeypatch.setenv("JUPYTER_PATH", str(kernel))
    monkeypatch.setenv("PROVISION_LAKEHOUSE", str(lakehouse))
    monkeypatch.setenv("PROVISION_SCHEMA", SCHEMA)
    monkeypatch.setenv("PROVISION_MASTER", "local[2]")
    monkeypatch.setenv("PROVISION_SHUFFLE_PARTITIONS", "4")
    monkeypatch.setenv("PROVISION_DRIVER_MEMORY", "2g")
    monkeypatch.setenv("PROVISION_SPARK_CONF", SMALL_DATA_CONF)
    monkeypatch.setenv("PROVISION_NOTEBOOK_FIGURES", str(figures))
    monkeypatch.delenv("PROVISION_CATALOG", raising=False)
    nb = nbformat.read(path, as_version=4)
    # A failing cell raises CellExecutionError, which fails the test.
    NotebookClient(nb, timeout=900, kernel_name=KERNEL, resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= len(FIGURES[path.name])
    assert {p.name for p in figures.glob("*.png")} == FIGURES[path.name]
    assert all(p.stat().st_size > 5_000 for p in figures.glob("*.png"))
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"reading {SCHEMA}" in printed
    if path.name.startswith("01"):
        # The richest scene graph is a ProVision sample image: real pixels, masks and a depth map.
        assert "provision_sample/baseball" in printed
