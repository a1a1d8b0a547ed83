"""Fixtures for the SigLIP plugin tests: tiny offline checkpoints built once per session."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

KINDS = ("v1", "v2", "naflex")


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random v1 / SigLIP 2 FixRes / NaFlex checkpoints with a spread-out score range.

    ``logit_bias = 0`` keeps sigmoid scores around 0.5 with a visible spread, so comparisons
    at 1e-5 are meaningful (with SigLIP's -10 bias every random score would be ~4e-5).
    """
    from visual_buffet_siglip.synthetic import build_checkpoint

    root = tmp_path_factory.mktemp("checkpoints")
    return {
        kind: build_checkpoint(
            root / kind, kind, "tiny", seed=1, logit_scale=math.log(10.0), logit_bias=0.0
        )
        for kind in KINDS
    }


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small structured RGB JPEG (gradients and blocks, not noise)."""
    y, x = np.mgrid[0:150, 0:200]
    pixels = np.stack([x * 255 // 200, y * 255 // 150, ((x // 25 + y // 25) % 2) * 200], axis=-1)
    path = tmp_path_factory.mktemp("images") / "photo.jpg"
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=95)
    return path


def make_plugin(model_dir: Path, **settings):  # type: ignore[no-untyped-def]
    """A loaded SiglipPlugin on a tiny checkpoint (CPU, float32)."""
    from visual_buffet_siglip import SiglipPlugin

    plugin = SiglipPlugin({"model": str(model_dir), **settings})
    plugin.load()
    return plugin


def tag_file(plugin, path: Path):  # type: ignore[no-untyped-def]
    """Tag one file through the same steps as the host: load, prepare, tag_stream."""
    from visual_buffet.images import load_image

    loaded = load_image(path, max_side=plugin.max_image_side())
    return next(plugin.tag_stream([plugin.prepare(loaded)]))


def write_vocab(path: Path, labels: list[str]) -> Path:
    path.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return path
