"""The built-in photo vocabulary (vocab/photo-tags.txt) is clean, ordered and reproducible."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VOCAB_FILE = REPO / "vocab" / "photo-tags.txt"
BUILD_SCRIPT = REPO / "vocab" / "build_vocab.py"
# Where build_vocab.py looks for the raw lists by default: beside the checkout.
SOURCES = REPO.parent / "shared" / "vocab-sources"

# Subjects any photo library needs; the default run (max_candidates = 1000) must see them.
ESSENTIAL_TEXT = """
    person, people, man, woman, child, baby, family, crowd, portrait, selfie, dog, cat, bird,
    horse, fish, insect, butterfly, car, truck, bus, bicycle, motorcycle, train, airplane,
    boat, tree, flower, plant, grass, forest, beach, mountain, sea, lake, river, waterfall,
    sky, cloud, sunset, sunrise, snow, rain, night, city, city street, building, house,
    bridge, road, church, kitchen, bedroom, food, cake, pizza, fruit, coffee, wine, water,
    book, computer, smartphone, camera, wedding, birthday party, concert, christmas,
    black and white, close-up, landscape, underwater, document, screenshot, text, garden,
    park, desert
"""
ESSENTIAL = {tag.strip() for tag in ESSENTIAL_TEXT.split(",")}
# Lowercase words, digits, spaces, and the hyphens and apostrophes of real spellings.
TAG_PATTERN = re.compile(r"[a-z0-9]+(?:['-]?[a-z0-9]+)*(?: [a-z0-9]+(?:['-]?[a-z0-9]+)*)*")


needs_sources = pytest.mark.skipif(
    not SOURCES.is_dir(), reason=f"raw vocabulary sources not found at {SOURCES}"
)


def _tags() -> list[str]:
    """The tags as the SigLIP plugin's loader sees them (blank and ``#`` lines ignored)."""
    lines = VOCAB_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_file_is_utf8_with_a_comment_header_only_at_the_top() -> None:
    lines = VOCAB_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    header = [i for i, line in enumerate(lines) if line.startswith("#")]
    assert header == list(range(len(header))), "comment lines only in the header"
    assert all(line.strip() for line in lines), "no blank lines"


def test_tags_are_clean_lowercase_phrases() -> None:
    bad = [tag for tag in _tags() if not TAG_PATTERN.fullmatch(tag)]
    assert not bad, f"tags with capitals, underscores, stray spaces or symbols: {bad[:20]}"


def test_tags_are_unique() -> None:
    tags = _tags()
    duplicates = sorted({tag for tag in tags if tags.count(tag) > 1})
    assert not duplicates


def test_size() -> None:
    assert 3000 <= len(_tags()) <= 6000


def test_first_1000_hold_the_essentials() -> None:
    missing = ESSENTIAL - set(_tags()[:1000])
    assert not missing, f"essential tags missing from the first 1000: {sorted(missing)}"


def test_the_most_basic_tags_come_first() -> None:
    first_200 = set(_tags()[:200])
    assert {"person", "dog", "cat", "car", "tree", "beach", "sunset", "food"} <= first_200


def test_blocklisted_source_entries_are_absent() -> None:
    tags = set(_tags())
    # RAM's abstract words and verbs, and Places365's path syntax, must not leak through.
    assert not tags & {"act", "add", "adaptation", "individual", "appear", "thing"}
    assert not [tag for tag in tags if "/" in tag or "_" in tag]


def test_plugin_loader_reads_every_tag_unchanged() -> None:
    vocabulary = pytest.importorskip("visual_buffet_siglip.vocabulary")
    assert vocabulary.read_vocabulary_file(VOCAB_FILE) == _tags()


@needs_sources
def test_build_script_reproduces_the_shipped_file() -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--check", "--sources", str(SOURCES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_sources
def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "photo-tags.txt"
    stale.write_text("dog\ncat\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "out of date" in result.stderr
