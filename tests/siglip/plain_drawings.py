"""A second, independent generator of test pictures for the demo model: what people draw.

One object, in an everyday shade of its colour (crimson, firebrick or pure red for red...),
on a plain background of any colour (white, black and greys included, the object's colour
always clearly apart from it), 15-70 % of the image, on square, 3:2 and 4:3 canvases
(landscape and portrait), saved as JPEG. Written for the tests on its own: its own palette,
its own drawing code (PIL.ImageDraw primitives and its own star), its own sizes; it does not
use ``visual_buffet_siglip.demo.shapes``, which the model was trained on, so a model that
learned that generator's habits (its muted backgrounds, one shade per colour) fails here.

    python -m tests.siglip.plain_drawings OUT_DIR [--count 384]

writes the images and ``truth.json`` (file name -> [colour, shape]).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHADES: dict[str, dict[str, tuple[int, int, int]]] = {
    "red": {
        "pure red": (255, 0, 0),
        "crimson": (220, 20, 60),
        "firebrick": (178, 34, 34),
        "scarlet": (255, 36, 0),
        "cardinal": (196, 30, 58),
    },
    "green": {
        "pure green": (0, 200, 0),
        "lime": (50, 205, 50),
        "forest green": (34, 139, 34),
        "web green": (0, 128, 0),
        "kelly green": (76, 187, 23),
    },
    "blue": {
        "pure blue": (0, 0, 255),
        "royal blue": (65, 105, 225),
        "medium blue": (0, 0, 205),
        "cobalt": (0, 71, 171),
        "dodger blue": (30, 144, 255),
    },
    "yellow": {
        "pure yellow": (255, 255, 0),
        "gold": (255, 215, 0),
        "lemon": (255, 244, 79),
        "school-bus yellow": (255, 216, 0),
        "canary": (255, 239, 0),
    },
    "orange": {
        "dark orange": (255, 140, 0),
        "safety orange": (255, 103, 0),
        "tangerine": (242, 133, 0),
        "pumpkin": (255, 117, 24),
        "carrot": (237, 145, 33),
    },
    "purple": {
        "purple": (128, 0, 128),
        "dark violet": (148, 0, 211),
        "rebecca purple": (102, 51, 153),
        "blue violet": (138, 43, 226),
        "dark orchid": (153, 50, 204),
    },
    "black": {"black": (0, 0, 0), "eerie black": (27, 27, 27), "ink": (14, 14, 20)},
    "white": {
        "white": (255, 255, 255),
        "snow": (255, 250, 250),
        "ivory": (255, 255, 240),
        "white smoke": (245, 245, 245),
        "ghost white": (248, 248, 255),
    },
}
"""Named colour -> everyday shades of it (sRGB)."""

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "paper": (245, 245, 245),
    "light grey": (211, 211, 211),
    "silver": (192, 192, 192),
    "grey": (128, 128, 128),
    "dim grey": (105, 105, 105),
    "dark grey": (64, 64, 64),
    "charcoal": (34, 34, 34),
    "black": (0, 0, 0),
    "beige": (245, 245, 220),
    "cream": (255, 253, 208),
    "linen": (250, 240, 230),
    "pale blue": (220, 232, 245),
    "mint": (222, 245, 228),
    "blush": (250, 225, 228),
    "lavender": (230, 230, 250),
    "sand": (194, 178, 128),
    "slate": (112, 128, 144),
}
"""Plain backgrounds: white, black, greys and pale or muted tones (no named colour's shade)."""

SHAPE_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "rectangle", "ellipse")
CANVASES: tuple[tuple[int, int], ...] = ((1, 1), (3, 2), (2, 3), (4, 3), (3, 4))
"""Canvas aspect ratios (width : height)."""
LONG_SIDE = (320, 640)
REL_SIZE = (0.15, 0.70)
"""The object's longest extent over the image's longer side."""
ELONGATED = (2.5, 3.5)
"""Long side over short side of rectangles and ellipses: the demo vocabulary's rectangle and
ellipse (docs/demo-model.md). Less elongated, a 3:2 canvas squashed to the model's square
input shows them as squares and circles (a 2:1 rectangle along a 3:2 canvas is 1.33:1 there,
less than a square on a 2:3 canvas, 1.5:1): no model with that input can tell them apart."""
MIN_CONTRAST = 110.0
"""Least RGB distance between the object's shade and the background."""


def _star(cx: float, cy: float, outer: float, inner: float, tilt: float) -> list[tuple]:
    """A five-pointed star, one tip up (turned by `tilt` radians)."""
    points = []
    for k in range(10):
        radius = outer if k % 2 == 0 else inner
        angle = -math.pi / 2 + tilt + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _box_size(shape: str, extent: float, aspect: float, across: bool) -> tuple[float, float]:
    """(width, height) of the object's bounding box."""
    if shape in ("rectangle", "ellipse"):
        return (extent, extent / aspect) if across else (extent / aspect, extent)
    if shape == "triangle":
        return extent, extent * math.sqrt(3) / 2
    return extent, extent


def draw_object(
    draw: ImageDraw.ImageDraw,
    shape: str,
    box: tuple[float, float, float, float],
    fill: tuple[int, int, int],
    star_inner: float = 0.45,
    star_tilt: float = 0.0,
) -> None:
    """Draw `shape` filling the bounding `box` (left, top, right, bottom)."""
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    if shape in ("circle", "ellipse"):
        draw.ellipse(box, fill=fill)
    elif shape in ("square", "rectangle"):
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":  # pointing up
        draw.polygon([(cx, top), (right, bottom), (left, bottom)], fill=fill)
    elif shape == "star":
        outer = (right - left) / 2
        draw.polygon(_star(cx, cy, outer, outer * star_inner, star_tilt), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def drawing(index: int, seed: int = 2026) -> tuple[Image.Image, str, str, dict]:
    """Picture `index`: (image, colour, shape, details). Colours and shapes take turns, so
    every 48 pictures hold each colour-shape pair once; the rest is drawn at random."""
    rng = np.random.default_rng([seed, index])
    colour = tuple(SHADES)[index % len(SHADES)]
    shape = SHAPE_NAMES[(index // len(SHADES)) % len(SHAPE_NAMES)]
    shade_name = str(rng.choice(list(SHADES[colour])))
    fill = SHADES[colour][shade_name]
    backgrounds = [
        name for name, rgb in BACKGROUNDS.items() if math.dist(rgb, fill) >= MIN_CONTRAST
    ]
    background = str(rng.choice(backgrounds))
    ratio_w, ratio_h = CANVASES[int(rng.integers(len(CANVASES)))]
    longest = int(rng.integers(LONG_SIDE[0], LONG_SIDE[1] + 1))
    width = round(ratio_w * longest / max(ratio_w, ratio_h))
    height = round(ratio_h * longest / max(ratio_w, ratio_h))
    extent = rng.uniform(*REL_SIZE) * longest
    box_w, box_h = _box_size(shape, extent, rng.uniform(*ELONGATED), bool(rng.uniform() < 0.5))
    # Shrunk where the canvas is too narrow for it, so that it fits with a margin.
    shrink = min(1.0, 0.94 * width / box_w, 0.94 * height / box_h)
    box_w, box_h, extent = box_w * shrink, box_h * shrink, extent * shrink
    left = rng.uniform(0.025 * width, width - 0.025 * width - box_w)
    top = rng.uniform(0.025 * height, height - 0.025 * height - box_h)
    image = Image.new("RGB", (width, height), BACKGROUNDS[background])
    star_inner, star_tilt = rng.uniform(0.38, 0.5), math.radians(rng.uniform(-8, 8))
    box = (left, top, left + box_w, top + box_h)
    draw_object(ImageDraw.Draw(image), shape, box, fill, star_inner, star_tilt)
    details = {
        "shade": shade_name,
        "background": background,
        "size": [width, height],
        "relative_size": round(extent / longest, 3),
        "box": [round(v, 1) for v in box],
    }
    return image, colour, shape, details


def write_drawings(out_dir: Path, count: int, seed: int = 2026) -> dict[str, dict]:
    """Write `count` pictures as JPEG (quality 92) and truth.json; returns the truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = {}
    for index in range(count):
        image, colour, shape, details = drawing(index, seed)
        name = f"{index:04d}-{colour}-{shape}.jpg"
        image.save(out_dir / name, quality=92)
        truth[name] = {"colour": colour, "shape": shape, **details}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def precision_recall(
    truth: dict[str, dict], found: dict[str, set[str]]
) -> dict[str, dict[str, float]]:
    """Precision and recall of colour tags and of shape tags; `found`: file name -> tags."""
    report = {}
    for group, names in (("colour", set(SHADES)), ("shape", set(SHAPE_NAMES))):
        hits = predicted = 0
        for name, expected in truth.items():
            tags = found.get(name, set()) & names
            predicted += len(tags)
            hits += expected[group] in tags
        report[group] = {
            "precision": hits / max(predicted, 1),
            "recall": hits / max(len(truth), 1),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw the independent held-out pictures.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=384)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    write_drawings(args.out, args.count, args.seed)
    print(f"{args.count} pictures in {args.out}")


if __name__ == "__main__":
    main()
