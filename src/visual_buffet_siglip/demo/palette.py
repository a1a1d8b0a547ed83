"""Everyday colours for the demo generator: shades of each named colour, backgrounds of any tone.

The generator's first palette (``shapes.COLOURS`` jittered by a few levels, on muted
backgrounds that are never a named colour) taught the model that generator: a blue circle on
a white page came back as "white", a crimson square as nothing. With ``palette="everyday"``
(``shapes.render_scene``) an object's colour is any shade of its hue family
(``SHADE_RANGES``: crimson, firebrick and pure red are all red) and the background is a
plain tone of any kind (``everyday_background``: white, black, every grey, pale and dark
tints, the muted tones), the object always clearly apart from it (``MIN_CONTRAST``).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShadeRange:
    """An HSV box: hue in degrees (may wrap below 0), saturation and value in 0..1."""

    hue: tuple[float, float]
    saturation: tuple[float, float]
    value: tuple[float, float]

    def draw(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """A uniformly drawn shade as 0..255 sRGB."""
        hue = (rng.uniform(*self.hue) % 360.0) / 360.0
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(*self.saturation), rng.uniform(*self.value))
        return tuple(round(255 * channel) for channel in rgb)  # type: ignore[return-value]


SHADE_RANGES: dict[str, ShadeRange] = {
    # crimson 348°, cardinal 350°, pure red 0°, firebrick 0° (value 0.70), scarlet 8°
    "red": ShadeRange((-14.0, 10.0), (0.72, 1.0), (0.62, 1.0)),
    # lime / kelly green 100-120°, forest and web green (value 0.5), sea green 146°
    "green": ShadeRange((95.0, 150.0), (0.6, 1.0), (0.45, 1.0)),
    # dodger blue 210°, cobalt 215°, royal blue 225°, pure and medium blue 240°
    "blue": ShadeRange((205.0, 245.0), (0.65, 1.0), (0.55, 1.0)),
    # gold 51°, lemon 56°, pure yellow 60°
    "yellow": ShadeRange((48.0, 62.0), (0.6, 1.0), (0.88, 1.0)),
    # safety orange / pumpkin 24°, dark orange / tangerine / carrot 33°
    "orange": ShadeRange((20.0, 36.0), (0.8, 1.0), (0.88, 1.0)),
    # rebecca purple / blue violet 270°, dark violet 282°, dark orchid 280°, purple 300°
    "purple": ShadeRange((268.0, 305.0), (0.6, 1.0), (0.45, 0.9)),
    "black": ShadeRange((0.0, 360.0), (0.0, 0.3), (0.0, 0.12)),
    "white": ShadeRange((0.0, 360.0), (0.0, 0.06), (0.94, 1.0)),
}
"""Named colour -> the shades drawn for it (the everyday named shades of each hue family)."""

MIN_CONTRAST = 90.0
"""Least RGB distance between an object's shade and its background's mean colour."""

# Background kinds and their shares: plain neutrals (pure white and black included), pale
# and dark tints of any hue, mid tints, and the first palette's muted tones.
_BACKGROUND_MIX = (
    ("white", 0.12),
    ("black", 0.08),
    ("grey", 0.22),
    ("pale", 0.22),
    ("dark", 0.12),
    ("tint", 0.12),
    ("muted", 0.12),
)


def everyday_background(rng: np.random.Generator) -> tuple[float, float, float]:
    """A background tone in 0..1 RGB: white, black, any grey or a pale, dark or mid tint."""
    kinds, shares = zip(*_BACKGROUND_MIX, strict=True)
    kind = kinds[int(rng.choice(len(kinds), p=shares))]
    hue = rng.uniform(0, 1)
    if kind == "white":
        return colorsys.hsv_to_rgb(hue, rng.uniform(0, 0.025), rng.uniform(0.97, 1.0))
    if kind == "black":
        return colorsys.hsv_to_rgb(hue, rng.uniform(0, 0.2), rng.uniform(0.0, 0.08))
    if kind == "grey":
        grey = rng.uniform(0.05, 0.95)
        return grey, grey, grey
    if kind == "pale":
        return colorsys.hsv_to_rgb(hue, rng.uniform(0.03, 0.22), rng.uniform(0.85, 1.0))
    if kind == "dark":
        return colorsys.hsv_to_rgb(hue, rng.uniform(0.0, 0.5), rng.uniform(0.08, 0.3))
    if kind == "tint":
        return colorsys.hsv_to_rgb(hue, rng.uniform(0.2, 0.45), rng.uniform(0.35, 0.85))
    return colorsys.hsv_to_rgb(hue, rng.uniform(0.0, 0.22), rng.uniform(0.36, 0.74))


def contrasts(rgb: tuple[int, int, int], background: np.ndarray) -> bool:
    """Whether an object of `rgb` stands clearly apart from a background of mean `background`
    (0..255 RGB)."""
    return math.dist(rgb, tuple(float(v) for v in background)) >= MIN_CONTRAST
