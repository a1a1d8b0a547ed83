"""ONNX exports: equal to transformers, cached by content, verified on read, rebuilt when bad."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.siglip.conftest import KINDS
from visual_buffet import paths
from visual_buffet_siglip.onnx_backend import load_onnx
from visual_buffet_siglip.onnx_cache import (
    DATA_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    OnnxExportCache,
    export_key,
)
from visual_buffet_siglip.onnx_session import optimised_key
from visual_buffet_siglip.variants import resolve_model

SIZES = [(90, 60), (300, 40), (33, 120)]


def views(seed: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


def transformers_features(model_dir, images, max_num_patches=256):
    from transformers import AutoProcessor, Siglip2Model, SiglipModel

    naflex = (model_dir / "processor_config.json").read_text().count("Siglip2") > 0
    model = (Siglip2Model if naflex else SiglipModel).from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir).image_processor
    extra = {"max_num_patches": max_num_patches} if naflex else {}
    inputs = processor(images=images, return_tensors="pt", **extra)
    with torch.inference_mode():
        features = model.get_image_features(**inputs).pooler_output
    return torch.nn.functional.normalize(features, dim=-1).numpy()


def onnx_model(model_dir, quantization="none", max_num_patches=256, report=None):
    return load_onnx(
        resolve_model("so400m", False, str(model_dir)),
        quantization=quantization,
        threads="auto",
        max_num_patches=max_num_patches,
        report=report or (lambda _: None),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_vision_export_equals_transformers_for_any_batch(kind, checkpoints):
    images = views()
    expected = transformers_features(checkpoints[kind], images)
    # The first load may export and optimise (its session is the one that wrote the
    # optimised form); the second opens the optimised form from the cache: both must match.
    first = onnx_model(checkpoints[kind])
    warm = onnx_model(checkpoints[kind])
    assert warm.export_ms == 0.0
    # A warm session opens with its weights memory-mapped, not prepacked, and is swapped for
    # a prepacked one at the second batch: both kernels' outputs must match.
    assert not warm.prepacked
    for model in (first, warm):
        for batch in (images[:1], images):  # the export was traced at batch 2
            ours = model.encode_views(model.preprocessor(batch))
            np.testing.assert_allclose(ours, expected[: len(batch)], atol=2e-6)
    assert warm.prepacked
    inputs = warm.preprocessor(images)
    np.testing.assert_array_equal(warm.encode_views(inputs), first.encode_views(inputs))
    unpacked = onnx_model(checkpoints[kind])
    np.testing.assert_allclose(unpacked.encode_views(inputs), first.encode_views(inputs), atol=1e-6)


def test_a_replaced_optimised_form_is_not_reopened_mid_run(checkpoints, caplog):
    import logging
    import shutil

    caplog.set_level(logging.INFO)
    model = onnx_model(checkpoints["v1"])
    model = onnx_model(checkpoints["v1"])  # warm: not prepacked yet
    assert not model.prepacked and model.vision_entry is not None
    data = model.vision_entry.path.parent / DATA_FILE
    shutil.copy(data, data.with_suffix(".copy"))
    data.with_suffix(".copy").replace(data)  # same bytes, another file: not the checked one
    inputs = model.preprocessor(views())
    before = model.encode_views(inputs)
    np.testing.assert_array_equal(model.encode_views(inputs), before)  # the same session
    assert "replaced since it was checked" in caplog.text


def keys(model, model_dir, precision="fp32"):
    """(export key, key of its optimised form) of a loaded model's vision tower."""
    key = export_key(model.revision, str(model_dir), "vision", precision)
    return key, optimised_key(key)


def flip_a_byte(path) -> None:
    """One flipped byte in the middle of a file, in place: same size, wrong hash (in place,
    not rewritten: an earlier session may still map the file)."""
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("patches", [64, 512])
def test_naflex_patch_budget_gets_its_own_export(patches, checkpoints):
    model = onnx_model(checkpoints["naflex"], max_num_patches=patches)
    images = views()
    expected = transformers_features(checkpoints["naflex"], images, patches)
    np.testing.assert_allclose(model.encode_views(model.preprocessor(images)), expected, atol=2e-6)


def test_the_warm_load_opens_the_optimised_form_whose_manifest_covers_both_files(checkpoints):
    model_dir = checkpoints["v1"]
    said: list[str] = []
    onnx_model(model_dir, report=said.append)  # exported now or by an earlier test
    said.clear()
    first = onnx_model(model_dir, report=said.append)
    assert said == [] and first.export_ms == 0.0  # warm: verified, not re-exported
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    key, fast = keys(first, model_dir)
    assert cache.entry_dir(key) != cache.entry_dir(fast)
    manifest = json.loads((cache.entry_dir(fast) / MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {MODEL_FILE, DATA_FILE}  # weights as external data
    entry = cache.load(fast)
    assert entry is not None and entry.size == first.model_bytes
    assert entry.size == sum(f["size"] for f in manifest["files"].values())


@pytest.mark.parametrize("corrupt", [DATA_FILE, MODEL_FILE])
def test_a_corrupt_optimised_form_is_made_again_from_the_export(corrupt, checkpoints, caplog):
    model_dir = checkpoints["v1"]
    first = onnx_model(model_dir)
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    _, fast = keys(first, model_dir)
    flip_a_byte(cache.entry_dir(fast) / corrupt)
    assert cache.load(fast) is None
    assert f"{corrupt}: sha256 mismatch" in caplog.text
    said: list[str] = []
    again = onnx_model(model_dir, report=said.append)  # the hash check beside the session
    assert "sha256 mismatch" in caplog.text
    assert any("Optimising the ONNX graph" in line for line in said)
    assert not any("Exporting" in line for line in said)  # the export was sound: reused
    assert again.export_ms > 0 and cache.load(fast) is not None
    images = views()
    np.testing.assert_allclose(
        again.encode_views(again.preprocessor(images)),
        transformers_features(model_dir, images),
        atol=2e-6,
    )


def test_a_corrupt_export_is_rebuilt_when_it_is_needed(checkpoints, caplog):
    model_dir = checkpoints["v1"]
    first = onnx_model(model_dir)
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    key, fast = keys(first, model_dir)
    flip_a_byte(cache.entry_dir(key) / MODEL_FILE)
    assert cache.load(key) is None and "model.onnx: sha256 mismatch" in caplog.text
    (cache.entry_dir(fast) / DATA_FILE).unlink()  # the optimised form must be made again
    assert cache.load(fast) is None and "model.data missing" in caplog.text
    said: list[str] = []
    rebuilt = onnx_model(model_dir, report=said.append)
    assert any("Exporting the vision tower" in line for line in said)
    assert rebuilt.export_ms > 0 and cache.load(key) is not None and cache.load(fast) is not None


def test_a_missing_or_foreign_manifest_means_rebuild(checkpoints, caplog):
    model = onnx_model(checkpoints["v2"])
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    for key in keys(model, checkpoints["v2"]):
        manifest = cache.entry_dir(key) / MANIFEST_FILE
        data = json.loads(manifest.read_text())
        data["key"] = data["key"].replace('"vision"', '"text"')
        manifest.write_text(json.dumps(data))
        assert cache.load(key) is None and "another key" in caplog.text
        manifest.write_text("{ not json")
        assert cache.load(key) is None and "unreadable manifest" in caplog.text
        manifest.unlink()
        assert cache.load(key) is None
    said: list[str] = []
    onnx_model(checkpoints["v2"], report=said.append)
    assert any("Exporting the vision tower" in line for line in said)


def test_a_manifest_from_before_several_files_still_reads(checkpoints):
    model = onnx_model(checkpoints["v2"])
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    key, _ = keys(model, checkpoints["v2"])
    manifest = cache.entry_dir(key) / MANIFEST_FILE
    data = json.loads(manifest.read_text())
    (graph,) = data.pop("files").values()
    manifest.write_text(json.dumps({**data, **graph}))  # size and sha256 at the top
    entry = cache.load(key)
    assert entry is not None and entry.size == graph["size"] and entry.hash_matches()
    manifest.write_text(json.dumps({**data, **graph, "sha256": "0" * 64}))
    assert cache.load(key) is None
    manifest.write_text(json.dumps({**data, "files": {MODEL_FILE: graph}}))  # as it was
    assert cache.load(key) is not None


def test_a_manifest_naming_files_outside_its_entry_is_refused(checkpoints, caplog):
    model = onnx_model(checkpoints["v2"])
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    _, fast = keys(model, checkpoints["v2"])
    manifest = cache.entry_dir(fast) / MANIFEST_FILE
    good = json.loads(manifest.read_text())
    files = good["files"]
    for bad in (
        {**files, "../model.onnx": files[MODEL_FILE]},
        {DATA_FILE: files[DATA_FILE]},  # no graph file
        {**files, DATA_FILE: "no size, no hash"},
    ):
        manifest.write_text(json.dumps({**good, "files": bad}))
        assert cache.load(fast) is None and "unreadable manifest" in caplog.text
    manifest.write_text(json.dumps(good))
    assert cache.load(fast) is not None


def test_the_key_follows_the_checkpoint_content(checkpoints, tmp_path):
    import shutil

    from visual_buffet_siglip.loading import checkpoint_revision

    copy = tmp_path / "copy"
    shutil.copytree(checkpoints["v1"], copy)
    choice = resolve_model("so400m", False, str(copy))
    before = checkpoint_revision(choice, None)
    config = json.loads((copy / "config.json").read_text())
    config["logit_scale_note"] = "edited"
    (copy / "config.json").write_text(json.dumps(config))
    assert checkpoint_revision(choice, None) != before


@pytest.mark.parametrize("kind", KINDS)
def test_text_export_equals_transformers(kind, checkpoints):
    from transformers import AutoProcessor, Siglip2Model, SiglipModel

    texts = ["This is a photo of a cat.", "This is a photo of a red car."]
    model = onnx_model(checkpoints[kind])
    ours = model.encode_texts(texts, lambda _: None)
    processor = AutoProcessor.from_pretrained(checkpoints[kind])
    tm = (Siglip2Model if kind == "naflex" else SiglipModel).from_pretrained(checkpoints[kind])
    ids = processor.tokenizer(texts, padding="max_length", max_length=64, return_tensors="pt")
    with torch.inference_mode():
        ref = tm.eval().get_text_features(input_ids=ids["input_ids"]).pooler_output
    expected = torch.nn.functional.normalize(ref, dim=-1).numpy()
    np.testing.assert_allclose(ours, expected, atol=2e-6)


def test_a_failing_export_is_a_plugin_error_that_names_the_way_out(
    checkpoints, tmp_path, monkeypatch
):
    from visual_buffet.plugin_api import PluginError
    from visual_buffet_siglip import onnx_export

    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(onnx_export, "export_tower", broken)
    with pytest.raises(PluginError) as info:
        onnx_model(checkpoints["v1"])
    message = str(info.value)
    assert "unsupported operator" in message and 'runtime = "torch"' in message
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no staged leftovers
    assert not list((tmp_path / "cache").rglob("manifest.json"))
