"""Dominant colours and brightness, from pixels alone: the example plugin of Visual Buffet.

For each image it reports the named colours that cover the largest shares of the picture
(``blue`` 0.41, ``white`` 0.32...) and, optionally, ``dark`` and ``bright`` with the share of
dark or bright pixels. A confidence is the share of pixels, so it is not a probability:
``threshold`` is "the smallest share of the image worth a tag".

``docs/plugins.md`` in the Visual Buffet repository walks through this file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from visual_buffet.images import LoadedImage
from visual_buffet.plugin_api import ImageTags, Plugin, Tag
from visual_buffet.settings import Setting

__version__ = "0.1.0"

# Hue sectors, in degrees on the colour wheel: (start, end, name); the first one that holds
# the hue wins. "basic" splits the wheel in six around the primaries and secondaries;
# "extended" names what people usually call orange, teal, purple and pink.
PALETTES: dict[str, tuple[tuple[float, float, str], ...]] = {
    "basic": (
        (0, 30, "red"),
        (30, 90, "yellow"),
        (90, 150, "green"),
        (150, 210, "cyan"),
        (210, 270, "blue"),
        (270, 330, "magenta"),
        (330, 360, "red"),
    ),
    "extended": (
        (0, 15, "red"),
        (15, 40, "orange"),
        (40, 70, "yellow"),
        (70, 165, "green"),
        (165, 195, "teal"),
        (195, 255, "blue"),
        (255, 315, "purple"),
        (315, 345, "pink"),
        (345, 360, "red"),
    ),
}

# Thresholds on Pillow's HSV bands (0-255). Multiples of 16, because pixels are counted after
# rounding saturation and value down to steps of 16 (fewer distinct colours, same answer).
_BLACK_BELOW_VALUE = 48
_NEUTRAL_BELOW_SATURATION = 48
_WHITE_FROM_VALUE = 208
_BROWN_BELOW_VALUE = 160  # extended palette: a dark orange is brown...
_PINK_BELOW_SATURATION = 112  # ...and a pale, light red is pink
_PINK_FROM_VALUE = 176
# Per-band lookup table for Image.point: hue kept, saturation and value rounded down to steps
# of 16. A few thousand distinct colours at most, each named once, instead of a Python call
# per pixel.
_ROUND_SATURATION_AND_VALUE = [*range(256), *[x & 0xF0 for x in range(256)] * 2]
_DARK_BELOW_LUMA = 64  # "dark" and "bright" count pixels by luminance
_BRIGHT_FROM_LUMA = 192

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "threshold",
        "float",
        0.05,
        "Smallest share of the image (0-1) a colour must cover to be reported.",
        minimum=0.0,
        maximum=1.0,
        flag="threshold",
    ),
    Setting(
        "max_tags",
        "int",
        5,
        "Most tags per image, largest share first (0 = unlimited).",
        minimum=0,
        flag="limit",
        aliases=("limit",),
    ),
    Setting(
        "palette",
        "choice",
        "extended",
        "Colour names: basic (red, yellow, green, cyan, blue, magenta) or extended "
        "(red, orange, brown, yellow, green, teal, blue, purple, pink); both add black, "
        "white and gray.",
        choices=tuple(PALETTES),
    ),
    Setting(
        "brightness",
        "bool",
        True,
        "Also report `dark` and `bright` with the share of dark or bright pixels.",
    ),
    Setting(
        "analysis_size",
        "int",
        256,
        "Longer side, in pixels, the image is analysed at (colours barely change with size).",
        minimum=16,
        maximum=2048,
    ),
)


@dataclass(frozen=True)
class PixelShares:
    """What :meth:`DominantColorPlugin.prepare` measured: label -> share of pixels (0-1)."""

    shares: dict[str, float]
    analysed_size: tuple[int, int]


class DominantColorPlugin(Plugin):
    """Names the dominant colours of an image and says whether it is dark or bright."""

    name = "colors"
    version = __version__
    description = "Dominant colour names and dark/bright, from pixel shares (no model)."
    settings_schema = SETTINGS
    calibrated = False  # shares of pixels, not probabilities
    recommended_threshold = 0.05
    enabled_by_default = False  # installing it does not change what `tag` runs by default

    def __init__(self, settings: dict[str, Any]) -> None:
        # The host passes every declared setting; filling in defaults as well keeps the class
        # easy to use directly (tests, notebooks).
        defaults = {s.name: s.default for s in SETTINGS}
        super().__init__({**defaults, **settings})
        self._hue_names: tuple[str, ...] = ()

    def load(self) -> None:
        # The "model" of this plugin is a lookup table: Pillow's hue (0-255) -> colour name.
        # A real plugin loads weights here; nothing heavy may happen at import or in __init__.
        sectors = PALETTES[self.settings["palette"]]
        names = []
        for hue in range(256):
            degrees = hue * 360 / 256
            names.append(next(name for start, end, name in sectors if start <= degrees < end))
        self._hue_names = tuple(names)

    def max_image_side(self) -> int | None:
        # The host decodes cheaply (JPEG draft scale) to between this and twice this.
        return self.settings["analysis_size"]

    def batch_size(self) -> int:
        return 32  # tag() is trivial; big batches just mean fewer calls

    def prepare(self, image: LoadedImage) -> PixelShares:
        # Runs in worker threads: only reads `self` (the lookup table built by load()).
        pixels = image.image  # RGB, longer side from analysis_size to twice that
        size = self.settings["analysis_size"]
        if max(pixels.size) > size:
            pixels = ImageOps.contain(pixels, (size, size), Image.Resampling.BOX)
        total = pixels.width * pixels.height
        counts: dict[str, int] = {}
        hsv = pixels.convert("HSV").point(_ROUND_SATURATION_AND_VALUE)
        for count, (hue, saturation, value) in hsv.getcolors(total):
            name = self._colour_name(hue, saturation, value)
            counts[name] = counts.get(name, 0) + count
        shares = {name: count / total for name, count in counts.items()}
        if self.settings["brightness"]:
            histogram = pixels.convert("L").histogram()
            shares["dark"] = sum(histogram[:_DARK_BELOW_LUMA]) / total
            shares["bright"] = sum(histogram[_BRIGHT_FROM_LUMA:]) / total
        return PixelShares(shares, pixels.size)

    def _colour_name(self, hue: int, saturation: int, value: int) -> str:
        if value < _BLACK_BELOW_VALUE:
            return "black"
        if saturation < _NEUTRAL_BELOW_SATURATION:
            return "white" if value >= _WHITE_FROM_VALUE else "gray"
        name = self._hue_names[hue]
        if self.settings["palette"] == "extended":
            if name == "orange" and value < _BROWN_BELOW_VALUE:
                return "brown"
            if name == "red" and saturation < _PINK_BELOW_SATURATION and value >= _PINK_FROM_VALUE:
                return "pink"
        return name

    def tag(self, items: Sequence[PixelShares]) -> list[ImageTags]:
        threshold = self.settings["threshold"]
        limit = self.settings["max_tags"]
        results = []
        for item in items:
            ranked = sorted(item.shares.items(), key=lambda pair: (-pair[1], pair[0]))
            tags = [
                Tag(label, share) for label, share in ranked if share > 0 and share >= threshold
            ]
            if limit:
                tags = tags[:limit]
            model = {
                "method": "hue sectors",
                "palette": self.settings["palette"],
                "analysed_size": list(item.analysed_size),
            }
            results.append(ImageTags(tags=tags, model=model))
        return results
