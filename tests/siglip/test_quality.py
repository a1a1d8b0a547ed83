"""Quality levels: views per level, passes merged without loss, batching across images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.siglip.conftest import make_plugin, tag_file, write_vocab
from visual_buffet.images import load_image
from visual_buffet_siglip.views import (
    QUALITY_LEVELS,
    VIEW_BOUNDS_6000x4000,
    max_side_needed,
    plan_views,
)

LABELS = ["cat", "dog", "red car", "tree", "boat", "sky", "house"]


@pytest.mark.parametrize("size", [(6000, 4000), (4000, 6000)])
@pytest.mark.parametrize("min_window", [1, 224, 384, 512])
def test_views_of_a_6000x4000_photo_stay_within_bounds(size, min_window):
    for level, bound in VIEW_BOUNDS_6000x4000.items():
        views = plan_views(level, size, min_window=min_window)
        assert 1 <= len(views) <= bound, (level, len(views))
    assert len(plan_views("quick", size)) == 1


@pytest.mark.parametrize("level", list(QUALITY_LEVELS))
@pytest.mark.parametrize(
    "size", [(6000, 4000), (3000, 2000), (1000, 1000), (300, 200), (12000, 2000)]
)
def test_views_cover_the_image_whole_first(level, size):
    views = plan_views(level, size, min_window=224)
    first = views[0].view
    assert first.kind == "whole" and first.box == (0, 0, *size)
    assert all(v.view.kind == "window" for v in views[1:])
    for v in views:
        left, top, right, bottom = v.view.box
        assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]
        assert v.view.resolution <= max(size)  # never upscaled
    for pass_name in {v.view.pass_name for v in views[1:]}:
        boxes = [v.view.box for v in views if v.view.pass_name == pass_name]
        covered = np.zeros(size[::-1], dtype=bool)
        for left, top, right, bottom in boxes:
            covered[top:bottom, left:right] = True
        assert covered.all(), f"{pass_name} windows leave gaps"


def test_passes_above_the_image_size_are_skipped():
    views = plan_views("max", (1500, 1000), min_window=224)
    assert {v.view.pass_name for v in views} == {"480", "1080", "original"}
    assert plan_views("max", (2048, 1000))[-1].view.pass_name == "2048"  # original == 2048


def test_decoded_size_maps_crops():
    views = plan_views("standard", (3000, 2000), (2048, 1365), min_window=224)
    assert views[0].crop == (0, 0, 2048, 1365)
    assert views[1].view.box == (0, 0, 1200, 1200) and views[1].crop == (0, 0, 819, 819)


def test_max_side_needed():
    assert max_side_needed("quick") == 1080
    assert max_side_needed("quick", input_side=384) == 768  # the whole view needs no more
    assert max_side_needed("quick", input_side=32) == 512  # never below 512: cheap anyway
    assert max_side_needed("quick", input_side=1024) == 1080
    assert max_side_needed("standard", input_side=224) == 2048  # windows need their pass
    assert max_side_needed("max") is None


@pytest.fixture
def big_photo(tmp_path):
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:1600, 0:2400]
    pixels = np.stack([x % 256, y % 256, (x // 7 + y // 5) % 256], axis=-1).astype(np.uint8)
    pixels[300:500, 1900:2200] = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.mark.parametrize("level", list(QUALITY_LEVELS))
def test_level_output_is_the_max_over_its_views(level, checkpoints, big_photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    plugin = make_plugin(
        checkpoints["v1"], quality=level, threshold=0.0, max_tags=0, custom_vocabulary=vocab
    )
    result = tag_file(plugin, big_photo)
    prepared = plugin.prepare(load_image(big_photo, max_side=plugin.max_image_side()))
    per_view = np.stack(
        [
            plugin.image_probabilities({k: v[i : i + 1] for k, v in prepared.inputs.items()})[0]
            for i in range(len(prepared.views))
        ]
    )
    best, best_view = per_view.max(axis=0), per_view.argmax(axis=0)
    got = {t.label: t for t in result.tags}
    for index, label in enumerate(plugin._labels):
        assert got[label].confidence == pytest.approx(float(best[index]), abs=1e-6)
        assert got[label].found_in == prepared.views[int(best_view[index])]
    assert result.model["views"] == len(prepared.views)
    if level != "quick":
        assert len(prepared.views) > 1


def test_batch_size_does_not_change_results(checkpoints, big_photo, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    files = [big_photo, photo, big_photo, photo]
    outputs = []
    for batch in (1, 3, 32):
        plugin = make_plugin(
            checkpoints["naflex"],
            quality="high",
            threshold=0.0,
            max_tags=0,
            custom_vocabulary=vocab,
            batch_size=batch,
        )
        prepared = [plugin.prepare(load_image(f, max_side=plugin.max_image_side())) for f in files]
        results = list(plugin.tag_stream(iter(prepared)))
        assert len(results) == len(files)
        outputs.append([[(t.label, round(t.confidence, 5)) for t in r.tags] for r in results])
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][0] == outputs[0][2] and outputs[0][0] != outputs[0][1]  # order kept


def test_out_of_memory_halves_the_batch_and_retries(
    checkpoints, big_photo, tmp_path, monkeypatch, caplog
):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    plugin = make_plugin(
        checkpoints["v1"],
        quality="high",
        threshold=0.0,
        max_tags=0,
        custom_vocabulary=vocab,
        batch_size=8,
    )
    expected = tag_file(plugin, big_photo).tags
    real = type(plugin).encode_views
    sizes = []

    def limited(self, inputs):
        size = inputs["pixel_values"].shape[0]
        sizes.append(size)
        if size > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, inputs)

    monkeypatch.setattr(type(plugin), "encode_views", limited)
    retried = tag_file(plugin, big_photo).tags
    assert [(t.label, t.found_in) for t in retried] == [(t.label, t.found_in) for t in expected]
    assert [t.confidence for t in retried] == pytest.approx([t.confidence for t in expected])
    assert plugin._batch == 2 and max(sizes[-3:]) <= 2
    assert "out of memory" in caplog.text
