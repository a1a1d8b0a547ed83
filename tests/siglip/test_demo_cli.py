"""The bundled demo model through the real CLI: accuracy, and that quality passes matter."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from visual_buffet.cli import app
from visual_buffet_siglip.demo.shapes import COLOURS, SHAPES, place_small_shape, render_scene
from visual_buffet_siglip.variants import demo_model_dir

pytestmark = pytest.mark.skipif(
    not (demo_model_dir() / "model.safetensors").is_file(), reason="demo model not built"
)
HELD_OUT_STREAM = 7  # training draws from stream 0, demo/evaluate.py from 1-2: never seen


def tag(*args: str) -> list[dict]:
    result = CliRunner().invoke(
        app, ["tag", *map(str, args), "--plugin", "siglip", "--variant", "demo", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


def test_demo_model_accuracy_on_held_out_single_objects(tmp_path):
    truth = {}
    for index in range(80):
        rng = np.random.default_rng([HELD_OUT_STREAM, 0, index])
        size = (int(rng.integers(200, 480)), int(rng.integers(200, 480)))
        image, specs = render_scene(rng, size, n_objects=1)
        path = tmp_path / f"{index:03d}.png"
        image.save(path)
        truth[str(path)] = specs[0]
    records = tag(tmp_path)  # default threshold (0.01) and quality
    assert len(records) == len(truth)
    for group, names in (("colour", set(COLOURS)), ("shape", set(SHAPES))):
        hits = predicted = 0
        for record in records:
            spec = truth[record["file"]]
            expected = spec.colour if group == "colour" else spec.shape
            found = {t["label"] for t in record["tags"]} & names
            predicted += len(found)
            hits += expected in found
        precision, recall = hits / max(predicted, 1), hits / len(records)
        assert precision >= 0.9, f"{group} precision {precision:.3f}"
        assert recall >= 0.9, f"{group} recall {recall:.3f}"


def test_small_corner_shape_needs_the_window_passes(tmp_path):
    image, spec = place_small_shape(
        (3000, 2000), rel_width=0.04, corner="bottom-right", colour="red", shape="star", seed=11
    )
    path = tmp_path / "small.jpg"
    image.save(path, quality=92)

    quick = tag(path, "--quality", "quick")[0]
    assert not {"red", "star"} & {t["label"] for t in quick["tags"]}

    standard = {t["label"]: t for t in tag(path, "--quality", "standard")[0]["tags"]}
    assert {"red", "star"} <= set(standard)
    for label in ("red", "star"):
        found = standard[label]["found_in"]
        assert found["view"] == "window" and found["pass"] == "2048"
        left, top, right, bottom = found["box"]
        x, y = spec.centre
        assert left <= x <= right and top <= y <= bottom  # the window that holds the shape
