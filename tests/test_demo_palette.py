"""The everyday palette of the demo generator: shades within each colour's hue family,
backgrounds of any tone, the object always apart from its background."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from visual_buffet_siglip.demo import palette
from visual_buffet_siglip.demo.shapes import COLOURS, render_scene, tags_for


def _hsv(rgb) -> tuple[float, float, float]:
    hue, saturation, value = colorsys.rgb_to_hsv(*(v / 255 for v in rgb))
    return hue * 360, saturation, value


def test_every_colour_has_shades_and_they_stay_in_its_family():
    """Chromatic shades are nearer their own colour's hue than any other's; black and white
    shades are dark / light and grey."""
    assert set(palette.SHADE_RANGES) == set(COLOURS)
    chromatic = {
        name: _hsv(rgb)[0] for name, rgb in COLOURS.items() if name not in ("black", "white")
    }
    rng = np.random.default_rng(0)
    for colour, shades in palette.SHADE_RANGES.items():
        drawn = [shades.draw(rng) for _ in range(300)]
        assert len(set(drawn)) > 50, colour  # many shades, not one jittered colour
        for rgb in drawn:
            hue, saturation, value = _hsv(rgb)
            if colour == "black":
                assert value <= 0.12
            elif colour == "white":
                assert value >= 0.93 and saturation <= 0.07
            else:
                distance = {
                    name: min(abs(hue - nominal), 360 - abs(hue - nominal))
                    for name, nominal in chromatic.items()
                }
                assert min(distance, key=distance.get) == colour, (colour, rgb)
                assert saturation >= 0.58 and value >= 0.44, (colour, rgb)  # rounded to bytes


@pytest.mark.parametrize(
    ("colour", "shade"),
    [
        ("red", (220, 20, 60)),  # crimson
        ("red", (178, 34, 34)),  # firebrick
        ("red", (255, 0, 0)),
        ("green", (34, 139, 34)),  # forest green
        ("blue", (65, 105, 225)),  # royal blue
        ("yellow", (255, 215, 0)),  # gold
        ("orange", (255, 140, 0)),  # dark orange
        ("purple", (128, 0, 128)),
    ],
)
def test_everyday_named_shades_are_inside_their_range(colour, shade):
    r, g, b = (v / 255 for v in shade)
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    shades = palette.SHADE_RANGES[colour]
    hue_degrees = hue * 360
    low, high = shades.hue
    assert low <= hue_degrees <= high or low <= hue_degrees - 360 <= high
    assert shades.saturation[0] <= saturation <= shades.saturation[1]
    assert shades.value[0] <= value <= shades.value[1]


def test_everyday_backgrounds_include_white_black_and_greys():
    rng = np.random.default_rng(1)
    tones = np.array([palette.everyday_background(rng) for _ in range(500)]) * 255
    assert (tones.min(axis=1) >= 235).mean() > 0.08  # white
    assert (tones.max(axis=1) <= 20).mean() > 0.05  # black
    grey = np.ptp(tones, axis=1) < 1
    assert grey.mean() > 0.15 and np.ptp(tones[grey, 0]) > 150  # greys, dark to light


def test_everyday_scenes_keep_every_object_apart_from_its_background():
    plain = 0
    for seed in range(60):
        rng = np.random.default_rng([3, seed])
        image, specs = render_scene(rng, (160, 120), 2, 0.15, 0.5, palette="everyday")
        pixels = np.asarray(image, dtype=np.float32)
        corner = pixels[0, 0]  # a plain background is this colour everywhere
        if np.abs(pixels[:8, :8] - corner).max() == 0:
            plain += 1
        objects = [s for s in specs if s.tagged]
        assert tags_for(specs) == {t for s in objects for t in (s.colour, s.shape)}
        for spec in objects:
            x, y = (round(c) for c in spec.centre)
            assert tuple(int(v) for v in pixels[y, x]) == spec.rgb
    assert plain >= 20  # plain backgrounds are common, as in what people draw


def test_a_plain_white_or_black_background_never_holds_an_object_of_its_colour():
    seen = set()
    for seed in range(400):
        rng = np.random.default_rng([4, seed])
        image, specs = render_scene(rng, (64, 64), 1, 0.3, 0.5, palette="everyday")
        background = np.asarray(image, dtype=np.float32)[0, 0]
        if background.min() >= 245:
            seen.add("white")
            assert specs[0].colour != "white"
        if background.max() <= 20:
            seen.add("black")
            assert specs[0].colour != "black"
    assert seen == {"white", "black"}


def test_training_images_take_the_everyday_palette_at_its_fraction():
    from visual_buffet_siglip.demo.train import TrainConfig, _palette

    config = TrainConfig(everyday_fraction=0.7)
    drawn = [_palette(config, step, index) for step in range(10) for index in range(40)]
    assert 0.6 < drawn.count("everyday") / len(drawn) < 0.8
    assert drawn == [_palette(config, step, index) for step in range(10) for index in range(40)]
    assert {_palette(TrainConfig(), 0, index) for index in range(40)} == {"muted"}


def test_photo_canvases_are_4_3_or_3_2_at_their_fraction():
    from visual_buffet_siglip.demo.train import TrainConfig, _photo_canvas

    assert {_photo_canvas(TrainConfig(), 0, index) for index in range(40)} == {None}
    config = TrainConfig(photo_canvas_fraction=0.6)
    drawn = [_photo_canvas(config, step, index) for step in range(10) for index in range(40)]
    canvases = [canvas for canvas in drawn if canvas is not None]
    assert 0.5 < len(canvases) / len(drawn) < 0.7
    for width, height in canvases:
        assert 128 <= max(width, height) <= 256
        assert min(abs(max(width, height) / min(width, height) - r) for r in (4 / 3, 1.5)) < 0.02
    assert any(w > h for w, h in canvases) and any(w < h for w, h in canvases)
