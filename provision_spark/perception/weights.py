"""Where a model's weights come from and which version they are.

A weights reference is a local path, a Unity Catalog volume path (``/Volumes/...``, a FUSE mount on
Databricks, or ``dbfs:/Volumes/...``), or an MLflow registry URI (``models:/name/3``,
``models:/name@champion``; with ``MLFLOW_REGISTRY_URI=databricks-uc`` the name is
``catalog.schema.model``). The version is the registry's version number for ``models:/`` and a
content hash of the files otherwise, so two copies of the same weights share a version.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

MODELS_PREFIX = "models:/"


def is_registry_uri(uri: str) -> bool:
    return uri.startswith(MODELS_PREFIX)


def fuse_path(uri: str) -> Path:
    """``dbfs:/Volumes/x`` -> ``/Volumes/x``, ``dbfs:/x`` -> ``/dbfs/x``, ``file:/x`` -> ``/x``."""
    if uri.startswith("dbfs:/Volumes/"):
        return Path(uri[len("dbfs:") :])
    if uri.startswith("dbfs:/"):
        return Path("/dbfs") / uri[len("dbfs:/") :]
    if uri.startswith("file:"):
        return Path(uri[len("file:") :])
    return Path(uri)


def pinned(uri: str, tracking_uri: str | None) -> str:
    """The URI with an alias resolved to its version number (``models:/m@champion`` -> ``models:/m/4``),
    so every worker loads the same weights even if the alias moves during the job; a relative local
    path made absolute, since workers need not share the driver's working directory."""
    if not is_registry_uri(uri):
        return uri if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) else os.path.abspath(uri)
    if "@" not in uri:
        return uri
    from mlflow import MlflowClient

    name, alias = uri[len(MODELS_PREFIX) :].split("@", 1)
    version = MlflowClient(tracking_uri=tracking_uri).get_model_version_by_alias(name, alias).version
    return f"{MODELS_PREFIX}{name}/{version}"


def version_of(uri: str, tracking_uri: str | None) -> str:
    """Registry version for a pinned ``models:/name/N``, else a content hash of the files."""
    if is_registry_uri(uri):
        return pinned(uri, tracking_uri).rsplit("/", 1)[1]
    path = fuse_path(uri)
    if not path.exists():
        raise FileNotFoundError(f"weights not found: {uri}")
    return content_hash(path)


def content_hash(path: Path) -> str:
    """sha256 over (relative name, bytes) of every file under ``path``; 16 hex digits."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _hash_files(str(path), stamp)


@functools.cache
def _hash_files(root: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    base = Path(root)
    for name, _, _ in stamp:
        file = Path(name)
        digest.update(str(file.relative_to(base) if file != base else file.name).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def local_path(uri: str, tracking_uri: str | None) -> Path:
    """A local file or folder holding the weights; registry models are downloaded once per machine.

    A registered model version is either a plain folder of weight files (its source an artifact
    folder) or an MLflow pyfunc model logged with ``artifacts={"weights": <file or folder>}`` (what
    Unity Catalog, which wants an MLmodel, takes); a folder holding a single file means that file.
    """
    if not is_registry_uri(uri):
        return fuse_path(uri)
    folder = _downloaded(uri, tracking_uri)
    mlmodel = folder / "MLmodel"
    if mlmodel.exists():
        import yaml

        flavor = yaml.safe_load(mlmodel.read_text())["flavors"]["python_function"]
        folder = folder / flavor["artifacts"]["weights"]["path"]
    entries = list(folder.iterdir()) if folder.is_dir() else []
    return entries[0] if len(entries) == 1 and entries[0].is_file() else folder


def _downloaded(uri: str, tracking_uri: str | None) -> Path:
    import mlflow.artifacts

    where = f"{tracking_uri}|{os.environ.get('MLFLOW_REGISTRY_URI')}|{uri}"
    cache = Path(tempfile.gettempdir()) / "provision-models" / hashlib.sha256(where.encode()).hexdigest()[:16]
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=cache.name, dir=cache.parent))
        mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging), tracking_uri=tracking_uri)
        try:
            os.replace(staging, cache)  # atomic: a second worker on the machine may have won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return cache
