"""The pixels of each planned view at the model's input size, straight from PIL.

Used by :meth:`SiglipPlugin.prepare` in worker threads (and by any runtime backend that needs
the same pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from visual_buffet_siglip.letterbox import pad_mode, pad_to_square
from visual_buffet_siglip.views import PlannedView


@dataclass(frozen=True)
class ModelInputSize:
    """Resize a view exactly as the checkpoint's image processor would, but from PIL directly.

    The processors' PIL backend converts to NumPy and back around its resize (measured 70 ms
    for a 1500 px view, 14 ms this way). Resizing first to the very size and with the filter
    the processor uses gives bit-identical pixel values (tested against the joint forward):
    its own resize is then a no-op. A fixed-resolution checkpoint that asks for letterboxing
    (``pad``, see :mod:`visual_buffet_siglip.letterbox`) gets each view padded to a square
    first; the boxes of the views stay in image coordinates. NaFlex sizes come from
    transformers' own search, redone in :func:`~visual_buffet_siglip.onnx_preprocess.naflex_size`
    (equal, tested) so that preparing a view never imports transformers.
    """

    resample: Image.Resampling
    fixed: tuple[int, int] | None  # (width, height) of FixRes checkpoints
    patch_size: int = 16
    max_num_patches: int = 256
    pad: str | None = None  # letterbox mode of a fixed-resolution checkpoint, None: squash

    @classmethod
    def for_processor(cls, image_processor: Any, naflex: bool, max_num_patches: int) -> Any:
        resample = Image.Resampling(int(image_processor.resample))
        if naflex:  # NaFlex keeps the aspect ratio: nothing to letterbox
            return cls(resample, None, int(image_processor.patch_size), max_num_patches)
        size = image_processor.size
        fixed = (int(size["width"]), int(size["height"]))
        return cls(resample, fixed, pad=pad_mode(image_processor))

    def target(self, width: int, height: int) -> tuple[int, int]:
        if self.fixed is not None:
            return self.fixed
        from visual_buffet_siglip.onnx_preprocess import naflex_size

        h, w = naflex_size(height, width, self.patch_size, self.max_num_patches)
        return w, h

    def __call__(self, view: Image.Image) -> Image.Image:
        if self.pad is not None and self.fixed is not None:
            view = pad_to_square(view, self.pad)
        return view.resize(self.target(*view.size), self.resample)


def view_pixels(
    image: Image.Image, planned: list[PlannedView], model_size: ModelInputSize
) -> list[Image.Image]:
    """The pixels of each view at the model's input size.

    The whole image goes from the decoded pixels straight to the input size (what the
    processor would do with it). Windows are cut from the image scaled once per pass, which
    is what a pass means and far cheaper than resizing every full-resolution window on its
    own (measured 170 ms per view at quality max on a 24 MP photo before this); windows
    more than twice the input size are first box-reduced by an integer factor.
    """
    decoded_long = max(image.size)
    passes: dict[int, tuple[Image.Image, float]] = {}
    views = []
    for p in planned:
        if p.view.kind == "whole":
            views.append(model_size(image))
            continue
        resolution = p.view.resolution
        if resolution not in passes:
            scale = min(1.0, resolution / decoded_long)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            scaled = (
                image
                if scale == 1.0
                else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            )
            passes[resolution] = (scaled, scale)
        pass_image, scale = passes[resolution]
        window = pass_image.crop(tuple(round(v * scale) for v in p.crop))
        width, height = model_size.target(*window.size)
        factor = min(window.width // width, window.height // height) // 2
        views.append(model_size(window.reduce(factor) if factor >= 2 else window))
    return views
