"""Where the lakehouse lives and how to reach it: one settings object shared by every job.

Every field can be set from the environment (``PROVISION_<FIELD>``), so the same code runs locally
(defaults: ``./lakehouse``, a local metastore and a sqlite MLflow store) and on Databricks
(``PROVISION_CATALOG=main``, tracking URI ``databricks``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path


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
    #: A Spark Connect server (``sc://host:port``) to run on instead of a local session.
    remote: str | None = None

    def __post_init__(self) -> None:
        # Environment variables and CLI options arrive as strings.
        object.__setattr__(self, "lakehouse", Path(self.lakehouse))
        object.__setattr__(self, "shuffle_partitions", int(self.shuffle_partitions))
        object.__setattr__(self, "catalog", self.catalog or None)
        object.__setattr__(self, "tracking_uri", self.tracking_uri or None)
        object.__setattr__(self, "remote", self.remote or None)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then ``PROVISION_*`` variables, then explicit (non-None) overrides."""
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = os.environ.get(f"PROVISION_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

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
