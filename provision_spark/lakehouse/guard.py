"""One writer at a time across jobs: a job's first task waits while another job's run that started
earlier is still active. Every job MERGEs into the same tables (at least ``quarantine``), and
concurrent MERGEs into one Delta table fail each other; ``max_concurrent_runs`` only orders the runs
of one job. Comparing start times, not just activity, keeps two jobs that start together from each
waiting for the other: the later one waits."""

from __future__ import annotations

import time


def earlier_active_runs(client, job_ids: list[int], started_before_ms: int) -> list[str]:
    """The active runs of these jobs that started before ``started_before_ms`` (epoch milliseconds)."""
    return [
        f"job {job_id} run {run.run_id}"
        for job_id in job_ids
        for run in client.jobs.list_runs(job_id=job_id, active_only=True)
        if run.start_time is not None and run.start_time < started_before_ms
    ]


def wait_for_jobs(job_ids: list[int], started_before_ms: int, timeout_s: float, poll_s: float, client=None) -> int:
    """Wait until no earlier run of these jobs is active; the seconds waited. ``TimeoutError`` past ``timeout_s``."""
    if client is None:
        from databricks.sdk import WorkspaceClient  # on every Databricks runtime

        client = WorkspaceClient()
    start = time.monotonic()
    while running := earlier_active_runs(client, job_ids, started_before_ms):
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"still running after {timeout_s:.0f} s: {', '.join(running)}")
        time.sleep(poll_s)
    return round(time.monotonic() - start)
