"""The command line as a user meets it, driven as a subprocess: bad input fails at once with one line
(before Spark starts for options), a read command never invents a lakehouse, a run in a terminal
shows progress before its summary, and every shell command in the README runs (or says why not).

One small lakehouse (GQA fixtures -> scene graphs -> instructions) is built in a subprocess for the
module, under the default schema ``provision`` that the README's queries name.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.conftest import FIXTURES, SMALL_DATA_CONF

ROOT = Path(__file__).resolve().parents[1]
PROVISION = [sys.executable, "-m", "provision_spark"]
#: Option errors must fail before Spark starts: a JVM start alone takes longer than this here.
OPTION_ERROR_SECONDS = 10
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "PYSPARK_PYTHON": sys.executable,
    "PROVISION_MASTER": "local[2]",
    "PROVISION_SHUFFLE_PARTITIONS": "2",
    "PROVISION_DRIVER_MEMORY": "1g",
    "PROVISION_SPARK_CONF": SMALL_DATA_CONF,
}
for _name in ("PROVISION_LAKEHOUSE", "PROVISION_DEBUG", "PROVISION_SCHEMA", "PROVISION_CATALOG"):
    ENV.pop(_name, None)


def provision(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*PROVISION, *args], cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=timeout)


def build_lakehouse(root: str) -> None:
    """GQA's 14 scene graphs through build and single-image generation, in one Spark session."""
    from provision_spark import Settings, build, generate, get_spark, ingest_scene_graphs

    settings = Settings.from_env(lakehouse=root)
    spark = get_spark(settings)
    ingest_scene_graphs(spark, settings, "gqa", str(FIXTURES / "gqa_sample14" / "sceneGraphs.json"))
    build(spark, settings)
    generate(spark, settings, seed=0, per_image=1, generators=["object_count"])
    spark.stop()


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "lakehouse"
    code = f"from tests.test_cli import build_lakehouse; build_lakehouse({str(root)!r})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True, timeout=900)
    return root


BAD_OPTIONS = [
    (["generate-single", "--generators", "object_cont"], "did you mean object_count"),
    (["generate-single", "--per-image", "0"], "--per-image"),
    (["generate-multi", "--k", "7"], "--k"),
    (["generate-multi", "--generators", "object_count"], "unknown multi-image generator"),
    (["generate-multi", "--sources", "humans"], "one of human, model"),
    (["generate-multi", "--count-per-generator", "0"], "--count-per-generator"),
    (["perceive", "--write-mode", "bad"], "--write-mode"),
    (["perceive", "--stage", "nope"], "--stage"),
    (["ingest-vg", "--src", "no/such/folder"], "no file or folder matches no/such/folder"),
    (["ingest-gqa", "--src", "nope.json"], "no file or folder matches nope.json"),
    (["sql", "--limit", "0", "SELECT 1"], "--limit"),
    (["sql", "--engine", "postgres", "SELECT 1"], "--engine"),
    (["demo", "--fixtures", "no/fixtures"], "no fixtures at no/fixtures"),
    (["no-such-command"], "No such command"),
]


@pytest.mark.parametrize(("args", "says"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_fails_at_once_in_one_line(tmp_path, args, says):
    started = time.monotonic()
    result = provision(*args, cwd=tmp_path)
    seconds = time.monotonic() - started
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert result.stdout == ""
    assert seconds < OPTION_ERROR_SECONDS, f"took {seconds:.1f} s: did Spark start?"
    assert list(tmp_path.iterdir()) == [], "a failed command wrote files"


def test_read_command_on_a_folder_without_lakehouse_creates_nothing(tmp_path):
    for args in (["sql", "SELECT 1"], ["generate-single"], ["export", "--out", "x.jsonl"]):
        result = provision(*args, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines() == [
            f"provision: no lakehouse at {tmp_path / 'lakehouse'}: give --lakehouse DIR, set PROVISION_LAKEHOUSE, "
            'add lakehouse = "DIR" to provision.toml, or make one (provision demo, provision ingest-vg ...)'
        ]
    assert list(tmp_path.iterdir()) == []


def test_project_file_names_the_lakehouse_from_any_subfolder(tmp_path):
    (tmp_path / "provision.toml").write_text('lakehouse = "data/lh"\nschema = "mine"\n')
    below = tmp_path / "notebooks" / "deeper"
    below.mkdir(parents=True)
    result = provision("sql", "SELECT 1", cwd=below)
    assert result.returncode == 1
    assert f"no lakehouse at {tmp_path / 'data' / 'lh'}:" in result.stderr
    (tmp_path / "provision.toml").write_text('lakehous = "typo"\n')
    result = provision("sql", "SELECT 1", cwd=below)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"provision: {tmp_path / 'provision.toml'}: unknown setting(s) lakehous; known: catalog, driver_memory, "
        "experiment, lakehouse, master, remote, schema, shuffle_partitions, spark_conf, tracking_uri, verbose"
    ]


def test_sql_answers_without_spark_and_errors_in_one_line(lakehouse, tmp_path):
    query = "SELECT name, count(*) AS n FROM provision.objects GROUP BY name ORDER BY n DESC, name LIMIT 3"
    started = time.monotonic()
    fast = provision("--lakehouse", str(lakehouse), "sql", "--json", query, cwd=tmp_path)
    fast_seconds = time.monotonic() - started
    spark = provision("--lakehouse", str(lakehouse), "sql", "--json", "--engine", "spark", query, cwd=tmp_path)
    assert fast.returncode == spark.returncode == 0, fast.stderr + spark.stderr
    assert fast.stdout == spark.stdout and len(fast.stdout.splitlines()) == 3
    assert fast_seconds < OPTION_ERROR_SECONDS, "the plain query started Spark"

    typo = provision("--lakehouse", str(lakehouse), "sql", "SELECT * FROM provision.objectz", cwd=tmp_path)
    assert typo.returncode == 1
    errors = [line for line in typo.stderr.splitlines() if line.startswith("provision:")]
    assert errors == [
        "provision: [TABLE_OR_VIEW_NOT_FOUND] The table or view `provision`.`objectz` cannot be found. "
        "Verify the spelling and correctness of the schema and catalog. (--debug for the full trace)"
    ]
    # Only the JVM's own start-up notice may precede it: no log4j lines, no plan, no traceback.
    assert [line for line in typo.stderr.splitlines() if line not in errors] in ([], [JVM_NOTICE])


#: Printed by the JVM itself (not log4j) for the module Spark adds; nothing but the JVM can silence it.
JVM_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"


def test_generate_single_in_a_terminal_shows_progress_before_the_summary(lakehouse, tmp_path):
    child = pexpect.spawn(
        PROVISION[0],
        [*PROVISION[1:], "--lakehouse", str(lakehouse), "generate-single", "--generators", "object_count"],
        cwd=str(tmp_path),
        env=ENV,
        encoding="utf-8",
        dimensions=(50, 160),
        timeout=600,
    )
    child.expect(pexpect.EOF)
    child.close()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)  # the text, without colours and cursor moves
    assert child.exitstatus == 0, screen
    summary = screen.index("object_count.written")
    updates = [m.start() for m in re.finditer(r"stage \d+ .+? at \S+ [━╺╸ ]+ \d+/\d+ tasks \d+:\d\d:\d\d eta", screen)]
    assert len(updates) >= 2 and updates[0] < summary, screen


# ----------------------------------------------------------------------------------------- README
NOT_RUN = re.compile(r"<!-- not run by tests: (.+?) -->\s*$")


def readme_blocks() -> list[tuple[str | None, list[str]]]:
    """Each ```bash block of the README: (why it is not run, or None; its command lines)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            reason = NOT_RUN.match(lines[i - 1].strip()) if i else None
            end = lines.index("```", i + 1)
            commands = [line for line in lines[i + 1 : end] if line.strip() and not line.startswith("#")]
            blocks.append((reason.group(1) if reason else None, commands))
            i = end
        i += 1
    return blocks


def test_readme_says_why_a_command_block_is_not_run():
    blocks = readme_blocks()
    assert len(blocks) >= 6
    assert all(reason is None or len(reason) > 20 for reason, _ in blocks)
    assert any(reason is None for reason, _ in blocks)


def test_readme_commands_run(lakehouse, tmp_path):
    """The README's runnable commands, verbatim, from a folder whose ``lakehouse`` is the test's."""
    (tmp_path / "lakehouse").symlink_to(lakehouse)
    ran = 0
    for reason, commands in readme_blocks():
        if reason is not None:
            continue
        for command in commands:
            argv = shlex.split(command.split("  #")[0])
            assert argv[0] in ("provision", ".venv/bin/provision"), f"README runs a command this test cannot: {command}"
            result = provision(*argv[1:], cwd=tmp_path)
            assert result.returncode == 0, f"{command}\n{result.stderr}"
            assert result.stdout.strip(), command
            ran += 1
    assert ran >= 4


def test_python_api_is_documented_and_import_stays_cheap():
    code = (
        "import sys, provision_spark as p\n"
        "assert not {'pyspark', 'mlflow'} & set(sys.modules), 'import provision_spark started heavy imports'\n"
        "for name in p.__all__:\n"
        "    assert getattr(p, name).__doc__, name\n"
        "print(' '.join(p.__all__))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert {"ingest_scene_graphs", "build", "generate", "export", "report"} <= set(result.stdout.split())


#: Queries whose meaning could differ in DuckDB, or that it cannot see (a view, an unqualified name, a CTE).
SPARK_ONLY = [
    "SELECT CAST(box_x AS int) FROM provision.objects",
    "SELECT names[0] FROM provision.objects",
    'SELECT "name" FROM provision.objects',
    "SELECT 'a\\'b' FROM provision.objects",
    "SELECT row_number() OVER (ORDER BY name) FROM provision.objects",
    "SELECT concat(name, 'x') FROM provision.objects",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM objects",
    "WITH x AS (SELECT * FROM provision.objects) SELECT count(*) FROM x",
    "SELECT * FROM provision.no_such_table",
    "DELETE FROM provision.objects",
]


def test_sql_reads_without_spark_only_what_means_the_same(lakehouse):
    from provision_spark.lakehouse import fast_sql
    from provision_spark.lakehouse.config import Settings

    settings = Settings(lakehouse=lakehouse)
    for query in SPARK_ONLY:
        assert fast_sql.query(settings, query, 5) is None, query
    columns, rows = fast_sql.query(
        settings,
        "SELECT o.name, count(*) FROM provision.objects o JOIN provision.images i ON o.image_id = i.image_id "
        "WHERE i.width > 0 AND o.name LIKE '%a%' GROUP BY o.name ORDER BY 2 DESC, 1 LIMIT 3",
        2,
    )
    assert columns == ["name", "count(1)"] and len(rows) == 2
