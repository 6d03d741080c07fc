"""What keeps the per-task cost of the perception UDFs low: tasks sized by the input, one model load
per worker with the loaded heap frozen out of the collector's sight, and zip archives on
``sys.path`` re-read only when they change."""

from __future__ import annotations

import dataclasses
import gc
import importlib
import sys
import zipfile
import zipimport

import pytest

from provision_spark.perception import runtime
from provision_spark.perception.pipeline import task_count


def test_tasks_are_the_configured_number_but_never_more_than_full_batches():
    assert task_count(1000, 8, 16) == 16
    assert task_count(32, 8, 16) == 4
    assert task_count(33, 8, 16) == 5
    assert task_count(3, 8, 16) == 1
    assert task_count(0, 8, 16) == 1


LOADS: list[str] = []


@dataclasses.dataclass(frozen=True)
class CountingWorker:
    """The smallest ``Worker``: it records each load in ``LOADS``."""

    stage: str = "count"
    batch_size: int = 1

    def load(self, device: str) -> object:
        LOADS.append(device)
        return object()

    def infer(self, model, items):
        return [{} for _ in items]


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(runtime, "_MODELS", {})
    LOADS.clear()
    yield
    gc.unfreeze()


def test_a_worker_loads_a_model_once_and_freezes_what_it_allocated(fresh_cache):
    model, loaded = runtime.cached_model(CountingWorker(), "cpu")
    assert loaded == 1 and gc.get_freeze_count() > 0
    again, loaded_again = runtime.cached_model(CountingWorker(), "cpu")
    assert again is model and loaded_again == 0 and LOADS == ["cpu"]


def test_an_unchanged_zip_is_not_reread_and_a_changed_one_is(tmp_path, monkeypatch):
    monkeypatch.setattr(zipimport.zipimporter, "invalidate_caches", zipimport.zipimporter.invalidate_caches)
    archive = tmp_path / "modules.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_first.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delitem(sys.modules, "zipped_first", raising=False)
    monkeypatch.delitem(sys.modules, "zipped_second", raising=False)
    assert importlib.import_module("zipped_first").VALUE == 1

    runtime.rescan_zips_only_when_changed()
    runtime.rescan_zips_only_when_changed()  # idempotent: wraps once
    importlib.invalidate_caches()  # first sight of the archive: read
    files = zipimport._zip_directory_cache[str(archive)]
    importlib.invalidate_caches()
    assert zipimport._zip_directory_cache[str(archive)] is files  # unchanged: not read again

    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr("zipped_second.py", "VALUE = 2\n")
    importlib.invalidate_caches()
    assert importlib.import_module("zipped_second").VALUE == 2
