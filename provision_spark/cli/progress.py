"""Progress of Spark stages while a command runs: a live bar per stage in a terminal, timestamped
lines in a log (a Databricks job's output, a file), nothing on Spark Connect (no status tracker).

Spark's own console progress bar is off in our sessions (it interleaves with our output and cannot
be read in a log); this polls ``SparkContext.statusTracker()`` from a daemon thread instead.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

#: Seconds between polls of the status tracker, and between log lines of a stage still running.
POLL_SECONDS = 0.25
LOG_EVERY_SECONDS = 15.0


class StageProgress:
    """Context manager: shows the active stages of ``spark`` on ``console`` until it exits."""

    def __init__(self, spark, console: Console) -> None:
        try:
            self._tracker = spark.sparkContext.statusTracker()
        except Exception:  # Spark Connect: no SparkContext, so nothing to poll
            self._tracker = None
        self._console = console
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="provision-progress", daemon=True)
        self._live = console.is_terminal
        self._bars: Progress | None = None
        self._done: set[int] = set()

    def __enter__(self) -> StageProgress:
        if self._tracker is not None:
            if self._live:
                self._bars = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("tasks"),
                    TimeElapsedColumn(),
                    TextColumn("eta"),
                    TimeRemainingColumn(),
                    console=self._console,
                    transient=True,
                )
                self._bars.start()
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._bars is not None:
            self._bars.stop()

    def _run(self) -> None:
        shown: dict[int, object] = {}  # stage id -> rich task id, or time of its last log line
        finished_jobs: set[int] = set()
        while not self._stop.wait(POLL_SECONDS):
            try:
                active = set(self._tracker.getActiveStageIds())
                # Stages of jobs that started and ended between two polls are shown too (at their end).
                stages = set(active) | set(shown)
                for job_id in set(self._tracker.getJobIdsForGroup(None)) - finished_jobs:
                    job = self._tracker.getJobInfo(job_id)
                    if job is not None:
                        stages.update(job.stageIds)
                        if job.status in ("SUCCEEDED", "FAILED"):
                            finished_jobs.add(job_id)
                for stage_id in sorted(stages - self._done):
                    info = self._tracker.getStageInfo(stage_id)
                    if info is None or info.numTasks == 0:
                        continue
                    running, complete = stage_id in active, info.numCompletedTasks >= info.numTasks
                    if running or complete or stage_id in shown:  # not a stage still waiting to start
                        self._show(shown, stage_id, info, finished=not running)
            except Exception:  # the session is stopping; progress is never worth failing a command for
                return

    def _show(self, shown: dict[int, object], stage_id: int, info, finished: bool) -> None:
        done, total = info.numCompletedTasks, info.numTasks
        label = f"stage {stage_id} {_short(info.name)}"
        if self._bars is not None:
            if stage_id not in shown:
                shown[stage_id] = self._bars.add_task(label, total=total)
            self._bars.update(shown[stage_id], completed=done, total=total)
            if finished:
                self._bars.remove_task(shown.pop(stage_id))
                self._done.add(stage_id)
            return
        now = time.monotonic()
        if finished or stage_id not in shown or now - shown[stage_id] >= LOG_EVERY_SECONDS:
            state = "done" if finished else "running"
            stamp = datetime.now().strftime("%H:%M:%S")
            self._console.print(f"{stamp} {label}: {done}/{total} tasks {state}", highlight=False, soft_wrap=True)
            shown[stage_id] = now
        if finished:
            shown.pop(stage_id, None)
            self._done.add(stage_id)


def _short(name: str) -> str:
    """``collect at /long/path/engine.py:123`` -> ``collect at engine.py:123``."""
    action, sep, where = name.partition(" at ")
    return f"{action}{sep}{where.rsplit('/', 1)[-1]}" if sep else name
