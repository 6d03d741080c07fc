"""What every command shares: the one Typer ``app`` and its global options, the session from those
settings (with stage progress while the command runs), the summary table, and ``run``: how any
failure reaches the user as one line (``--debug`` or ``PROVISION_DEBUG=1`` for the whole trace).
Each command group (a module of this package) adds its commands to ``app``; commands only parse
options, get the session and call a stage."""

from __future__ import annotations

import difflib
import glob
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from provision_spark.errors import ProvisionError
from provision_spark.lakehouse.config import Settings

#: PySpark's loggers of query errors (pyspark.errors.exceptions.base).
PYSPARK_ERROR_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
#: Wide enough that no table is cut when the output is a log (a Databricks job's, a file), not a terminal.
LOG_WIDTH = 100_000


def _console(stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else LOG_WIDTH)


console = _console(stderr=False)
#: Progress and errors: stderr, so that ``sql --json > rows.jsonl`` stays clean.
err_console = _console(stderr=True)

app = typer.Typer(
    help="ProVision on a Spark/Delta lakehouse: scene graphs -> verified instruction data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def common(
    ctx: typer.Context,
    lakehouse: Annotated[
        Optional[Path],
        typer.Option(
            metavar="DIR",
            help="Local lakehouse folder (tables, metastore, MLflow store). Default: PROVISION_LAKEHOUSE, "
            "the lakehouse of the nearest provision.toml or [tool.provision] in pyproject.toml, else ./lakehouse.",
        ),
    ] = None,
    catalog: Annotated[
        Optional[str], typer.Option(metavar="NAME", help="Unity Catalog catalog (none locally).")
    ] = None,
    schema: Annotated[Optional[str], typer.Option(metavar="NAME", help="Schema (database) holding the tables.")] = None,
    tracking_uri: Annotated[
        Optional[str], typer.Option(metavar="URI", help="MLflow tracking URI (default: sqlite in the lakehouse).")
    ] = None,
    experiment: Annotated[
        Optional[str], typer.Option(metavar="NAME", help="MLflow experiment the runs log to.")
    ] = None,
    remote: Annotated[
        Optional[str],
        typer.Option(metavar="URL", help="Run through this Spark Connect server (sc://host:port) instead of locally."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show Spark's own log lines (JVM start, warnings).")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On failure print the whole traceback (also PROVISION_DEBUG=1).")
    ] = False,
) -> None:
    """Settings come from a project file and PROVISION_* variables, overridden by these options."""
    ctx.obj = Settings.from_env(
        lakehouse=lakehouse,
        catalog=catalog,
        schema=schema,
        tracking_uri=tracking_uri,
        experiment=experiment,
        remote=remote,
        verbose=verbose or None,
    )


def session(ctx: typer.Context, creates_lakehouse: bool = False):
    """(SparkSession, Settings) for a command, with stage progress shown until the command ends.

    Commands that only read tables (``creates_lakehouse=False``) fail at once, before Spark starts,
    when the local lakehouse does not exist: a new empty one would only fail later, less clearly.
    """
    from provision_spark.cli.progress import StageProgress
    from provision_spark.lakehouse.session import get_spark

    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    if not creates_lakehouse:
        settings.require_lakehouse()
    if not settings.verbose:  # PySpark logs every SQL error as JSON before raising it; run() prints it once
        for name in PYSPARK_ERROR_LOGGERS:
            logging.getLogger(name).disabled = True
    spark = get_spark(settings)
    ctx.with_resource(StageProgress(spark, err_console))
    return spark, settings


def names(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given): ``--generators a,b``."""
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


def choices(value: str | None, known: list[str], what: str) -> str | None:
    """Callback check of a comma-separated option against the names it may hold, before Spark starts."""
    unknown = [n for n in names(value) or [] if n not in known]
    if not unknown:
        return value
    if len(known) <= 6:
        raise typer.BadParameter(f"unknown {what} {', '.join(unknown)}; one of {', '.join(known)}")
    close = [m for n in unknown for m in difflib.get_close_matches(n, known, n=1)]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise typer.BadParameter(f"unknown {what} {', '.join(unknown)}; {hint}(--list shows them all)")


def existing_source(value: str) -> str:
    """A local path or glob must match something; URLs and /Volumes paths are left to Spark."""
    if "://" in value or value.startswith(("/Volumes/", "dbfs:")) or glob.glob(value):
        return value
    raise typer.BadParameter(f"no file or folder matches {value}")


def print_summary(title: str, summary: dict[str, object]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:.3g}" if isinstance(value, float) else str(value))
    console.print(table)


def run(argv: list[str] | None = None) -> None:
    """Run the app and exit: usage errors exit 2, any other failure 1, each as one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PROVISION_DEBUG", "") not in ("", "0")
    try:
        code = app(args, prog_name="provision", standalone_mode=False)
    except typer.Exit as done:
        code = done.exit_code
    except typer.Abort:
        _error_line("provision: aborted")
        code = 130
    except typer.TyperException as error:  # a usage error (exit 2), found before anything ran
        context = getattr(error, "ctx", None)
        command = context.command_path if context is not None else "provision"
        hint = f" (see {command} --help)" if error.exit_code == 2 else ""
        _error_line(f"{command}: {error.format_message()}{hint}")
        code = error.exit_code
    except ProvisionError as error:  # says all there is to say
        if debug:
            raise
        _error_line(f"provision: {describe(error)}")
        code = 1
    except Exception as error:
        if debug:
            raise
        _error_line(f"provision: {describe(error)} (--debug for the full trace)")
        code = 1
    sys.exit(code or 0)


def _error_line(text: str) -> None:
    err_console.print(" ".join(text.split()), highlight=False, markup=False, soft_wrap=True)


def describe(error: BaseException) -> str:
    """One line for a failure: Spark's error class and message (not its plan), the JVM's exception, or
    the last line of a Python worker's traceback; else ``Type: message``."""
    text = str(error).strip()
    if isinstance(error, ProvisionError):
        return text.splitlines()[0] if text else type(error).__name__
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException, PythonException
    except ImportError:  # pragma: no cover - pyspark is a dependency
        PySparkException = PythonException = Py4JJavaError = ()  # noqa: N806
    if isinstance(error, PythonException):
        lines = [line for line in text.splitlines() if line.strip()]
        return f"a Python task failed: {lines[-1].strip()}" if lines else "a Python task failed"
    if isinstance(error, PySparkException):
        first = text.splitlines()[0].rstrip(";") if text else type(error).__name__
        return first
    if isinstance(error, Py4JJavaError):
        return str(error.java_exception.toString()).splitlines()[0]
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
