"""Finding images: folders walked in a stable order, hidden files, links, cycles, duplicates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from visual_buffet.images import IMAGE_SUFFIXES
from visual_buffet.scan import find_images


def save(img: Image.Image, path: Path, **options: object) -> Path:
    img.save(path, **options)
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hiddendir").mkdir()
    for name in ("a.jpg", "B.png", ".hidden.jpg", "sub/c.JPG", "sub/deeper/d.tif",
                 ".hiddendir/x.jpg"):  # fmt: skip
        save(Image.new("RGB", (4, 4)), root / name, format="PNG")
    (root / "notes.txt").write_text("not an image")
    (root / "noext").write_bytes((root / "a.jpg").read_bytes())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    save(Image.new("RGB", (4, 4)), outside / "e.webp")
    os.symlink(root, root / "sub" / "loop")  # a cycle back to the top
    os.symlink(outside, root / "sub" / "linked")  # a symlinked directory
    os.symlink(root / "a.jpg", root / "same_as_a.jpg")  # the same file twice
    os.symlink(tmp_path / "gone.jpg", root / "dangling.jpg")
    return root


def test_top_level_only(tree: Path) -> None:
    scan = find_images([tree])
    assert scan.files == [tree / "B.png", tree / "a.jpg"]
    assert scan.skipped_hidden == 2  # .hidden.jpg and .hiddendir
    assert scan.skipped_non_image == 2  # notes.txt, noext
    assert scan.skipped_subdirs == 1
    assert scan.unreadable == [tree / "dangling.jpg"]
    assert scan.missing == []


def test_recursive_follows_links_once_and_ends_on_cycles(tree: Path) -> None:
    scan = find_images([tree], recursive=True)
    assert scan.files == [
        tree / "B.png",
        tree / "a.jpg",
        tree / "sub" / "c.JPG",
        tree / "sub" / "deeper" / "d.tif",
        tree / "sub" / "linked" / "e.webp",
    ]
    assert scan.skipped_hidden == 2
    assert find_images([tree], recursive=True) == scan  # deterministic


def test_include_hidden(tree: Path) -> None:
    scan = find_images([tree], recursive=True, include_hidden=True)
    assert tree / ".hidden.jpg" in scan.files
    assert tree / ".hiddendir" / "x.jpg" in scan.files
    assert scan.skipped_hidden == 0


def test_arguments_keep_their_order_and_duplicates_go(tree: Path) -> None:
    c = tree / "sub" / "c.JPG"
    scan = find_images([c, tree / "noext", tree, c, tree / "missing.jpg"], recursive=True)
    assert scan.files[:3] == [c, tree / "noext", tree / "B.png"]
    assert scan.files.count(c) == 1
    assert tree / "same_as_a.jpg" not in scan.files
    assert scan.missing == [tree / "missing.jpg"]


def test_explicit_hidden_and_non_image_files_are_taken(tree: Path) -> None:
    scan = find_images([tree / ".hidden.jpg", tree / "notes.txt"])
    assert scan.files == [tree / ".hidden.jpg", tree / "notes.txt"]


def test_mutual_symlink_cycle(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    os.symlink(tmp_path / "two", tmp_path / "one" / "to_two")
    os.symlink(tmp_path / "one", tmp_path / "two" / "to_one")
    save(Image.new("RGB", (2, 2)), tmp_path / "two" / "z.png")
    scan = find_images([tmp_path / "one", tmp_path / "two"], recursive=True)
    assert scan.files == [tmp_path / "one" / "to_two" / "z.png"]


def test_suffix_table() -> None:
    assert {".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".cr3", ".dng"} <= IMAGE_SUFFIXES
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in IMAGE_SUFFIXES)
