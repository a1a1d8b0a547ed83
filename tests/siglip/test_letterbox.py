"""Letterboxed views (``visual_buffet_pad_to_square``): padding, both runtimes, boxes unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.siglip.conftest import make_plugin, tag_file, write_vocab
from tests.siglip.test_onnx_preprocess import random_views
from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.letterbox import PAD_TO_SQUARE_KEY, pad_mode, pad_to_square
from visual_buffet_siglip.onnx_preprocess import ImagePreprocessor

LABELS = ["cat", "dog", "red car", "ceiling fan", "mountain lake", "a bowl of soup"]


def letterboxed_copy(source: Path, target: Path) -> Path:
    """A copy of a FixRes checkpoint whose saved processor settings ask for letterboxing."""
    shutil.copytree(source, target)
    config_path = target / "processor_config.json"
    config = json.loads(config_path.read_text())
    config["image_processor"][PAD_TO_SQUARE_KEY] = "edge"
    config_path.write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def boxed_checkpoint(checkpoints, tmp_path_factory) -> Path:
    return letterboxed_copy(checkpoints["v1"], tmp_path_factory.mktemp("boxed") / "v1")


def test_pad_to_square_centres_the_image_and_repeats_its_edges():
    pixels = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)  # 5 wide, 2 high
    padded = np.asarray(pad_to_square(Image.fromarray(pixels)))
    assert padded.shape == (5, 5, 3)
    # 3 rows to add: 1 above, 2 below (the odd one at the bottom)
    np.testing.assert_array_equal(padded[1:3], pixels)
    np.testing.assert_array_equal(padded[0], pixels[0])
    np.testing.assert_array_equal(padded[3], pixels[1])
    np.testing.assert_array_equal(padded[4], pixels[1])
    tall = np.asarray(pad_to_square(Image.fromarray(pixels.transpose(1, 0, 2).copy())))
    assert tall.shape == (5, 5, 3)
    np.testing.assert_array_equal(tall[:, 1:3], pixels.transpose(1, 0, 2))
    np.testing.assert_array_equal(tall[:, 0], tall[:, 1])
    square = Image.new("RGB", (7, 7))
    assert pad_to_square(square) is square
    grey = pad_to_square(Image.new("L", (4, 2), 9))
    assert grey.size == (4, 4) and set(np.asarray(grey).ravel()) == {9}


def test_pad_mode_reads_the_setting_and_refuses_unknown_values():
    assert pad_mode({}) is None
    assert pad_mode({PAD_TO_SQUARE_KEY: "edge"}) == "edge"
    with pytest.raises(PluginError, match=PAD_TO_SQUARE_KEY) as caught:
        pad_mode({PAD_TO_SQUARE_KEY: "black"}, "checkpoint /x")
    assert "'edge'" in str(caught.value) and "checkpoint /x" in str(caught.value)


def test_released_settings_do_not_letterbox(checkpoints):
    for kind in ("v1", "v2", "naflex"):
        assert ImagePreprocessor.from_checkpoint(checkpoints[kind], kind == "naflex").pad is None


def test_the_numpy_path_equals_the_processor_on_letterboxed_views(boxed_checkpoint):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(boxed_checkpoint).image_processor
    assert pad_mode(processor) == "edge"  # transformers keeps the key as an attribute
    views = random_views()
    expected = processor(images=[pad_to_square(v) for v in views], return_tensors="np")
    ours = ImagePreprocessor.from_checkpoint(boxed_checkpoint, False)(views)
    assert ours["pixel_values"].dtype == expected["pixel_values"].dtype
    np.testing.assert_array_equal(ours["pixel_values"], expected["pixel_values"])
    squashed = processor(images=views, return_tensors="np")["pixel_values"]
    assert not np.array_equal(ours["pixel_values"], squashed)


def joint_forward(model_dir: Path, image: Image.Image) -> torch.Tensor:
    """Reference scores: the model's own forward on the image letterboxed by hand."""
    from transformers import AutoProcessor, SiglipModel

    model = SiglipModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    inputs = processor(
        text=[f"This is a photo of {label}." for label in LABELS],
        images=[image],
        padding="max_length",
        max_length=64,
        return_tensors="pt",
    )
    with torch.inference_mode():
        return torch.sigmoid(model(**inputs).logits_per_image[0])


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_both_runtimes_score_the_letterboxed_view(
    runtime, boxed_checkpoint, checkpoints, photo, tmp_path
):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    settings = {"quality": "quick", "threshold": 0.0, "max_tags": 0, "custom_vocabulary": vocab}
    result = tag_file(make_plugin(boxed_checkpoint, runtime=runtime, **settings), photo)
    assert result.model["runtime"] == runtime
    ours = {tag.label: tag.confidence for tag in result.tags}
    image = Image.open(photo).convert("RGB")
    boxed = joint_forward(boxed_checkpoint, pad_to_square(image))
    squashed = joint_forward(boxed_checkpoint, image)
    for label, expected in zip(LABELS, boxed.tolist(), strict=True):
        assert ours[label] == pytest.approx(expected, abs=1e-5), label
    assert (boxed - squashed).abs().max() > 100 * 1e-5  # the padding changed the scores
    # the same weights without the key: squashed, as before
    plain = tag_file(make_plugin(checkpoints["v1"], runtime=runtime, **settings), photo)
    assert {t.label: t.confidence for t in plain.tags}["cat"] == pytest.approx(
        float(squashed[0]), abs=1e-5
    )


def test_view_boxes_stay_in_image_coordinates(boxed_checkpoint, tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (2400, 900), (120, 130, 140)).save(path)
    result = tag_file(
        make_plugin(boxed_checkpoint, quality="standard", threshold=0.0, runtime="torch"), path
    )
    views = result.embeddings.views
    assert views[0].kind == "whole" and tuple(views[0].box) == (0, 0, 2400, 900)
    windows = [v for v in views if v.kind == "window"]
    assert windows, "standard should add windows on a 2400 px image"
    for view in windows:
        left, top, right, bottom = view.box
        assert 0 <= left < right <= 2400 and 0 <= top < bottom <= 900
