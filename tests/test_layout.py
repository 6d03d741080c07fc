"""The layout's promises: no import cycles, workers import no CLI code, a generator is one file that
the engine picks up (checked and written, failures quarantined), every stage opens its own MLflow run."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest
from pyspark import cloudpickle
from pyspark.sql import functions as F

from provision_spark import stages
from provision_spark.generators import checker, registry
from provision_spark.generators.multi import base as multi_base
from provision_spark.generators.multi.base import MULTI, Params, Text
from provision_spark.lakehouse import tables
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "provision_spark"


def module_imports() -> dict[str, set[str]]:
    """Each module of the package -> the package modules it imports when it is imported (top level)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.parse(path.read_text()).body:  # top level only: imports inside functions are lazy
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_the_package_has_no_import_cycles():
    graph = module_imports()
    assert len(graph) > 50
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in graph[module]:
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target] if target in path else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_python_workers_import_no_cli_code():
    """What a Spark Python worker imports (the generators, their engines, the perception stages)
    pulls in neither the command line nor its libraries."""
    code = textwrap.dedent(
        """
        import sys
        from provision_spark.generators import registry
        registry.load_builtin()
        import provision_spark.generators.single.engine, provision_spark.generators.multi.render
        import provision_spark.generators.multi.checker, provision_spark.perception.stages
        import provision_spark.perception.runtime
        bad = sorted(m for m in sys.modules if m.startswith(("provision_spark.cli", "typer", "rich", "mlflow")))
        print(",".join(bad))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == ""


def test_discovery_imports_every_generator_module_and_only_those():
    registry.load_builtin()
    defined = {s.fn.__module__ for s in registry.registered()}
    for package in registry.GENERATOR_PACKAGES:
        folder = ROOT / package.replace(".", "/")
        for path in folder.glob("*.py"):
            if path.stem != "__init__":
                assert f"{package}.{path.stem}" in sys.modules
                assert f"{package}.{path.stem}" in defined, f"{path} registers no generator"
    assert all(checker.get_check(s.name) for s in registry.registered("single")), "a built-in has no check"


# ------------------------------------------------------------------------- one file, one generator
THROWAWAY = '''
from provision_spark.generators.checker import Derivation, checks
from provision_spark.generators.registry import Item, register


@register("throwaway_object_total", family="objects")
def throwaway_object_total(ctx):
    """How many objects an image has, all names together (a test's throwaway generator)."""
    n = len(ctx.scene.objects)
    wrong = n + 1 if n % 2 else n  # planted: wrong on every image with an odd number of objects
    yield Item(key="total", question="How many objects are annotated in the image?", answer=str(wrong),
               distractors=[str(n + 2), str(n + 3)], metadata={})


@checks("throwaway_object_total")
def _(scenes, meta):
    return Derivation(truths={str(len(scenes[0].objects))})
'''


@pytest.fixture(scope="module")
def gqa(spark, settings):
    stages.ingest(spark, settings, "gqa", str(FIXTURES / "gqa_sample14" / "sceneGraphs.json"))
    stages.build_scene_graphs(spark, settings)
    return settings


@pytest.fixture()
def throwaway(tmp_path):
    path = tmp_path / "throwaway_generator.py"
    path.write_text(THROWAWAY)
    spec = importlib.util.spec_from_file_location("throwaway_generator", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)  # the workers cannot import a file in tmp_path
    yield "throwaway_object_total"
    registry.unregister("throwaway_object_total")
    checker.unregister("throwaway_object_total")
    cloudpickle.unregister_pickle_by_value(module)
    del sys.modules[spec.name]


def test_a_generator_in_one_file_is_generated_checked_written_and_quarantined(spark, gqa, throwaway):
    summary = stages.generate_single(spark, gqa, generators=[throwaway])
    written = tables.read_table(spark, gqa, "instructions").filter(f"generator = '{throwaway}'").collect()
    graphs = {r.image_id: len(r.objects) for r in tables.read_table(spark, gqa, "scene_graphs").collect()}
    wrong = {i for i, n in graphs.items() if n % 2}
    assert wrong and len(wrong) < len(graphs)
    assert {r.image_ids[0] for r in written} == set(graphs) - wrong
    assert all(r.answer == str(graphs[r.image_ids[0]]) for r in written)
    assert summary[f"instructions.{throwaway}.written"] == len(graphs) - len(wrong)
    assert summary[f"instructions.{throwaway}.quarantined"] == len(wrong)
    refused = tables.read_table(spark, gqa, "quarantine").filter("entity = 'instruction'").collect()
    assert {r.record_key.split("/", 1)[1].rsplit("/", 1)[0] for r in refused if throwaway in r.record_key} == wrong


# ------------------------------------------------------------------- multi-image failures kept
def planted_render(row, rng):
    """multi_has_object's words, with the answer swapped for a wrong choice on about half the items."""
    text = MULTI["multi_has_object"].render(row, rng)
    if rng.random() < 0.5:
        return Text(text.question, text.distractors[0], [text.answer, *text.distractors[1:]], text.mc_stem)
    return text


@pytest.fixture()
def planted_multi():
    registry.load_builtin()
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    original = MULTI["multi_has_object"]
    multi_base.multi_generator(
        "planted_has_object",
        family=original.family,
        requires=original.requires,
        render=planted_render,
        answer=original.answer,
        truth=original.truth,
    )(lambda inputs, params: original.facts(inputs, params).withColumn("generator", F.lit("planted_has_object")))
    yield "planted_has_object"
    registry.unregister("planted_has_object")
    del MULTI["planted_has_object"]
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_multi_image_checker_failures_land_in_quarantine(spark, gqa, planted_multi):
    mlflow.set_tracking_uri(gqa.resolved_tracking_uri)
    summary = stages.generate_multi(spark, gqa, Params(k=2, count=20, seed=3), generators=[planted_multi])
    failed = int(summary[f"multi.{planted_multi}.failed"])
    assert 0 < failed < summary[f"multi.{planted_multi}.produced"]
    refused = (
        tables.read_table(spark, gqa, "quarantine")
        .filter("entity = 'instruction' AND record_key LIKE 'planted_has_object/%'")
        .collect()
    )
    assert len(refused) == failed
    assert all("the scene graphs say" in r.reason and '"question"' in r.payload for r in refused)

    runs = mlflow.search_runs(experiment_names=[gqa.experiment], filter_string="tags.job = 'generate-multi'")
    assert failed in set(runs[f"metrics.multi.{planted_multi}.failed"])


def test_every_stage_opens_its_own_mlflow_run(spark, gqa):
    """Called as a notebook would call them (no run open), each step records its own run."""
    stages.generate_single(spark, gqa, generators=["object_count"])
    stages.create_views(spark, gqa)
    mlflow.set_tracking_uri(gqa.resolved_tracking_uri)
    names = set(mlflow.search_runs(experiment_names=[gqa.experiment])["tags.job"])
    assert {"ingest-gqa", "build-scene-graphs", "generate-single", "create-views"} <= names
