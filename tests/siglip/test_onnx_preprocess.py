"""The torch-free view preprocessing equals the transformers image processors bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.siglip.conftest import KINDS
from visual_buffet_siglip.onnx_preprocess import ImagePreprocessor, naflex_size

SIZES = [(200, 150), (37, 91), (640, 480), (16, 16), (1000, 90)]


def random_views(seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


CASES = [(kind, 256) for kind in KINDS] + [("naflex", 64), ("naflex", 512)]


@pytest.mark.parametrize(("kind", "max_num_patches"), CASES)
def test_matches_the_transformers_processor(kind, max_num_patches, checkpoints):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(checkpoints[kind]).image_processor
    views = random_views()
    extra = {"max_num_patches": max_num_patches} if kind == "naflex" else {}
    expected = processor(images=views, return_tensors="np", **extra)
    ours = ImagePreprocessor.from_checkpoint(checkpoints[kind], kind == "naflex", max_num_patches)(
        views
    )
    assert set(ours) == set(expected.keys())
    for key, value in ours.items():
        reference = np.asarray(expected[key])
        assert value.dtype == reference.dtype, key
        assert value.shape == reference.shape, key
        np.testing.assert_array_equal(value, reference, err_msg=key)


@pytest.mark.parametrize(
    ("height", "width"), [(150, 200), (91, 37), (3000, 4000), (10, 2000), (16, 16)]
)
@pytest.mark.parametrize("patches", [64, 256, 512])
def test_naflex_size_is_transformers_search(height, width, patches):
    from transformers.models.siglip2.image_processing_pil_siglip2 import (
        get_image_size_for_max_num_patches,
    )

    assert naflex_size(height, width, 16, patches) == get_image_size_for_max_num_patches(
        height, width, 16, patches
    )
