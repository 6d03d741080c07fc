"""Every export format loaded by its consumer's own logic, on the fixtures with their real images.

- LLaVA-1.5 (``LazySupervisedDataset``): ``json.load`` the file, ``image`` a string opened as
  ``os.path.join(image_folder, image)``, one ``<image>`` in the first human turn.
- LLaVA-OneVision / NeXT interleave: ``image`` a list, each joined to the image folder, as many
  ``<image>`` tokens as images.
- Mantis: ``images`` list + ``conversation`` of ``role``/``content`` (user, assistant alternate),
  ``<image>`` count equal to the number of images.
- ShareGPT JSON lines and hf-parquet: Hugging Face ``datasets`` (``load_dataset`` + ``cast_column``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import pytest
from PIL import Image

from provision_spark import stages
from provision_spark.exports import mixing, paths
from provision_spark.exports.stage import ExportError, Selection, Wording, run_export, run_mix
from provision_spark.generators.multi.base import Params
from provision_spark.lakehouse import tables
from provision_spark.perception.ingest import ingest_images
from tests.conftest import FIXTURES

datasets = pytest.importorskip("datasets")

IMAGES = FIXTURES / "provision_baseball" / "images"
ROOT = str(IMAGES)


@pytest.fixture(scope="module")
def lake(spark, settings):
    """The baseball sample (single + multi-image items) and the same photos ingested again as a folder."""
    stages.ingest(spark, settings, "provision", str(FIXTURES / "provision_baseball"))
    ingest_images(spark, settings, str(IMAGES), "again")
    stages.build_scene_graphs(spark, settings)
    stages.generate_single(spark, settings, per_image=3)
    stages.generate_multi(spark, settings, Params(k=2, count=5, seed=0))
    # One item on the second copy of a photo: it must be named by the same path.
    row = tables.read_table(spark, settings, "instructions").filter("kind = 'single'").orderBy("instruction_id").first()
    copy = {**row.asDict(), "instruction_id": "copy-" + row.instruction_id, "image_ids": ["again/baseball_1.png"]}
    tables.merge_into(
        spark, settings, "instructions", spark.createDataFrame([copy], tables.schema_of("instructions")), "t"
    )
    return settings


def counts(spark, settings):
    rows = tables.read_table(spark, settings, "instructions").groupBy("kind").count().collect()
    return {r["kind"]: r["count"] for r in rows}


def resolve(image_folder: str, image: str) -> str:
    """LLaVA's and LLaVA-NeXT's ``process_image``: ``os.path.join(image_folder, image_file)``, then opened."""
    path = os.path.join(image_folder, image)
    Image.open(path).verify()
    return path


def test_llava_is_a_json_array_llava_15_loads(spark, lake, tmp_path):
    out = tmp_path / "llava.json"
    manifest = run_export(spark, lake, out, "llava", Selection(check_images=ROOT), Wording(mc_ratio=0.0))
    data = json.load(out.open())  # LLaVA-1.5: json.load(open(data_path))
    assert len(data) == manifest["rows"] == counts(spark, lake)["single"] and manifest["missing_images"]["rows"] == 0
    assert [d["id"] for d in data] == sorted(d["id"] for d in data)
    for record in data:
        assert isinstance(record["image"], str)
        resolve(ROOT, record["image"])
        human, gpt = record["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"].startswith("<image>\n") and human["value"].count("<image>") == 1
        assert human["value"].endswith("\nAnswer the question using a single word or phrase.")
    by_id = {d["id"]: d["image"] for d in data}
    copy = next(i for i in by_id if i.startswith("copy-"))
    assert by_id[copy] == by_id[copy.removeprefix("copy-")] == "baseball_1.png"  # one photo, one path
    assert manifest["tables"]["instructions"] >= 1 and manifest["image_datasets"] == ["again", "provision_sample"]
    assert json.loads(out.with_name("llava.json.manifest.json").read_text())["rows"] == manifest["rows"]


def test_interleave_and_mantis_hold_every_item_with_matching_image_tokens(spark, lake, tmp_path):
    n = sum(counts(spark, lake).values())
    interleave, mantis = tmp_path / "ov.json", tmp_path / "mantis.json"
    run_export(spark, lake, interleave, "llava-interleave", wording=Wording(image_placement="random", seed=3))
    run_export(spark, lake, mantis, "mantis")
    ov = json.load(interleave.open())
    assert len(ov) == n and any(len(r["image"]) == 2 for r in ov)
    for record in ov:  # LLaVA-NeXT: a list of images, one <image> each
        assert isinstance(record["image"], list)
        assert sum(t["value"].count("<image>") for t in record["conversations"]) == len(record["image"])
        [resolve(ROOT, image) for image in record["image"]]
    for record in json.load(mantis.open()):
        roles = [t["role"] for t in record["conversation"]]
        assert roles == ["user", "assistant"] and set(record) == {"id", "images", "conversation"}
        assert sum(t["content"].count("<image>") for t in record["conversation"]) == len(record["images"])
        [resolve(ROOT, image) for image in record["images"]]


def test_sharegpt_jsonl_loads_with_datasets(spark, lake, tmp_path):
    out = tmp_path / "sharegpt.jsonl"
    manifest = run_export(spark, lake, out, "sharegpt-jsonl", Selection(splits=["VG-S", "VG-M"]))
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == manifest["rows"] == sum(counts(spark, lake).values())
    assert ds.features["images"].feature.dtype == "string"  # one type in every row
    for row in ds:
        [resolve(ROOT, image) for image in row["images"]]


@pytest.mark.parametrize("embed", [False, True])
def test_hf_parquet_loads_and_casts_to_image(spark, lake, tmp_path, embed, monkeypatch):
    out = tmp_path / "hf"
    manifest = run_export(spark, lake, out, "hf-parquet", Selection(check_images=ROOT), embed_images=embed)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: single" in card and "num_examples" in card
    single = datasets.load_dataset(str(out), "single", split="vg_s", cache_dir=str(tmp_path / "c1"))
    multi = datasets.load_dataset("parquet", data_dir=str(out / "multi"), split="train", cache_dir=str(tmp_path / "c2"))
    assert single.num_rows + multi.num_rows == manifest["rows"]
    if embed:
        image = single[0]["image"]  # the card's features make it an Image: decoded from the embedded bytes
        assert image.size[0] > 0 and len(multi[0]["images"]) == 2
    else:
        monkeypatch.chdir(ROOT)  # a path relative to the image root
        cast = datasets.load_dataset(
            "parquet", data_dir=str(out / "single"), split="train", cache_dir=str(tmp_path / "c3")
        )
        assert cast.cast_column("image", datasets.Image())[0]["image"].size[0] > 0


def test_as_of_manifest_and_mlflow_lineage(spark, lake, tmp_path):
    before = tables.read_table(spark, lake, "instructions").count()
    version = spark.sql(f"DESCRIBE HISTORY {tables.table_name(lake, 'instructions')} LIMIT 1").first()["version"] - 1
    manifest = run_export(spark, lake, tmp_path / "old.jsonl", "sharegpt-jsonl", Selection(as_of=version))
    assert manifest["tables"]["instructions"] == version and manifest["rows"] == before - 1  # before the copy row
    run = mlflow.get_run(manifest["run_id"])
    sources = [json.loads(i.dataset.source) for i in run.inputs.dataset_inputs]
    table = tables.table_name(lake, "instructions")
    assert any(table in json.dumps(s) and str(s.get("delta_table_version")) == str(version) for s in sources), sources


def test_refusals_are_one_line(spark, lake, tmp_path):
    with pytest.raises(ExportError, match="unknown split"):
        run_export(spark, lake, tmp_path / "x.json", "llava", Selection(splits=["VG-X"]))
    with pytest.raises(ExportError, match="llava-interleave"):
        run_export(spark, lake, tmp_path / "x.json", "llava", Selection(splits=["VG-M"]))
    with pytest.raises(ExportError, match="missing under"):
        run_export(spark, lake, tmp_path / "x.json", "llava", Selection(check_images=str(tmp_path), on_missing="fail"))
    (tmp_path / "bad.json").write_text("[{not json")
    with pytest.raises(mixing.BaseNotParsed, match="cannot parse base"):
        run_mix(spark, lake, tmp_path / "bad.json", tmp_path / "mix", mode="augment", ratio=0.1)


def test_cli_refuses_unknown_names_before_spark(tmp_path):
    for args in (["--split", "VG-X"], ["--generators", "no_such_generator"], ["--format", "coco"]):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from provision_spark.cli import main; main()",
                "--lakehouse",
                str(tmp_path),
                "export",
                "--out",
                "x",
                *args,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        assert done.returncode == 2, done.stderr
    assert not (tmp_path / "metastore_db").exists()  # no Spark session was started


def test_path_map_templates():
    templates = paths.path_map(overrides=paths.parse_overrides(["vrd=vrd/images/{id}.jpg"]))
    assert templates["visual_genome"] == "vg/VG_100K/{id}.jpg" and templates["vrd"] == "vrd/images/{id}.jpg"
    with pytest.raises(ValueError, match="placeholders"):
        paths.path_map(overrides={"x": "{name}.jpg"})
