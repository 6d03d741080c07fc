"""Where the lakehouse lives and how to reach it: one settings object shared by every job.

Every field can be set in a project file, from the environment (``PROVISION_<FIELD>``) or by an
option, so the same code runs locally (a lakehouse folder with a metastore and a sqlite MLflow store)
and on Databricks (``PROVISION_CATALOG=main``, tracking URI ``databricks``). The project file is the
nearest ``provision.toml`` (top-level keys) or ``pyproject.toml`` with a ``[tool.provision]`` table,
looking up from the current folder; its relative ``lakehouse`` is relative to the file, so a command
run from a sub-folder finds the same lakehouse.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import tomllib

from provision_spark.errors import InputError

PROJECT_FILES = ("provision.toml", "pyproject.toml")


@dataclasses.dataclass(frozen=True)
class Settings:
    lakehouse: Path = Path("lakehouse")
    catalog: str | None = None
    schema: str = "provision"
    tracking_uri: str | None = None
    experiment: str = "provision-spark"
    master: str = "local[*]"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    #: Extra Spark settings for a local session, ``key=value`` pairs separated by commas.
    spark_conf: str = ""
    #: Let the JVM's log lines (log4j) through; quiet by default.
    verbose: bool = False

    def __post_init__(self) -> None:
        # Environment variables and CLI options arrive as strings.
        object.__setattr__(self, "lakehouse", Path(self.lakehouse))
        object.__setattr__(self, "shuffle_partitions", int(self.shuffle_partitions))
        object.__setattr__(self, "verbose", str(self.verbose).lower() in ("1", "true", "yes", "on"))
        object.__setattr__(self, "catalog", self.catalog or None)
        object.__setattr__(self, "tracking_uri", self.tracking_uri or None)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then the project file, then ``PROVISION_*`` variables, then explicit (non-None) overrides."""
        values: dict[str, object] = dict(project_settings())
        for field in dataclasses.fields(cls):
            raw = os.environ.get(f"PROVISION_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def is_local(self) -> bool:
        """Tables in a local folder (not Unity Catalog, not a Databricks cluster's metastore)."""
        return self.catalog is None and "DATABRICKS_RUNTIME_VERSION" not in os.environ

    def require_lakehouse(self) -> None:
        """For commands that read tables: a missing local lakehouse is an error, not a new empty one."""
        if self.is_local and not self.metastore_dir.is_dir():
            raise InputError(
                f"no lakehouse at {self.lakehouse.resolve()}: give --lakehouse DIR, set PROVISION_LAKEHOUSE, "
                'add lakehouse = "DIR" to provision.toml, or make one (provision demo, provision ingest-vg ...)'
            )

    @property
    def spark_conf_pairs(self) -> dict[str, str]:
        pairs = [item.split("=", 1) for item in self.spark_conf.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"spark_conf must be key=value pairs separated by commas, not {self.spark_conf!r}")
        return {key.strip(): value.strip() for key, value in pairs}

    @property
    def warehouse_dir(self) -> Path:
        return self.lakehouse.resolve() / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.lakehouse.resolve() / "metastore_db"

    @property
    def exports_dir(self) -> Path:
        return self.lakehouse.resolve() / "exports"

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.lakehouse.resolve() / 'mlflow.db'}"

    @property
    def namespace(self) -> str:
        """``catalog.schema`` on Unity Catalog, ``schema`` on a local metastore."""
        return f"{self.catalog}.{self.schema}" if self.catalog else self.schema


def project_file(start: Path | None = None) -> Path | None:
    """The nearest ``provision.toml``, or ``pyproject.toml`` with a ``[tool.provision]`` table."""
    folder = (start or Path.cwd()).resolve()
    for parent in (folder, *folder.parents):
        for name in PROJECT_FILES:
            candidate = parent / name
            if candidate.is_file() and (name == "provision.toml" or "provision" in _toml(candidate).get("tool", {})):
                return candidate
    return None


def project_settings(start: Path | None = None) -> dict[str, object]:
    """The project file's settings, its ``lakehouse`` made absolute (relative to the file)."""
    path = project_file(start)
    if path is None:
        return {}
    table = _toml(path)
    values = dict(table if path.name == "provision.toml" else table["tool"]["provision"])
    known = {field.name for field in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if "lakehouse" in values:
        values["lakehouse"] = path.parent / str(values["lakehouse"])
    return values


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path} is not valid TOML: {error}") from error
