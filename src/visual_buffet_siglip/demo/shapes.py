"""Deterministic procedural images of coloured geometric shapes, and their tags.

Every image is drawn from a ``numpy.random.Generator``, so a seed gives the same pixels on
every run. Objects have one of the named colours (``COLOURS``) and one of the shapes
(``SHAPES``); backgrounds are muted (greys, beiges, desaturated tones, never a named colour),
plain, gradient or textured (noise, stripes, checker).

Sizes: an object's *size* is its longest extent relative to the image's longer side. Objects from
``MIN_TAGGED_REL_SIZE`` (8 %) up to 70 % carry tags; optional "specks" below
``SPECK_MAX_REL_SIZE`` are clutter the demo model is trained to ignore, so that the
whole-image view misses a shape that small and only a zoomed-in view tags it.

Regenerate the example images with::

    python -m visual_buffet_siglip.demo.shapes --examples examples/images
"""

from __future__ import annotations

import argparse
import colorsys
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from visual_buffet_siglip.demo.palette import SHADE_RANGES, contrasts, everyday_background

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (30, 150, 55),
    "blue": (35, 75, 215),
    "yellow": (245, 215, 30),
    "orange": (245, 130, 25),
    "purple": (125, 40, 165),
    "black": (15, 15, 15),
    "white": (250, 250, 250),
}
"""Object colours: name -> nominal sRGB (each object jitters it by up to ``COLOUR_JITTER``)."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "rectangle", "ellipse")

DEMO_TAGS: tuple[str, ...] = (*COLOURS, *SHAPES)
"""Every tag the demo model knows: the colours, then the shapes."""

COLOUR_JITTER = 14
MIN_TAGGED_REL_SIZE = 0.08
MAX_TAGGED_REL_SIZE = 0.70
SPECK_MIN_REL_SIZE = 0.015
SPECK_MAX_REL_SIZE = 0.045
# Rectangles and ellipses are at least 2.5 times as long as wide, so that even after a 3:2
# image is squashed to the model's square input they stay apart from squares and circles.
ELONGATED_ASPECT = (2.5, 3.5)
STAR_INNER_RATIO = (0.40, 0.50)
# Rectangles and ellipses lie horizontal or vertical, triangles point up or down, stars up;
# each tilted by up to this many degrees. Free rotation is a harder task than a model
# trained for minutes on a CPU learns.
ROTATION_JITTER = 12.0
# Backgrounds: hue anything, low saturation, mid values, every channel clipped to this range
# so that no background pixel comes near black, white or a saturated named colour.
BACKGROUND_SATURATION = (0.0, 0.22)
BACKGROUND_VALUE = (0.36, 0.74)
BACKGROUND_CHANNEL_RANGE = (70, 200)

BackgroundKind = Literal["plain", "gradient", "noise", "blotches", "stripes", "checker"]
BACKGROUND_KINDS: tuple[BackgroundKind, ...] = (
    "plain",
    "gradient",
    "noise",
    "blotches",
    "stripes",
    "checker",
)
EVERYDAY_PLAIN_SHARE = 0.5
"""Share of plain backgrounds with the everyday palette, beside the kinds drawn at random."""
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
Palette = Literal["muted", "everyday"]
"""``muted``: the nominal colours jittered, on muted backgrounds (the first palette);
``everyday``: any shade of each colour on a background of any tone (``palette.py``)."""


@dataclass(frozen=True)
class ShapeSpec:
    """One drawn object. Coordinates are pixels of the image it was drawn on."""

    shape: str
    colour: str
    rgb: tuple[int, int, int]
    centre: tuple[float, float]
    size: float
    """Longest extent in pixels (diameter, side, long side, triangle side, star tip to tip)."""
    aspect: float = 1.0
    """Long side over short side: 1 except for rectangles and ellipses."""
    angle: float = 0.0
    """Rotation in degrees, counter-clockwise."""
    tagged: bool = True
    """False for specks: clutter below the tagging size."""

    @property
    def tags(self) -> set[str]:
        return {self.colour, self.shape} if self.tagged else set()

    @functools.cached_property
    def outline(self) -> tuple[tuple[float, float], ...]:
        """Vertices relative to the centre (circles and ellipses as 96-gons)."""
        return tuple(_outline(self))

    @functools.cached_property
    def radius(self) -> float:
        """Distance from the centre to the farthest point of the outline."""
        return max(math.hypot(x, y) for x, y in self.outline)

    def polygon(self) -> list[tuple[float, float]]:
        """The outline as absolute pixel coordinates."""
        return [(self.centre[0] + x, self.centre[1] + y) for x, y in self.outline]

    def bbox(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in pixels."""
        xs, ys = zip(*self.polygon(), strict=True)
        return min(xs), min(ys), max(xs), max(ys)


def tags_for(specs: Iterable[ShapeSpec]) -> set[str]:
    """The tags an image deserves: the union of its tagged objects' colours and shapes."""
    tags: set[str] = set()
    for spec in specs:
        tags |= spec.tags
    return tags


def _outline(spec: ShapeSpec) -> list[tuple[float, float]]:
    """Vertices relative to the centre, rotated, y pointing down (image coordinates)."""
    half = spec.size / 2
    if spec.shape in ("circle", "ellipse"):
        a, b = half, half / spec.aspect
        points = [
            (a * math.cos(t), b * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 96, False)
        ]
    elif spec.shape in ("square", "rectangle"):
        a, b = half, half / spec.aspect
        points = [(-a, -b), (a, -b), (a, b), (-a, b)]
    elif spec.shape == "triangle":
        radius = spec.size / math.sqrt(3)  # equilateral, side = size
        points = [
            (radius * math.cos(t), -radius * math.sin(t))
            for t in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))
        ]
        # Centre the (upright) bounding box rather than the centroid: the base sits at R/2.
        points = [(x, y + radius / 4) for x, y in points]
    elif spec.shape == "star":
        outer = half
        inner = outer * spec.aspect  # for stars, `aspect` stores the inner radius ratio
        points = []
        for k in range(10):
            t = math.pi / 2 + k * math.pi / 5
            r = outer if k % 2 == 0 else inner
            points.append((r * math.cos(t), -r * math.sin(t)))
    else:
        raise ValueError(f"unknown shape {spec.shape!r}: use one of {SHAPES}")
    angle = math.radians(spec.angle)
    cos, sin = math.cos(angle), math.sin(angle)
    return [(x * cos + y * sin, -x * sin + y * cos) for x, y in points]


def muted_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A background tone in 0..1 RGB: any hue, low saturation, mid value."""
    hue = rng.uniform(0, 1)
    saturation = rng.uniform(*BACKGROUND_SATURATION)
    value = rng.uniform(*BACKGROUND_VALUE)
    return colorsys.hsv_to_rgb(hue, saturation, value)


def _second_tone(rng: np.random.Generator, base: tuple[float, float, float]) -> np.ndarray:
    """A tone near `base` but visibly lighter or darker, for patterns and gradients."""
    shift = rng.uniform(0.08, 0.18) * rng.choice([-1.0, 1.0])
    tint = np.array(muted_colour(rng))
    return 0.6 * (np.array(base) + shift) + 0.4 * tint


def render_background(
    rng: np.random.Generator,
    size: tuple[int, int],
    kind: BackgroundKind | None = None,
    *,
    palette: Palette = "muted",
) -> Image.Image:
    """A background of the given (width, height); kind drawn at random if not given.

    ``palette="muted"``: muted tones, never near a named colour; ``"everyday"``: any tone
    (white, black, greys, tints: ``palette.everyday_background``).
    """
    width, height = size
    if kind is None and palette == "everyday" and rng.random() < EVERYDAY_PLAIN_SHARE:
        kind = "plain"  # what people draw on: plain more often than any pattern
    if kind is None:
        kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    tone = muted_colour(rng) if palette == "muted" else everyday_background(rng)
    base = np.array(tone, dtype=np.float32)
    longest = max(width, height)
    if kind == "plain":
        pixels = np.broadcast_to(base, (height, width, 3))
    elif kind == "gradient":
        other = _second_tone(rng, base).astype(np.float32)
        t = _ramp(rng, width, height)
        pixels = base + t[..., None] * (other - base)
    elif kind == "noise":
        sigma = rng.uniform(0.015, 0.05)
        grain = rng.normal(0, sigma, (height, width, 1)).astype(np.float32)
        pixels = base + grain
    elif kind == "blotches":
        other = _second_tone(rng, base).astype(np.float32)
        cells = int(rng.integers(3, 9))
        coarse = rng.uniform(0, 1, (cells, cells)).astype(np.float32)
        field = np.asarray(
            Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        )
        pixels = base + np.clip(field, 0, 1)[..., None] * (other - base)
    elif kind == "stripes":
        other = _second_tone(rng, base).astype(np.float32)
        period = rng.uniform(0.02, 0.12) * longest
        t = _ramp(rng, width, height, normalise=False)
        pixels = np.where(((t / period) % 1.0 < 0.5)[..., None], base, other)
    elif kind == "checker":
        other = _second_tone(rng, base).astype(np.float32)
        cell = max(2.0, rng.uniform(0.03, 0.12) * longest)
        ys, xs = np.mgrid[0:height, 0:width]
        mask = ((xs // cell).astype(int) + (ys // cell).astype(int)) % 2 == 0
        pixels = np.where(mask[..., None], base, other)
    else:
        raise ValueError(f"unknown background {kind!r}: use one of {BACKGROUND_KINDS}")
    low, high = BACKGROUND_CHANNEL_RANGE if palette == "muted" else (0, 255)
    array = np.clip(np.asarray(pixels) * 255.0, low, high).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array), mode="RGB")


def _ramp(
    rng: np.random.Generator, width: int, height: int, *, normalise: bool = True
) -> np.ndarray:
    """Distance along a random direction, per pixel (0..1 across the image if normalised)."""
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = xs * math.cos(angle) + ys * math.sin(angle)
    if normalise:
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    return t


def random_image_size(
    rng: np.random.Generator,
    long_side: tuple[int, int],
    *,
    max_aspect: float = 1.5,
    square_probability: float = 0.3,
) -> tuple[int, int]:
    """(width, height): longer side uniform in `long_side`, aspect log-uniform up to 3:2."""
    longest = int(rng.integers(long_side[0], long_side[1] + 1))
    if rng.uniform() < square_probability:
        return longest, longest
    aspect = math.exp(rng.uniform(0, math.log(max_aspect)))
    shortest = max(1, round(longest / aspect))
    return (longest, shortest) if rng.uniform() < 0.5 else (shortest, longest)


def random_spec(
    rng: np.random.Generator,
    size_px: float,
    *,
    shape: str | None = None,
    colour: str | None = None,
    tagged: bool = True,
    palette: Palette = "muted",
) -> ShapeSpec:
    """A shape of the given longest extent at the origin (placement comes later).

    Its colour: the nominal one jittered (``palette="muted"``) or any shade of it
    (``"everyday"``: ``palette.SHADE_RANGES``).
    """
    shape = shape or SHAPES[int(rng.integers(len(SHAPES)))]
    colour = colour or tuple(COLOURS)[int(rng.integers(len(COLOURS)))]
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: use one of {SHAPES}")
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}: use one of {tuple(COLOURS)}")
    if palette == "muted":
        jitter = rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)
        rgb = tuple(int(v) for v in np.clip(np.array(COLOURS[colour]) + jitter, 0, 255))
    else:
        rgb = SHADE_RANGES[colour].draw(rng)
    aspect, angle = 1.0, 0.0
    if shape in ("rectangle", "ellipse"):
        aspect = rng.uniform(*ELONGATED_ASPECT)
        angle = float(rng.choice([0.0, 90.0])) + rng.uniform(-ROTATION_JITTER, ROTATION_JITTER)
    elif shape == "triangle":
        angle = float(rng.choice([0.0, 180.0])) + rng.uniform(-ROTATION_JITTER, ROTATION_JITTER)
    elif shape == "star":
        aspect = rng.uniform(*STAR_INNER_RATIO)
        angle = rng.uniform(-ROTATION_JITTER, ROTATION_JITTER)
    return ShapeSpec(shape, colour, rgb, (0.0, 0.0), float(size_px), aspect, angle, tagged)


def _with_centre(spec: ShapeSpec, centre: tuple[float, float]) -> ShapeSpec:
    return ShapeSpec(
        spec.shape, spec.colour, spec.rgb, centre, spec.size, spec.aspect, spec.angle, spec.tagged
    )


def _place(
    rng: np.random.Generator,
    spec: ShapeSpec,
    image_size: tuple[int, int],
    placed: Sequence[ShapeSpec],
    margin: float = 2.0,
) -> ShapeSpec | None:
    """Put `spec` fully inside the image, clear of already placed objects; None if no room."""
    width, height = image_size
    x0, y0, x1, y1 = spec.bbox()
    low_x, high_x = margin - x0, width - margin - x1
    low_y, high_y = margin - y0, height - margin - y1
    if low_x > high_x or low_y > high_y:
        return None
    radius = spec.radius
    for _ in range(60):
        centre = (rng.uniform(low_x, high_x), rng.uniform(low_y, high_y))
        if all(
            math.dist(centre, other.centre) > radius + other.radius + margin for other in placed
        ):
            return _with_centre(spec, centre)
    return None


def draw_shapes(image: Image.Image, specs: Iterable[ShapeSpec]) -> Image.Image:
    """Draw the objects onto (a copy of) the image."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    for spec in specs:
        draw.polygon(spec.polygon(), fill=spec.rgb)
    return image


def render_scene(
    rng: np.random.Generator,
    size: tuple[int, int] = (256, 256),
    n_objects: int = 1,
    min_rel_size: float = MIN_TAGGED_REL_SIZE,
    max_rel_size: float = MAX_TAGGED_REL_SIZE,
    *,
    specks: int = 0,
    background: BackgroundKind | None = None,
    palette: Palette = "muted",
) -> tuple[Image.Image, list[ShapeSpec]]:
    """Draw a background and `n_objects` tagged objects (plus `specks` untagged tiny ones).

    Object sizes (longest extent over the image's longer side) are log-uniform in
    [min_rel_size, max_rel_size]; an object that cannot fit is shrunk until it does. Objects
    never overlap. Returns the image and the specs of every object drawn, specks included
    (``tags_for`` skips those). With ``palette="everyday"`` each object's shade is drawn
    again until it stands clearly apart from the background (``palette.contrasts``).
    """
    if n_objects < 0 or specks < 0:
        raise ValueError("n_objects and specks must be >= 0")
    if not 0 < min_rel_size <= max_rel_size:
        raise ValueError(f"need 0 < min_rel_size <= max_rel_size, got {min_rel_size, max_rel_size}")
    width, height = size
    longest = max(width, height)
    image = render_background(rng, size, background, palette=palette)
    if palette == "everyday":
        mean = np.asarray(image, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    placed: list[ShapeSpec] = []
    wanted = [(True, min_rel_size, max_rel_size)] * n_objects
    wanted += [(False, SPECK_MIN_REL_SIZE, SPECK_MAX_REL_SIZE)] * specks
    for tagged, low, high in wanted:
        rel = math.exp(rng.uniform(math.log(low), math.log(high)))
        spec = random_spec(rng, rel * longest, tagged=tagged, palette=palette)
        for _ in range(20 if palette == "everyday" else 0):
            if contrasts(spec.rgb, mean):
                break
            spec = random_spec(rng, rel * longest, tagged=tagged, palette=palette)
        # Shrink towards the lower bound until it fits (large or crowded scenes).
        for _ in range(40):
            result = _place(rng, spec, size, placed)
            if result is not None:
                placed.append(result)
                break
            smaller = max(spec.size * 0.9, low * longest)
            if smaller == spec.size:
                break
            spec = ShapeSpec(
                spec.shape, spec.colour, spec.rgb, (0, 0), smaller, spec.aspect, spec.angle, tagged
            )
    return draw_shapes(image, placed), placed


def place_small_shape(
    image_size: tuple[int, int] = (3000, 2000),
    rel_width: float = 0.04,
    corner: Corner = "bottom-right",
    colour: str = "red",
    shape: str = "circle",
    seed: int = 0,
    *,
    background: BackgroundKind = "gradient",
) -> tuple[Image.Image, ShapeSpec]:
    """One small, unrotated shape near a corner of a large background.

    The shape is ``rel_width`` of the image width wide and sits one shape-width in from the
    corner: small enough that the whole image, squeezed to the model's input, shows it as a
    speck, large enough to tag in a square window around that corner.
    """
    if corner not in ("top-left", "top-right", "bottom-left", "bottom-right"):
        raise ValueError(f"unknown corner {corner!r}")
    rng = np.random.default_rng(seed)
    width, height = image_size
    image = render_background(rng, image_size, background)
    spec = random_spec(rng, rel_width * width, shape=shape, colour=colour)
    spec = ShapeSpec(spec.shape, spec.colour, spec.rgb, (0.0, 0.0), spec.size, spec.aspect)
    x0, y0, x1, y1 = spec.bbox()
    gap = spec.size
    x = gap - x0 if corner.endswith("left") else width - gap - x1
    y = gap - y0 if corner.startswith("top") else height - gap - y1
    spec = _with_centre(spec, (x, y))
    return draw_shapes(image, [spec]), spec


# Example images: file name, description, background, seed, size and objects as
# (shape, colour, longest extent in pixels, centre x, centre y).
EXAMPLES: tuple[tuple[str, str, BackgroundKind, int, tuple[int, int], tuple], ...] = (
    (
        "red-circle-1200x800.jpg",
        "one large red circle on a plain background (3:2)",
        "plain",
        1001,
        (1200, 800),
        (("circle", "red", 420, 560, 400),),
    ),
    (
        "star-and-square-1200x900.jpg",
        "a yellow star and a blue square on a gradient (4:3)",
        "gradient",
        1002,
        (1200, 900),
        (("star", "yellow", 380, 380, 450), ("square", "blue", 260, 880, 420)),
    ),
    (
        "three-shapes-1024x1024.jpg",
        "an orange triangle, a purple rectangle and a green ellipse on stripes (square)",
        "stripes",
        1003,
        (1024, 1024),
        (
            ("triangle", "orange", 330, 300, 330),
            ("rectangle", "purple", 420, 700, 260),
            ("ellipse", "green", 400, 560, 760),
        ),
    ),
    (
        "white-square-800x800.jpg",
        "a white square on a noisy background (square)",
        "noise",
        1004,
        (800, 800),
        (("square", "white", 300, 430, 380),),
    ),
    (
        "checker-900x1200.jpg",
        "a black triangle and a blue ellipse on a checker pattern (portrait 3:4)",
        "checker",
        1005,
        (900, 1200),
        (("triangle", "black", 300, 300, 850), ("ellipse", "blue", 360, 640, 420)),
    ),
)
SMALL_CORNER_EXAMPLE = (
    "small-corner-3000x2000.jpg",
    "one blue star, 4% of the image width, near the bottom-right corner (3000x2000)",
)


def small_corner_example() -> tuple[Image.Image, ShapeSpec]:
    """The README's small-corner example (also the quality-pass test's image) and its star."""
    return place_small_shape((3000, 2000), 0.04, "bottom-right", "blue", "star", seed=1006)


def render_examples(out_dir: Path) -> list[tuple[Path, set[str], str]]:
    """Write the example JPEGs; returns (path, tags, description) for each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Path, set[str], str]] = []

    def save(name: str, image: Image.Image, specs: Sequence[ShapeSpec], what: str) -> None:
        path = out_dir / name
        image.save(path, "JPEG", quality=88, optimize=True)
        made.append((path, tags_for(specs), what))

    for name, what, background, seed, size, objects in EXAMPLES:
        rng = np.random.default_rng(seed)
        image = render_background(rng, size, background)
        specs = [
            _with_centre(random_spec(rng, extent, shape=shape, colour=colour), (x, y))
            for shape, colour, extent, x, y in objects
        ]
        save(name, draw_shapes(image, specs), specs, what)
    image, spec = small_corner_example()
    save(SMALL_CORNER_EXAMPLE[0], image, [spec], SMALL_CORNER_EXAMPLE[1])
    return made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw the demo model's procedural images.")
    parser.add_argument("--examples", type=Path, metavar="DIR", help="write the example JPEGs")
    parser.add_argument("--seed", type=int, default=0, help="draw one random scene")
    parser.add_argument("--out", type=Path, default=Path("scene.png"))
    args = parser.parse_args(argv)
    if args.examples:
        for path, tags, what in render_examples(args.examples):
            print(f"{path}: {', '.join(sorted(tags))} ({what})")
        return
    rng = np.random.default_rng(args.seed)
    image, specs = render_scene(rng, (512, 384), int(rng.integers(1, 4)))
    image.save(args.out)
    print(f"{args.out}: {', '.join(sorted(tags_for(specs)))}")


if __name__ == "__main__":
    main()
