"""Letterboxing: a checkpoint may ask for its views to be padded to a square before the resize.

A fixed-resolution SigLIP processor resizes every view to its square input whatever the
view's aspect, so shapes reach the model squashed: on a 3:2 picture a 2.5:1 rectangle arrives
at 1.67:1, while a square on a 2:3 picture arrives at 1.5:1. A checkpoint trained on
letterboxed views says so in its saved image-processor settings
(``preprocessor_config.json``, or the ``image_processor`` part of ``processor_config.json``)::

    "visual_buffet_pad_to_square": "edge"

Each view is then padded to a square, centred, by repeating its edge pixels (a plain
background stays seamless; a constant colour would add bars the model could read as a black
or white object), and only then resized. Released checkpoints never carry the key: their views
are squashed exactly as before. The demo model's trainer (:mod:`visual_buffet_siglip.demo`)
pads with this same function, so the model sees at inference what it saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image

from visual_buffet.plugin_api import PluginError

PAD_TO_SQUARE_KEY = "visual_buffet_pad_to_square"
"""The image-processor setting that turns letterboxing on (absent: views are squashed)."""

PAD_MODES = ("edge",)
"""Supported values: ``edge`` repeats each border row / column outwards."""


def pad_mode(settings: Any, where: str = "the checkpoint") -> str | None:
    """The letterbox mode a checkpoint's image-processor settings ask for, or None.

    ``settings`` is the saved config (a dict) or a loaded image processor (transformers keeps
    unknown keys of the saved config as attributes). An unknown value is refused, naming the
    key and the values that work, rather than silently squashing views the model was trained
    to see letterboxed.
    """
    if isinstance(settings, dict):
        value = settings.get(PAD_TO_SQUARE_KEY)
    else:
        value = getattr(settings, PAD_TO_SQUARE_KEY, None)
    if value is None or value is False or value == "":
        return None
    if value not in PAD_MODES:
        raise PluginError(
            f"{where} sets {PAD_TO_SQUARE_KEY} = {value!r} in its image-processor settings; "
            f"the values this version understands are {', '.join(map(repr, PAD_MODES))} "
            "(or no key: views squashed to the input size). Fix the value in its "
            "preprocessor_config.json / processor_config.json, or update visual-buffet."
        )
    return value


def pad_to_square(image: Image.Image, mode: str = "edge") -> Image.Image:
    """``image`` centred on a square of its longer side, the border pixels repeated outwards.

    An odd difference puts the extra row / column at the bottom / right. A square image is
    returned as it is.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"unknown pad mode {mode!r}; expected one of {PAD_MODES}")
    width, height = image.size
    if width == height:
        return image
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    side = max(width, height)
    left, top = (side - width) // 2, (side - height) // 2
    pad = [(top, side - height - top), (left, side - width - left)]
    import numpy as np  # here, not at the top: a stored rerun imports no NumPy

    pixels = np.asarray(image)
    if pixels.ndim == 3:
        pad.append((0, 0))
    return Image.fromarray(np.pad(pixels, pad, mode=mode))


def letterboxed(images: Sequence[Image.Image], mode: str | None) -> list[Image.Image]:
    """Each image padded to a square when ``mode`` is set, else the images unchanged."""
    if mode is None:
        return list(images)
    return [pad_to_square(image, mode) for image in images]


def processor_pixels(image_processor: Any, images: Sequence[Image.Image]) -> Any:
    """``pixel_values`` (a torch tensor) of RGB images through a fixed-resolution processor,
    letterboxed first when the processor's settings ask for it: how the demo's trainer and
    evaluator turn drawings into model input, the plugin's own views aside."""
    rgb = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
    boxed = letterboxed(rgb, pad_mode(image_processor))
    return image_processor(images=boxed, return_tensors="pt")["pixel_values"]
