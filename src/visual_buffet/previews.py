"""Embedded previews in camera JPEGs (CIPA DC-007, the Multi-Picture Format).

Most cameras append a reduced copy of each photo after the main JPEG, typed "Large
Thumbnail" (VGA or full-HD sized, e.g. 1620x1080 for a 6000x4000 photo) and indexed in an
APP2 ``MPF`` segment; Pillow opens such files as MPO, the preview being frame 1. When a
plugin needs no more than the preview's size (the SigLIP plugin at quality quick needs
512 px), decoding the preview costs a few milliseconds, where even a 1/8-scale decode of
the main image must Huffman-decode every byte of it (about 60 ms for a 6.6 MB 24 MP JPEG
on one core; docs/performance.md).

A preview is only used when it cannot be mistaken for another picture:

- its MP type is Large Thumbnail (not a gain map, a stereo view or a panorama frame, which
  MPF also carries);
- it is a colour JPEG whose aspect ratio matches the main image's within 1 % (an editor
  that cropped or turned the main image without rewriting the trailer fails this);
- it decodes (a trailer cut off by an editor falls back to the main image).

Cameras store the preview unturned, like the main image, and the main image's EXIF
orientation is applied to it. A preview stored already turned (portrait pixels beside a
landscape-stored main image) fails the aspect check, so no picture is turned twice.

An editor that changed colours in place but kept the old trailer would go unnoticed: the
``images.use_previews`` setting turns previews off for such libraries.

This module also writes such files (:func:`jpeg_with_preview`), for the tests and the
benchmark's synthetic camera photos.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from PIL import Image, TiffImagePlugin

_VGA_PREVIEW, _FULL_HD_PREVIEW = 0x010001, 0x010002
LARGE_THUMBNAIL_TYPES = {
    _VGA_PREVIEW: "Large Thumbnail (VGA Equivalent)",
    _FULL_HD_PREVIEW: "Large Thumbnail (Full HD Equivalent)",
}
"""MP types of camera previews, by number and by the name Pillow's MPF parser gives them."""

ASPECT_TOLERANCE = 0.01
"""Largest relative difference between preview and main image aspect ratios."""

_PRIMARY_TYPE = 0x030000  # Baseline MP Primary Image
_REPRESENTATIVE = 1 << 29  # the flag cameras set on the primary image


def preview_frame(image: Image.Image, needed_side: int) -> int | None:
    """The MPO frame to decode instead of the main image, or ``None``.

    The smallest Large Thumbnail frame whose longer side is at least ``needed_side`` and
    whose aspect ratio matches the main image's. Leaves ``image`` on frame 0 whatever the
    answer; the caller seeks to the frame it decodes.
    """
    entries = getattr(image, "mpinfo", None) and image.mpinfo.get(0xB002)
    if not entries or getattr(image, "n_frames", 1) < 2:
        return None
    width, height = image.size
    best: tuple[int, int] | None = None  # (longer side, frame)
    try:
        for frame, entry in enumerate(entries[1:], start=1):
            if entry["Attribute"]["MPType"] not in LARGE_THUMBNAIL_TYPES.values():
                continue
            image.seek(frame)  # reads the frame's header only
            preview_width, preview_height = image.size
            longer = max(image.size)
            if (
                image.mode == "RGB"
                and longer >= needed_side
                and abs(preview_width * height / (preview_height * width) - 1) <= ASPECT_TOLERANCE
                and (best is None or longer < best[0])
            ):
                best = (longer, frame)
    except Exception:  # a trailer cut off or overwritten: use the main image
        best = None
    image.seek(0)
    return best[1] if best else None


def jpeg_with_preview(
    image: Image.Image,
    *,
    preview_side: int = 1080,
    preview: Image.Image | None = None,
    quality: int = 90,
    preview_quality: int = 85,
    exif: Image.Exif | bytes | None = None,
) -> bytes:
    """Encode ``image`` as a camera does: main JPEG + MPF-indexed Large Thumbnail preview.

    The preview is ``image`` resized to ``preview_side`` on its shorter side (1620x1080 for
    a 3:2 photo, as many cameras write it), stored unturned like the main image (the main
    image's EXIF orientation applies to both) and typed full-HD or VGA equivalent by size.
    ``preview`` stores that picture instead (tests use it for stale previews).
    """
    if preview is None:
        scale = preview_side / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        preview = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=preview_quality)
    preview_bytes = buffer.getvalue()
    preview_type = _FULL_HD_PREVIEW if max(preview.size) > 640 else _VGA_PREVIEW

    def mpf_segment(entries: bytes) -> bytes:
        ifd = TiffImagePlugin.ImageFileDirectory_v2()
        ifd[0xB000] = b"0100"
        ifd[0xB001] = 2
        ifd[0xB002] = entries
        body = b"MPF\0II*\0" + struct.pack("<L", 8) + ifd.tobytes(8)
        return b"\xff\xe2" + struct.pack(">H", 2 + len(body)) + body

    placeholder = mpf_segment(bytes(32))
    options: dict[str, Any] = {"quality": quality, "extra": placeholder}
    if exif is not None:
        options["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    main = bytearray(buffer.getvalue())
    start = main.index(placeholder)
    tiff_header = start + 8  # marker, length, "MPF\0": offsets count from the TIFF header
    entries = struct.pack(
        "<LLLHH", _REPRESENTATIVE | _PRIMARY_TYPE, len(main), 0, 0, 0
    ) + struct.pack("<LLLHH", preview_type, len(preview_bytes), len(main) - tiff_header, 0, 0)
    main[start : start + len(placeholder)] = mpf_segment(entries)
    return bytes(main) + preview_bytes
