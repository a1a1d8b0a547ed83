"""Image views to model inputs with Pillow and NumPy: the transformers image processors' recipe
without importing transformers (the ONNX hot path must not pay its seconds of import time).

The steps and their dtypes follow transformers' PIL backend exactly, so the arrays are
bit-identical to ``image_processor(images=..., return_tensors="np")`` (tested):

- resize with Pillow to the processor's size (FixRes: ``size``; NaFlex: the largest size in
  whole patches within ``max_num_patches``, found by the same binary search);
- rescale in float64 (``uint8 * rescale_factor``), then cast to float32;
- normalise per channel in float32: ``(x - mean) / std``;
- NaFlex only: cut into ``patch_size`` squares, flatten each as (row, column, channel), pad to
  ``max_num_patches`` rows, and give ``pixel_attention_mask`` (1 for real patches) and
  ``spatial_shapes`` (patch rows, patch columns).

A fixed-resolution checkpoint whose settings ask for letterboxing
(``visual_buffet_pad_to_square``, :mod:`visual_buffet_siglip.letterbox`) gets each view padded
to a square before the resize, exactly as the PyTorch path pads it.

The settings come from the checkpoint's saved ``preprocessor_config.json`` (released
checkpoints) or the ``image_processor`` part of ``processor_config.json`` (``save_pretrained``
of transformers 5); missing keys take the processor classes' defaults.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.letterbox import pad_mode, pad_to_square

# Class defaults of SiglipImageProcessor / Siglip2ImageProcessor (transformers 5).
_DEFAULTS: dict[bool, dict[str, Any]] = {
    False: {"resample": 3, "image_mean": [0.5] * 3, "image_std": [0.5] * 3},
    True: {"resample": 2, "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "patch_size": 16},
}


def read_image_processor_config(folder: Path) -> dict[str, Any]:
    """The saved image-processor settings of a checkpoint folder."""
    folder = Path(folder)
    flat = folder / "preprocessor_config.json"
    nested = folder / "processor_config.json"
    try:
        if flat.is_file():
            return json.loads(flat.read_text(encoding="utf-8"))
        if nested.is_file():
            data = json.loads(nested.read_text(encoding="utf-8"))
            if isinstance(data.get("image_processor"), dict):
                return data["image_processor"]
    except (OSError, ValueError) as exc:
        raise PluginError(f"cannot read the image-processor settings in {folder}: {exc}") from None
    raise PluginError(
        f"{folder} has no preprocessor_config.json (nor an image_processor in "
        "processor_config.json): the checkpoint is incomplete. Download it again with "
        "`visual-buffet plugins setup siglip`."
    )


def naflex_size(height: int, width: int, patch_size: int, max_num_patches: int) -> tuple[int, int]:
    """(height, width) a NaFlex view is resized to: transformers'
    ``get_image_size_for_max_num_patches``, the same binary search, step for step."""
    eps = 1e-5

    def scaled(scale: float, size: int) -> int:
        return int(max(patch_size, math.ceil(size * scale / patch_size) * patch_size))

    low, high = eps / 10, 100.0
    while (high - low) >= eps:
        scale = (low + high) / 2
        patches = (scaled(scale, height) / patch_size) * (scaled(scale, width) / patch_size)
        if patches <= max_num_patches:
            low = scale
        else:
            high = scale
    return scaled(low, height), scaled(low, width)


@dataclass(frozen=True)
class ImagePreprocessor:
    """Turns PIL views into the vision tower's NumPy inputs (see the module docstring)."""

    naflex: bool
    resample: Image.Resampling
    rescale_factor: float | None
    mean: np.ndarray | None  # float32 (3,), None when the processor does not normalise
    std: np.ndarray | None
    fixed: tuple[int, int] | None  # (width, height) of FixRes checkpoints
    patch_size: int
    max_num_patches: int
    pad: str | None = None  # letterbox mode (fixed resolution only), None: squash

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        naflex: bool,
        max_num_patches: int = 256,
        where: str = "the checkpoint",
    ) -> ImagePreprocessor:
        """Build from a saved image-processor config (a dict as in the json file); ``where``
        names the checkpoint in errors."""
        merged = {**_DEFAULTS[naflex], **config}
        rescale = None
        if merged.get("do_rescale", True):
            rescale = float(merged.get("rescale_factor", 1 / 255))
        normalise = merged.get("do_normalize", True)
        mean = np.array(merged["image_mean"], dtype=np.float32) if normalise else None
        std = np.array(merged["image_std"], dtype=np.float32) if normalise else None
        fixed, pad = None, None
        if not naflex:  # NaFlex keeps the aspect ratio: nothing to letterbox
            size = merged.get("size") or {"height": 224, "width": 224}
            fixed = (int(size["width"]), int(size["height"]))
            pad = pad_mode(merged, where)
        return cls(
            naflex=naflex,
            resample=Image.Resampling(int(merged["resample"])),
            rescale_factor=rescale,
            mean=mean,
            std=std,
            fixed=fixed,
            patch_size=int(merged.get("patch_size", 16)),
            max_num_patches=max_num_patches,
            pad=pad,
        )

    @classmethod
    def from_checkpoint(
        cls, folder: Path, naflex: bool, max_num_patches: int = 256
    ) -> ImagePreprocessor:
        """Build from a checkpoint folder's saved config."""
        config = read_image_processor_config(folder)
        return cls.from_config(config, naflex, max_num_patches, f"checkpoint {folder}")

    def target(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) the processor resizes a view of this size to."""
        if self.fixed is not None:
            return self.fixed
        h, w = naflex_size(height, width, self.patch_size, self.max_num_patches)
        return w, h

    def resize(self, view: Image.Image) -> Image.Image:
        """Resize a view to the model's input size with the processor's filter (letterboxed
        first when the checkpoint asks for it)."""
        if self.pad is not None and self.fixed is not None:
            view = pad_to_square(view, self.pad)
        return view.resize(self.target(*view.size), self.resample)

    def normalised(self, view: Image.Image) -> np.ndarray:
        """(3, H, W) float32 pixels of one view, resized if it is not yet at its target."""
        if view.mode != "RGB":
            view = view.convert("RGB")
        if view.size != self.target(*view.size):
            view = self.resize(view)
        pixels = np.moveaxis(np.asarray(view), -1, 0)
        if self.rescale_factor is not None:
            pixels = (pixels.astype(np.float64) * self.rescale_factor).astype(np.float32)
        else:
            pixels = pixels.astype(np.float32)
        if self.mean is not None and self.std is not None:
            pixels = ((pixels.T - self.mean) / self.std).T
        return pixels

    def __call__(self, views: list[Image.Image]) -> dict[str, np.ndarray]:
        """Inputs for a batch of views: ``pixel_values`` (and for NaFlex the mask and shapes)."""
        arrays = [self.normalised(view) for view in views]
        if not self.naflex:
            return {"pixel_values": np.stack(arrays)}
        p, n = self.patch_size, self.max_num_patches
        values = np.zeros((len(arrays), n, 3 * p * p), dtype=np.float32)
        mask = np.zeros((len(arrays), n), dtype=np.int32)
        shapes = np.zeros((len(arrays), 2), dtype=np.int64)
        for i, pixels in enumerate(arrays):
            channels, height, width = pixels.shape
            rows, cols = height // p, width // p
            patches = pixels.reshape(channels, rows, p, cols, p).transpose(1, 3, 2, 4, 0)
            values[i, : rows * cols] = patches.reshape(rows * cols, -1)
            mask[i, : rows * cols] = 1
            shapes[i] = (rows, cols)
        return {"pixel_values": values, "pixel_attention_mask": mask, "spatial_shapes": shapes}
