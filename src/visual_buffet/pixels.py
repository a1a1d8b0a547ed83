"""Pixel modes: any image Pillow decodes, as the 8-bit RGB every plugin receives."""

from __future__ import annotations

import io

from PIL import Image


class UnsupportedModeError(ValueError):
    """A pixel mode :func:`to_rgb` cannot convert."""


_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit ``"RGB"``.

    Transparency is composited on white. 16-bit greyscale is scaled (65535 -> 255), not
    clipped. Mode ``"I"`` is taken as 8-bit if it lies in 0..255, 16-bit if in 0..65535,
    and stretched from its minimum to its maximum otherwise; ``"F"`` as 0..1 if it lies
    there, 0..255 if there, and stretched otherwise. CMYK goes through its embedded ICC
    profile when there is one. Returns ``image`` itself when it is already RGB.

    Raises:
        ValueError: The mode cannot be converted.
    """
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _ALPHA_MODES or (mode in ("P", "L", "RGB", "1") and "transparency" in image.info):
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode in _SIXTEEN_BIT_MODES:
        return _scaled_to_rgb(image.convert("I"), 0, 65535)
    if mode == "I":
        low, high = image.getextrema()
        if low >= 0 and high <= 255:
            return _scaled_to_rgb(image, 0, 255)
        if low >= 0 and high <= 65535:
            return _scaled_to_rgb(image, 0, 65535)
        return _scaled_to_rgb(image, low, high)
    if mode == "F":
        low, high = image.getextrema()  # NaN is ignored here and becomes 0 below
        if not (abs(low) < float("inf") and abs(high) < float("inf")):
            low, high = 0.0, 1.0
        if low >= 0 and high <= 1:
            return _scaled_to_rgb(image, 0, 1)
        if low >= 0 and high <= 255:
            return _scaled_to_rgb(image, 0, 255)
        return _scaled_to_rgb(image, low, high)
    if mode == "CMYK" and image.info.get("icc_profile"):
        converted = _cmyk_with_profile(image)
        if converted is not None:
            return converted
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise UnsupportedModeError(f"unsupported pixel mode {mode!r}") from exc


def _scaled_to_rgb(image: Image.Image, low: float, high: float) -> Image.Image:
    """Map ``low..high`` of an ``I`` or ``F`` image onto 0..255 (rounded, clamped)."""
    span = (high - low) or 1
    scaled = image.point(lambda value: (value - low) * (255 / span) + 0.5)
    return scaled.convert("L").convert("RGB")


def _cmyk_with_profile(image: Image.Image) -> Image.Image | None:
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except Exception:  # no LittleCMS, or a broken profile: the plain formula will do
        return None
