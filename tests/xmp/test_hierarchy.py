"""Parents for hierarchical keywords: `parent|child` vocabulary lines and the built-in table."""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.xmp.conftest import exiftool_read, exiv2_read, sha256
from visual_buffet_siglip.vocabulary import (
    builtin_vocabulary,
    parse_vocabulary,
    read_vocabulary_file,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_label_scored_is_the_child_normalised_like_any_label() -> None:
    vocabulary = parse_vocabulary(
        ["Animal | Dog", "living_thing|animal", "bird|Eagle", "animal|bird", "cat", "dog"]
    )
    assert vocabulary.labels == ["dog", "animal", "eagle", "bird", "cat"]
    assert vocabulary.parents == {
        "dog": ("living thing", "animal"),
        "animal": ("living thing",),
        "eagle": ("living thing", "animal", "bird"),
        "bird": ("living thing", "animal"),
    }


def test_a_cycle_ends_instead_of_looping() -> None:
    assert parse_vocabulary(["x|y", "y|x"]).parents == {"y": ("x",), "x": ("y",)}


def test_a_vocabulary_file_with_parents_scores_only_its_children(tmp_path: Path) -> None:
    path = tmp_path / "tags.txt"
    path.write_text("# mine\nshape|circle\nshape|square  # comment\nred\n", encoding="utf-8")
    assert read_vocabulary_file(path) == ["circle", "square", "red"]


def test_builtin_tags_have_curated_categories() -> None:
    vocabulary = builtin_vocabulary()
    assert vocabulary.parents["dog"] == ("animal", "pet")
    assert vocabulary.parents["eagle"] == ("animal", "bird")
    assert vocabulary.parents["kitchen"] == ("place", "room")
    assert vocabulary.parents["tulip"] == ("nature", "plant", "flower")
    assert set(vocabulary.parents) <= set(vocabulary.labels)
    first_1000 = vocabulary.labels[:1000]
    with_parents = sum(label in vocabulary.parents for label in first_1000)
    assert with_parents >= 980, with_parents  # the default candidates: all but the roots


def test_category_table_lists_each_category_once() -> None:
    """A repeated key in the dict literal would silently drop the first list."""
    tree = ast.parse((REPO / "vocab" / "categories.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_demo_model_writes_hierarchical_keywords(cli: Callable, tmp_path: Path) -> None:
    image = tmp_path / "Rød SIRKEL.JPG"
    shutil.copyfile(REPO / "examples" / "images" / "red-circle-1200x800.jpg", image)
    before = sha256(image)
    vocabulary = tmp_path / "tags.txt"
    vocabulary.write_text("color|red\ncolor|blue\nshape|round shape|circle\n", encoding="utf-8")
    args = ("tag", image, "--plugin", "siglip", "--variant", "demo", "--vocabulary", vocabulary)
    result = cli(*args, "--threshold", "0.05", "--xmp", "-f", "jsonl")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    labels = [tag["label"] for tag in record["tags"]]
    assert {"red", "circle"} <= set(labels)  # the demo model sees the example's red circle
    paths = ["|".join([*tag["parents"], tag["label"]]) for tag in record["tags"]]
    assert "shape|round shape|circle" in paths and "color|red" in paths

    sidecar = image.with_name("Rød SIRKEL.JPG.xmp")
    tool, lib = exiftool_read(sidecar), exiv2_read(sidecar)
    assert tool["HierarchicalSubject"] == paths
    assert lib["Xmp.lr.hierarchicalSubject"] == paths
    assert lib["Xmp.digiKam.TagsList"] == [p.replace("|", "/") for p in paths]
    flat = [word for tag in record["tags"] for word in (*tag["parents"], tag["label"])]
    assert tool["Subject"] == list(dict.fromkeys(flat))  # parents first, each once
    run = tool["Runs"][0]
    assert run["Model"] == "model (demo)"
    assert run["VocabularyHash"] == record["model"]["vocabulary_sha256"]
    assert sha256(image) == before

    # the same run without hierarchy: paths and parents go, the flat tags stay
    result = cli(
        *args,
        "--threshold",
        "0.05",
        "--xmp",
        "--set",
        "images.xmp.hierarchy=false",
        "--set",
        "images.xmp.parents_as_keywords=false",
    )
    assert result.exit_code == 0, result.output
    tool = exiftool_read(sidecar)
    assert tool["Subject"] == labels
    assert "HierarchicalSubject" not in tool
    assert tool["TagsList"] == [p.replace("|", "/") for p in paths]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_builtin_vocabulary_categories_reach_the_sidecar(
    cli: Callable, tmp_path: Path, make_image: Callable
) -> None:
    """A tiny random checkpoint scores the built-in tags; their categories become paths."""
    import math

    from visual_buffet_siglip.synthetic import build_checkpoint

    model = build_checkpoint(
        tmp_path / "tiny", "v1", "tiny", seed=1, logit_scale=math.log(10.0), logit_bias=0.0
    )
    image = make_image("Photo.PNG", (40, 160, 60))
    result = cli(
        *("tag", image, "--plugin", "siglip", "--set", f"siglip.model={model}"),
        *("--set", "max_candidates=60", "--threshold", "0", "--limit", "30", "--xmp"),
        *("-f", "jsonl"),
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    builtin = builtin_vocabulary()
    assert len(record["tags"]) == 30
    for tag in record["tags"]:
        assert tuple(tag.get("parents", ())) == builtin.parents.get(tag["label"], ())
    assert sum(bool(tag.get("parents")) for tag in record["tags"]) >= 20
    paths = ["|".join([*tag.get("parents", ()), tag["label"]]) for tag in record["tags"]]
    sidecar = image.with_name("Photo.PNG.xmp")
    assert exiftool_read(sidecar)["HierarchicalSubject"] == paths
    assert exiv2_read(sidecar)["Xmp.lr.hierarchicalSubject"] == paths
