"""Each job run is an MLflow run: its parameters, row counts and the run id stamped on its rows."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping

import mlflow

from provision_spark.lakehouse.config import Settings


class CountMismatch(RuntimeError):
    """Rows went missing: what came in is not what was written plus what was quarantined."""


@dataclasses.dataclass
class JobRun:
    run_id: str
    summary: dict[str, int] = dataclasses.field(default_factory=dict)

    def log_counts(self, entity: str, n_in: int, n_written: int, n_quarantined: int) -> None:
        if n_in != n_written + n_quarantined:
            raise CountMismatch(f"{entity}: {n_in} in != {n_written} written + {n_quarantined} quarantined")
        self.log_metrics({f"{entity}.in": n_in, f"{entity}.written": n_written, f"{entity}.quarantined": n_quarantined})

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.summary.update(metrics)
        mlflow.log_metrics({k.replace("/", "."): float(v) for k, v in metrics.items()}, run_id=self.run_id)


def configure(settings: Settings) -> None:
    """Point MLflow at the configured store; the sqlite store is created here, once, serially.

    With the local store the experiment's artifacts live in the lakehouse too (not in ``./mlruns``
    of whatever folder a job was started from).
    """
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    if settings.tracking_uri is None:
        settings.lakehouse.mkdir(parents=True, exist_ok=True)
        if mlflow.get_experiment_by_name(settings.experiment) is None:
            artifacts = (settings.lakehouse.resolve() / "mlartifacts").as_uri()
            mlflow.create_experiment(settings.experiment, artifact_location=artifacts)
    mlflow.set_experiment(settings.experiment)


@contextlib.contextmanager
def job_run(settings: Settings, job_name: str, params: Mapping[str, object]) -> Iterator[JobRun]:
    configure(settings)
    with mlflow.start_run(run_name=job_name, nested=mlflow.active_run() is not None) as run:
        mlflow.set_tag("job", job_name)
        mlflow.log_params({k: str(v) for k, v in params.items()})
        yield JobRun(run.info.run_id)
