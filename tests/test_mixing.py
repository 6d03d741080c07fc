"""Training mixes: augmentation adds r·|base| of ours, replacement swaps that many, the short-answer /
multiple-choice ratio and the splits are honoured, the same seed gives the same file, and the
manifest records what went in. Ours take the base's own format: single-image rows in a LLaVA base,
image lists in a LLaVA-interleave base."""

from __future__ import annotations

import json

import pytest

from provision_spark.exports.stage import ExportError, Selection, Wording, run_mix
from provision_spark.generators.multi.render import rendered_schema
from provision_spark.lakehouse import tables

N_BASE = 100
PER_SPLIT = 15  # ours: 15 rows in each of VG-S, DC-S, VG-M, DC-M


def instruction(i: int, split: str) -> dict:
    kind = "multi" if split.endswith("M") else "single"
    image_ids = [f"mix/{i}", f"mix/{i + 1}"] if kind == "multi" else [f"mix/{i}"]
    return {
        "instruction_id": f"{split}-{i:03d}",
        "generator": f"test_{kind}",
        "family": "objects",
        "kind": kind,
        "image_ids": image_ids,
        "question": f"Question {i}?",
        "answer": f"answer {i}",
        "mc_question": f"Question {i}?\nA. answer {i}\nB. wrong\nAnswer with the option's letter.",
        "choices": [f"answer {i}", "wrong"],
        "correct_index": 0,
        "metadata": json.dumps({"mc": {"label": "A", "style": "upper_dot"}}),
        "split": split,
        "source": "human" if split.startswith("VG") else "model",
        "seed": 0,
    }


@pytest.fixture(scope="module")
def ours(spark, settings):
    rows = [instruction(i, split) for split in ("VG-S", "DC-S", "VG-M", "DC-M") for i in range(PER_SPLIT)]
    tables.merge_into(spark, settings, "instructions", spark.createDataFrame(rows, rendered_schema()), "test")
    return settings


@pytest.fixture(scope="module")
def base_jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "llava.jsonl"
    records = [
        {
            "id": f"base-{i}",
            "image": f"coco/{i}.jpg",
            "conversations": [{"from": "human", "value": f"<image>\nWhat is {i}?"}, {"from": "gpt", "value": str(i)}],
        }
        for i in range(N_BASE)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def mix(spark, settings, base, out, *, mode, ratio, mc_ratio=0.5, splits=None, seed=0):
    selection, wording = Selection(splits=splits), Wording(mc_ratio=mc_ratio, seed=seed)
    return run_mix(spark, settings, base, out, mode=mode, ratio=ratio, selection=selection, wording=wording)


def lines(path):
    return path.read_text().splitlines()


def test_augment_adds_ratio_times_base(spark, ours, base_jsonl, tmp_path):
    manifest = mix(spark, ours, base_jsonl, tmp_path, mode="augment", ratio=0.2, mc_ratio=0.5, seed=1)
    out = lines(tmp_path / "mix.jsonl")
    assert len(out) == N_BASE + 20 == manifest["output"]["rows"]
    assert set(lines(base_jsonl)) <= set(out)  # the base is kept verbatim
    added = [json.loads(x) for x in out if not json.loads(x)["id"].startswith("base-")]
    assert len(added) == 20 == manifest["ours"]["added"]
    assert (manifest["base"]["path"], manifest["base"]["rows"]) == (str(base_jsonl), N_BASE)
    assert len(manifest["base"]["sha256"]) == 64
    assert (manifest["base_kept"], manifest["base_replaced"], manifest["ours"]["shortfall"]) == (N_BASE, 0, 0)
    assert sum(manifest["ours"]["by_split"].values()) == sum(manifest["ours"]["by_form"].values()) == 20
    assert manifest["mode"] == "augment" and manifest["seed"] == 1 and manifest["tables"]["instructions"] >= 1
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    for record in added:  # a LLaVA base: one image per record, a path like the base's
        assert record["id"][:4] in ("VG-S", "DC-S") and record["image"] == str(int(record["id"][5:]))
    with pytest.raises(ExportError, match="llava-interleave"):
        mix(spark, ours, base_jsonl, tmp_path, mode="augment", ratio=0.2, splits=["VG-M"])


def test_replace_keeps_the_size_and_swaps_ratio_times_base(spark, ours, base_jsonl, tmp_path):
    manifest = mix(spark, ours, base_jsonl, tmp_path, mode="replace", ratio=0.3, mc_ratio=1.0, seed=1)
    out = lines(tmp_path / "mix.jsonl")
    assert len(out) == N_BASE
    kept = [x for x in out if json.loads(x)["id"].startswith("base-")]
    assert len(kept) == 70 == manifest["base_kept"] and manifest["base_replaced"] == 30
    assert set(kept) <= set(lines(base_jsonl))
    assert manifest["ours"]["by_form"] == {"short_answer": 0, "multiple_choice": 30}
    for record in map(json.loads, out):
        if not record["id"].startswith("base-"):
            assert record["conversations"][1]["value"] == "A"  # the multiple-choice label


def test_same_seed_same_file_other_seed_other_draw(spark, ours, base_jsonl, tmp_path):
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    interleave = tmp_path / "interleave.jsonl"  # LLaVA-OneVision: image lists
    interleave.write_text(
        "".join(json.dumps({**r, "image": [r["image"]]}) + "\n" for r in map(json.loads, lines(base_jsonl)))
    )
    for folder, seed in ((one, 5), (two, 5), (other, 6)):
        mix(
            spark, ours, interleave, folder, mode="augment", ratio=0.1, mc_ratio=0.0, splits=["VG-M", "DC-M"], seed=seed
        )
    assert lines(one / "mix.jsonl") == lines(two / "mix.jsonl")
    assert lines(one / "mix.jsonl") != lines(other / "mix.jsonl")
    manifest = json.loads((one / "manifest.json").read_text())
    assert set(manifest["ours"]["by_split"]) <= {"VG-M", "DC-M"}
    assert manifest["ours"]["by_form"] == {"short_answer": 10, "multiple_choice": 0}
    assert manifest["base"]["format"] == "llava-interleave"
    ours_records = [r for r in map(json.loads, lines(one / "mix.jsonl")) if not r["id"].startswith("base-")]
    assert len(ours_records) == 10 and all(len(r["image"]) == 2 for r in ours_records)


def test_shortfall_and_json_array_base(spark, ours, base_jsonl, tmp_path):
    base = tmp_path / "llava.json"
    base.write_text(json.dumps([json.loads(x) for x in lines(base_jsonl)]))
    manifest = mix(spark, ours, base, tmp_path / "out", mode="augment", ratio=1.0, splits=["VG-S"], seed=0)
    records = json.loads((tmp_path / "out" / "mix.json").read_text())
    assert len(records) == N_BASE + PER_SPLIT
    assert manifest["ours"] == {
        **manifest["ours"],
        "requested": N_BASE,
        "added": PER_SPLIT,
        "shortfall": N_BASE - PER_SPLIT,
        "by_split": {"VG-S": PER_SPLIT},
    }
    assert {r["id"] for r in records} >= {f"base-{i}" for i in range(N_BASE)}
