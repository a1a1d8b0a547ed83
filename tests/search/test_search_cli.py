"""`visual-buffet search` through the real CLI (subprocesses) on the bundled demo model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.search.conftest import copy_examples, jsonl

DEMO = ["--variant", "demo"]


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory: pytest.TempPathFactory, plugin_site, _session_cache):
    """The example photos tagged once with the demo model (threshold 0: every label kept)
    into a library of their own; returns (env, library, photos folder, records by name)."""
    root = tmp_path_factory.mktemp("demo-library")
    photos = copy_examples(root / "photos")
    library = root / "library.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": plugin_site.pythonpath,
        "HF_HUB_OFFLINE": "1",
        "VISUAL_BUFFET_CONFIG": str(root / "config.toml"),
        "VISUAL_BUFFET_CACHE_DIR": str(_session_cache),
        "VISUAL_BUFFET_DATA_DIR": str(root / "data"),
        "COLUMNS": "1000",
    }
    done = _run(env, "tag", photos, *DEMO, "--library", library, "--threshold", "0", "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    records = {Path(r["file"]).name: r for r in jsonl(done.stdout)}
    assert len(records) == 6
    return env, library, photos, records


def _run(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visual_buffet", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _search(demo_library, *args: object) -> list[dict]:
    env, library, _, _ = demo_library
    done = _run(env, "search", *args, *DEMO, "--library", library, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_red_circle_is_found_first_with_the_json_schema(demo_library) -> None:
    hits = _search(demo_library, "red circle")
    assert Path(hits[0]["file"]).name == "red-circle-1200x800.jpg"
    assert len(hits) == 6  # fewer images than --limit's default
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert {"file", "score", "found_in"} <= set(hit)
        assert isinstance(hit["file"], str) and Path(hit["file"]).is_absolute()
        assert 0.0 <= hit["score"] <= 1.0
        view = hit["found_in"]
        assert set(view) == {"pass", "resolution", "view", "box"}
        assert view["view"] in ("whole", "window") and len(view["box"]) == 4
    assert len(_search(demo_library, "red circle", "--limit", "2")) == 2


@pytest.mark.parametrize("label", ["circle", "red", "square"])
def test_scores_are_the_tag_confidence_of_that_label(demo_library, label: str) -> None:
    """A search for a label scores every image exactly as tagging gives that label (max
    over the views, the same view), to 1e-6."""
    _, _, _, records = demo_library
    hits = {Path(h["file"]).name: h for h in _search(demo_library, label, "--limit", "0")}
    assert set(hits) == set(records)
    for name, record in records.items():
        tag = next(t for t in record["tags"] if t["label"] == label)
        assert hits[name]["score"] == pytest.approx(tag["confidence"], abs=1e-6), name
        assert hits[name]["found_in"] == tag["found_in"], name


def test_like_finds_the_same_image_first_stored_or_not(demo_library, tmp_path) -> None:
    _, _, photos, _ = demo_library
    hits = _search(demo_library, "--like", photos / "star-and-square-1200x900.jpg")
    assert Path(hits[0]["file"]).name == "star-and-square-1200x900.jpg"
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    # Not in the store (another file, re-encoded as PNG): the model embeds it.
    outside = tmp_path / "star.png"
    Image.open(photos / "star-and-square-1200x900.jpg").save(outside)
    hits = _search(demo_library, "--like", outside)
    assert Path(hits[0]["file"]).name == "star-and-square-1200x900.jpg"
    assert hits[0]["score"] > hits[1]["score"]


def test_duplicates_lists_a_copied_file(demo_library, tmp_path) -> None:
    env, library, photos, _ = demo_library
    copied = tmp_path / "library.sqlite3"
    shutil.copyfile(library, copied)  # the module's store stays as it was
    copy = photos.parent / "copy-of-red-circle.jpg"
    shutil.copyfile(photos / "red-circle-1200x800.jpg", copy)
    done = _run(env, "tag", copy, *DEMO, "--library", copied, "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    # The same content: recognised by its hash, no model (another threshold: re-scored).
    assert jsonl(done.stdout)[0]["tags_from"] == "embeddings"
    done = _run(env, "search", "--duplicates", *DEMO, "--library", copied, "--json")
    assert done.returncode == 0, done.stderr
    pairs = json.loads(done.stdout)
    names = [{Path(p["first"]).name, Path(p["second"]).name} for p in pairs]
    assert {"red-circle-1200x800.jpg", "copy-of-red-circle.jpg"} in names
    assert pairs[0]["similarity"] == 1.0
    done = _run(env, "search", "--duplicates", *DEMO, "--library", copied)
    assert "copy-of-red-circle.jpg" in done.stdout


def test_user_errors_exit_2_with_a_message(demo_library, tmp_path) -> None:
    env, library, _, _ = demo_library
    done = _run(env, "search", *DEMO, "--library", library)
    assert done.returncode == 2 and "give exactly one of TEXT" in done.stderr
    done = _run(env, "search", "x", "--duplicates", *DEMO, "--library", library)
    assert done.returncode == 2 and "TEXT and --duplicates" in done.stderr
    empty = tmp_path / "nothing.sqlite3"
    done = _run(env, "search", "cat", *DEMO, "--library", empty)
    assert done.returncode == 2 and "no library store" in done.stderr, done.stderr
    assert not empty.exists()  # searching creates nothing
    done = _run(env, "search", "cat", *DEMO, "--quality", "max", "--library", library)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "holds no siglip embeddings for these settings" in message
    assert "6 image(s): quality=standard" in message  # what it holds, and how it differs
    done = _run(env, "search", "--like", tmp_path / "gone.jpg", *DEMO, "--library", library)
    assert done.returncode == 2 and "gone.jpg" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
