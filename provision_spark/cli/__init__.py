"""``provision``: the command line, one Typer app with a module per command group (``ingest``,
``perception``, ``generate``, ``quality``, ``export``, ``lakehouse``, ``demo``). ``jobs/*.py`` and the bundle's
wheel tasks call the same commands, so Databricks tasks and local runs agree."""

from __future__ import annotations

from provision_spark.cli import demo, export, generate, ingest, lakehouse, perception, quality  # noqa: F401 (commands)
from provision_spark.cli.common import app, run  # noqa: F401 (app: tests and jobs import it from here)

GLOBAL_OPTIONS = ("--lakehouse", "--catalog", "--schema", "--tracking-uri", "--experiment", "--remote")
GLOBAL_FLAGS = ("--verbose", "--debug")


def run_job(command: str, argv: list[str] | None = None) -> None:
    """Entry for ``jobs/*.py``: the task's parameters, global options moved before the command."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    global_args, command_args = [], []
    while args:
        arg = args.pop(0)
        name = arg.split("=", 1)[0]
        target = global_args if name in GLOBAL_OPTIONS or name in GLOBAL_FLAGS else command_args
        target.append(arg)
        if "=" not in arg and name in GLOBAL_OPTIONS and args:
            target.append(args.pop(0))
    run([*global_args, command, *command_args])


def main() -> None:
    run()


if __name__ == "__main__":
    main()
