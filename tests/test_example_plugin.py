"""The example plugin (examples/plugin): found through discovery, tagging real images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from visual_buffet.discovery import discover_plugins
from visual_buffet.images import load_image
from visual_buffet.plugin_api import ENTRY_POINT_GROUP

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugin"


@pytest.fixture
def plugin_class(test_plugins):
    return discover_plugins()["colors"].plugin_class


def tag_file(plugin_class, path: Path, **settings) -> dict[str, float]:
    """Run the plugin's lifecycle on one file, as the host would; label -> confidence."""
    plugin = plugin_class(settings)
    plugin.load()
    loaded = load_image(path, max_side=plugin.max_image_side())
    (result,) = plugin.tag([plugin.prepare(loaded)])
    return {tag.label: round(tag.confidence, 3) for tag in result.tags}


def test_the_pyproject_registers_the_class_under_its_name(test_plugins, example_pyproject) -> None:
    project = example_pyproject
    assert project["name"] == "visual-buffet-example-tagger"
    entry_points = project["entry-points"][ENTRY_POINT_GROUP]
    assert entry_points == {"colors": "vb_example_tagger:DominantColorPlugin"}
    found = discover_plugins()["colors"]
    assert found.ok, found.error
    assert found.distribution == project["name"]
    assert found.plugin_class.version == project["version"] == found.distribution_version
    assert (EXAMPLE_PLUGIN / "README.md").is_file()


@pytest.mark.parametrize(
    ("rgb", "extended", "basic"),
    [
        ((220, 20, 30), "red", "red"),
        ((255, 140, 0), "orange", "yellow"),
        ((139, 69, 19), "brown", "red"),
        ((250, 220, 30), "yellow", "yellow"),
        ((40, 170, 60), "green", "green"),
        ((0, 128, 128), "teal", "cyan"),
        ((30, 60, 230), "blue", "blue"),
        ((128, 0, 128), "purple", "magenta"),
        ((255, 105, 180), "pink", "magenta"),
        ((255, 192, 203), "pink", "red"),
        ((10, 10, 10), "black", "black"),
        ((250, 250, 250), "white", "white"),
        ((128, 128, 128), "gray", "gray"),
    ],
)
def test_solid_colours_are_named(plugin_class, make_image, rgb, extended, basic) -> None:
    path = make_image("solid.png", rgb)
    assert tag_file(plugin_class, path, brightness=False) == {extended: 1.0}
    assert tag_file(plugin_class, path, brightness=False, palette="basic") == {basic: 1.0}


def test_shares_brightness_and_order(plugin_class, make_image) -> None:
    # A quarter black, three quarters white.
    image = Image.new("RGB", (100, 100), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 50, 50))
    path = make_image("x.png")
    image.save(path)
    plugin = plugin_class({})
    plugin.load()
    (result,) = plugin.tag([plugin.prepare(load_image(path))])
    assert [(t.label, t.confidence) for t in result.tags] == [
        ("bright", 0.75), ("white", 0.75), ("black", 0.25), ("dark", 0.25)
    ]  # fmt: skip
    assert result.model == {"method": "hue sectors", "palette": "extended",
                            "analysed_size": [100, 100]}  # fmt: skip


def test_threshold_and_limit(plugin_class, make_image) -> None:
    path = make_image("split.png", (30, 60, 230), halves=(40, 170, 60))
    assert tag_file(plugin_class, path) == {"blue": 0.5, "green": 0.5}
    assert tag_file(plugin_class, path, threshold=0.6) == {}
    assert len(tag_file(plugin_class, path, max_tags=1)) == 1


def test_big_images_are_analysed_small(plugin_class, tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (30, 60, 230)).save(path, quality=90)
    plugin = plugin_class({"analysis_size": 64})
    plugin.load()
    loaded = load_image(path, max_side=plugin.max_image_side())
    assert 64 <= max(loaded.image.size) < 128  # the host's cheap decode; prepare() shrinks
    (result,) = plugin.tag([plugin.prepare(loaded)])
    assert result.model["analysed_size"] == [64, 43]
    assert result.tags[0].label == "blue"


def test_tagging_through_the_cli_in_a_subprocess(cli_subprocess, make_image, tmp_path) -> None:
    folder = tmp_path / "photos"
    make_image("sky.png", (30, 60, 230), folder=folder)
    make_image("grass.png", (40, 170, 60), folder=folder / "sub")
    out = tmp_path / "tags.jsonl"
    done = cli_subprocess(
        "tag", folder, "--recursive", "--plugin", "colors", "--format", "jsonl", "-o", out,
        "--threshold", "0.2", "--set", "brightness=false",
        env={"VISUAL_BUFFET_PLUGINS": "colors"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    tags = {Path(r["file"]).name: [t["label"] for t in r["tags"]] for r in records}
    assert tags == {"sky.png": ["blue"], "grass.png": ["green"]}
    assert records[0]["settings"]["threshold"] == 0.2


def test_tagging_through_the_cli_table(cli, test_plugins, make_image) -> None:
    path = make_image("sunset.png", (255, 140, 0), halves=(128, 0, 128))
    result = cli("tag", path, "--plugin", "colors", "--limit", "3", "--set", "palette=basic")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[3:] if line.strip()]
    # Equal shares are listed by name.
    assert rows == [["dark", "│", "0.5000"], ["magenta", "│", "0.5000"], ["yellow", "│", "0.5000"]]


def test_plugins_info_lists_the_example_settings(cli, test_plugins) -> None:
    info = json.loads(cli("plugins", "info", "colors", "--json").stdout)
    settings = {s["key"]: s for s in info["settings"]}
    assert set(settings) == {
        "enabled", "threshold", "max_tags", "palette", "brightness", "analysis_size"
    }  # fmt: skip
    assert settings["threshold"]["flag"] == "--threshold"
    assert settings["palette"]["allowed"] == "basic, extended"
    assert info["calibrated"] is False
    assert info["enabled_by_default"] is False
