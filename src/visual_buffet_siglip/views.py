"""Quality levels: which views of an image the model sees.

A fixed-resolution checkpoint squeezes whatever it is given into its input size (224-512 px),
so a "2048 px pass" of the whole picture would look exactly like a 480 px one. Here the first
pass of a level shows the whole image, and every later pass at resolution R shows overlapping
square windows of the image scaled to longer side R: the higher R, the smaller the windows
relative to the photo, so the more detail reaches the model.

For a pass at resolution R with grid g, windows have side ``S = R / (g - (g - 1) * OVERLAP)``
so that g windows overlapping by ``OVERLAP`` span the longer side exactly; the shorter side
gets as many windows as it needs with at least that overlap. Passes above the image's own
size are skipped (never upscaled). The number of views per level for a 6000x4000 photo is
bounded (docs/siglip.md has the table; tests check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from visual_buffet.plugin_api import View

QUALITY_LEVELS: dict[str, tuple[str, ...]] = {
    "quick": ("1080",),
    "standard": ("480", "2048"),
    "high": ("480", "1080", "2048"),
    "max": ("480", "1080", "2048", "4096", "original"),
}
"""Quality level -> pass resolutions (longer side in px; ``original`` = native size)."""

WINDOW_GRID: dict[str, int] = {"480": 1, "1080": 2, "2048": 3, "4096": 4, "original": 6}
"""Windows along the longer side for a pass that is not the level's first (whole-image) pass."""

OVERLAP = 0.25
"""Fraction of a window shared with its neighbour, so objects on a seam are seen whole once."""

WHOLE_VIEW_MIN_DECODE = 512
"""Smallest longer side decoded for a whole-image view (see :func:`max_side_needed`)."""

VIEW_BOUNDS_6000x4000 = {"quick": 1, "standard": 10, "high": 25, "max": 100}
"""Upper bounds on views (forward passes) for a 6000x4000 photo, from the project's spec."""


@dataclass(frozen=True)
class PlannedView:
    """A view: its metadata and its box in the coordinates of the *decoded* image."""

    view: View
    crop: tuple[int, int, int, int]


def max_side_needed(quality: str, input_side: int | None = None) -> int | None:
    """Longest image side a level needs decoded (None: the native size).

    Window passes need their full resolution. The whole-image pass goes straight to the
    model's input size, so it needs no more than twice that (for antialiasing) when
    ``input_side`` is known, and never less than 512 px (below that decoding is cheap
    anyway): quick decodes a 24 MP JPEG at 1/8 scale for a 224 px model.
    """
    first, *windows = QUALITY_LEVELS[quality]
    if "original" in windows:
        return None
    whole = int(first)
    if input_side is not None:
        whole = min(whole, max(WHOLE_VIEW_MIN_DECODE, 2 * input_side))
    return max([whole, *(int(p) for p in windows)])


def plan_views(
    quality: str,
    original_size: tuple[int, int],
    decoded_size: tuple[int, int] | None = None,
    min_window: int = 1,
) -> list[PlannedView]:
    """Return the views of one image for a quality level, whole image first.

    Args:
        quality: A key of :data:`QUALITY_LEVELS`.
        original_size: (width, height) of the stored image.
        decoded_size: (width, height) of the image actually decoded (it may be downscaled);
            crops are given in these coordinates. Defaults to ``original_size``.
        min_window: Smallest window side in pass pixels (the checkpoint's input size):
            grids are coarsened so no window is smaller, i.e. windows are never upscaled.
    """
    width, height = original_size
    decoded_size = decoded_size or original_size
    native = max(width, height)
    to_decoded = max(decoded_size) / native
    views: list[PlannedView] = []
    done: set[int] = set()
    for index, pass_name in enumerate(QUALITY_LEVELS[quality]):
        resolution = native if pass_name == "original" else int(pass_name)
        if index == 0:
            resolution = min(resolution, native)
            views.append(_view(pass_name, resolution, "whole", (0, 0, width, height), to_decoded))
            done.add(resolution)
            continue
        if resolution > native or resolution in done:
            continue  # never upscale; "original" equal to a pass already run adds nothing
        done.add(resolution)
        scale = resolution / native
        grid = WINDOW_GRID[pass_name]
        side = resolution / (grid - (grid - 1) * OVERLAP)
        while grid > 1 and side < min_window:
            grid -= 1
            side = resolution / (grid - (grid - 1) * OVERLAP)
        if grid <= 1:
            continue  # the window would be the whole image again
        side_original = side / scale  # window side in original pixels
        for top in _starts(height, side_original):
            for left in _starts(width, side_original):
                box = (
                    round(left),
                    round(top),
                    round(min(left + side_original, width)),
                    round(min(top + side_original, height)),
                )
                views.append(_view(pass_name, resolution, "window", box, to_decoded))
    return views


def _starts(length: float, side: float) -> list[float]:
    """Evenly spread window starts covering [0, length] with overlap >= OVERLAP."""
    if side >= length:
        return [0.0]
    count = math.ceil((length - side) / (side * (1 - OVERLAP)) - 1e-9) + 1
    step = (length - side) / (count - 1)
    return [i * step for i in range(count)]


def _view(
    pass_name: str,
    resolution: int,
    kind: str,
    box: tuple[int, int, int, int],
    to_decoded: float,
) -> PlannedView:
    crop = tuple(round(v * to_decoded) for v in box)
    return PlannedView(View(pass_name, resolution, kind, box), crop)  # type: ignore[arg-type]
