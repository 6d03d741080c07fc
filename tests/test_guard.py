"""The cross-job guard's rule, on a stand-in for the Jobs API (no workspace is reachable from tests):
earlier active runs are waited for, later ones are not, so two jobs started together do not deadlock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from provision_spark.lakehouse.guard import earlier_active_runs, wait_for_jobs


class Jobs:
    """``WorkspaceClient().jobs`` as far as the guard uses it: ``list_runs(job_id, active_only=True)``."""

    def __init__(self, runs: dict[int, list[tuple[int, int]]]) -> None:
        self.runs = runs  # job id -> [(run id, start ms)] of active runs
        self.calls = 0

    def list_runs(self, job_id: int, active_only: bool):
        assert active_only
        self.calls += 1
        return [SimpleNamespace(run_id=r, start_time=t) for r, t in self.runs.get(job_id, [])]


def test_only_runs_that_started_earlier_are_waited_for():
    client = SimpleNamespace(jobs=Jobs({1: [(10, 1_000), (11, 5_000)], 2: [(20, 2_000)]}))
    assert earlier_active_runs(client, [1, 2], started_before_ms=3_000) == ["job 1 run 10", "job 2 run 20"]
    assert earlier_active_runs(client, [1, 2], started_before_ms=500) == []


def test_waits_until_the_earlier_run_ends_and_times_out_while_it_does_not():
    jobs = Jobs({1: [(10, 1_000)]})
    client = SimpleNamespace(jobs=jobs)

    def finish(_seconds: float) -> None:
        jobs.runs = {}

    import provision_spark.lakehouse.guard as guard

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guard.time, "sleep", finish)
        assert wait_for_jobs([1], 2_000, timeout_s=60, poll_s=1, client=client) == 0
    assert jobs.calls == 2
    with pytest.raises(TimeoutError, match="job 1 run 10"):
        wait_for_jobs([1], 2_000, timeout_s=0.05, poll_s=0.01, client=SimpleNamespace(jobs=Jobs({1: [(10, 1_000)]})))
