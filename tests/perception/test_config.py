"""The perception YAML and what goes into a model version."""

from __future__ import annotations

import dataclasses

import pytest

from provision_spark.perception.config import DetectConfig, PerceptionConfig, settings_fingerprint
from provision_spark.perception.weights import content_hash, pinned, version_of


def test_yaml_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    config_file = tmp_path / "conf" / "perception.yaml"
    config_file.write_text(
        "detect: {weights: ../w/yolo.pt, text_encoder: /Volumes/main/m/clip, score_threshold: 0.3}\n"
        "segment: {weights: models:/sam2@champion, overrides: ['++model.image_size=512']}\n"
        "write_mode: replace\n"
    )
    config = PerceptionConfig.from_yaml(config_file)
    assert config.detect.weights == str(tmp_path / "w" / "yolo.pt")
    assert config.detect.text_encoder == "/Volumes/main/m/clip"
    assert config.segment.weights == "models:/sam2@champion" and config.segment.overrides == ("++model.image_size=512",)
    assert (config.detect.score_threshold, config.write_mode, config.depth) == (0.3, "replace", None)
    with pytest.raises(ValueError, match="stage 'depth' is not configured"):
        config.stage("depth")
    with pytest.raises(ValueError, match="write_mode"):
        dataclasses.replace(config, write_mode="overwrite")


def test_the_settings_hash_follows_what_changes_the_output(tmp_path):
    vocabulary = tmp_path / "objects.txt"
    vocabulary.write_text("person\nbat\n")
    base = DetectConfig(weights="a.pt", text_encoder="clip", vocabulary=str(vocabulary))
    fingerprint = settings_fingerprint(base, {"text_encoder": "v1"})
    assert (
        settings_fingerprint(dataclasses.replace(base, batch_size=64, weights="b.pt"), {"text_encoder": "v1"})
        == fingerprint
    )
    assert settings_fingerprint(dataclasses.replace(base, score_threshold=0.5), {"text_encoder": "v1"}) != fingerprint
    assert settings_fingerprint(base, {"text_encoder": "v2"}) != fingerprint
    vocabulary.write_text("person\nbat\nglove\n")
    assert settings_fingerprint(base, {"text_encoder": "v1"}) != fingerprint


def test_weights_versions_are_content_hashes_of_absolute_paths(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert version_of(str(folder), None) == version_of(str(copy), None) == content_hash(folder)
    (copy / "model.safetensors").write_bytes(b"\1" * 64)
    assert version_of(str(copy), None) != version_of(str(folder), None)
    monkeypatch.chdir(tmp_path)
    assert pinned("weights", None) == str(folder)
    assert pinned("models:/m/3", None) == "models:/m/3"
    with pytest.raises(FileNotFoundError):
        version_of(str(tmp_path / "missing"), None)
