"""A rerun resumes from the library store: stored records, re-scored embeddings, the model
only for the rest. Everything through the real CLI in subprocesses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from tests.library.conftest import (
    assert_same_records,
    comparable,
    integrity,
    store_path,
    write_photos,
)


def _siglip(checkpoint, vocab, *extra):
    return ["-p", "siglip", "--set", f"model={checkpoint}", "--vocabulary", vocab, *extra]


def test_a_rerun_emits_stored_records_without_importing_torch(run_tag, tmp_path) -> None:
    photos = write_photos(tmp_path / "photos", 4)
    first = run_tag(*photos, "--variant", "demo", "--quality", "standard")
    assert first.code == 0, first.stderr
    assert set(first.sources().values()) == {"model"}
    again = run_tag(*photos, "--variant", "demo", "--quality", "standard", report=True)
    assert again.code == 0, again.stderr
    assert again.heavy == [], f"a fully stored rerun imported {again.heavy}"
    assert again.numpy is False  # nor NumPy: its start-up is the whole cost of a rerun
    assert set(again.sources().values()) == {"store"}
    for name, record in again.by_name().items():
        original = dict(first.by_name()[name])
        assert {**record, "tags_from": "model"} == original  # the stored record as it was
    assert "4 from the library store" in " ".join(again.stderr.split())
    assert integrity(store_path(tmp_path)) == "ok"


def test_other_settings_are_rescored_equal_to_a_fresh_run(run_tag, tiny_v1, vocab, tmp_path):
    photos = write_photos(tmp_path / "photos", 3, size=(1600, 1200))
    base = _siglip(tiny_v1, vocab, "--quality", "high")
    first = run_tag(*photos, *base, "--threshold", "0", "--limit", "0")
    assert first.code == 0 and set(first.sources().values()) == {"model"}, first.stderr
    other = tmp_path / "other.txt"
    other.write_text("snow\nbicycle\nred car\nmountain\n", encoding="utf-8")
    for changed in (
        ["--threshold", "0.45", "--limit", "0"],
        ["--threshold", "0", "--limit", "2"],
        ["--threshold", "0", "--limit", "0", "--vocabulary", other],
        ["--threshold", "0", "--limit", "0", "--set", "max_candidates=3"],
    ):
        rescored = run_tag(*photos, *base, *changed, report=True)
        assert rescored.code == 0, rescored.stderr
        assert set(rescored.sources().values()) == {"embeddings"}, changed
        fresh = run_tag(*photos, *base, *changed, "--no-library")
        assert fresh.code == 0 and set(fresh.sources().values()) == {"model"}
        for name, record in rescored.by_name().items():
            expected = fresh.by_name()[name]
            assert [t["label"] for t in record["tags"]] == [t["label"] for t in expected["tags"]]
            assert [t["found_in"] for t in record["tags"]] == [
                t["found_in"] for t in expected["tags"]
            ]
            for got, want in zip(record["tags"], expected["tags"], strict=True):
                assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-6)
        if "--vocabulary" not in changed and "max_candidates=3" not in changed:
            # Same labels: their text embeddings are cached, so no model and no torch at all.
            assert rescored.heavy == [], f"re-scoring imported {rescored.heavy}"
        if changed[1] == "0.45":
            again = run_tag(*photos, *base, *changed)  # the re-scored result is now stored
            assert set(again.sources().values()) == {"store"}


def test_renamed_file_is_recognised_and_edited_file_is_tagged_again(
    run_tag, tiny_v1, vocab, tmp_path
) -> None:
    folder = tmp_path / "photos"
    photos = write_photos(folder, 3)
    args = _siglip(tiny_v1, vocab, "--quality", "quick", "--threshold", "0")
    first = run_tag(folder, *args)
    assert first.code == 0, first.stderr
    photos[0].rename(folder / "renamed.jpg")
    Image.new("RGB", (640, 480), (250, 10, 10)).save(photos[1], quality=90)  # edited
    second = run_tag(folder, *args)
    assert second.code == 0, second.stderr
    assert second.sources() == {"renamed.jpg": "store", "p001.jpg": "model", "p002.jpg": "store"}
    assert (
        comparable(second.by_name()["renamed.jpg"])["tags"]
        == (comparable(first.by_name()["p000.jpg"])["tags"])
    )
    assert second.by_name()["p001.jpg"]["tags"] != first.by_name()["p001.jpg"]["tags"]
    with sqlite3.connect(store_path(tmp_path)) as db:
        paths = dict(db.execute("SELECT path, image_id FROM paths").fetchall())
        images = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    # The renamed file is the same image under two paths; the edited one is a new image.
    assert paths[str(folder / "renamed.jpg")] == paths[str(folder / "p000.jpg")]
    assert images == 4
    third = run_tag(folder, *args)
    assert set(third.sources().values()) == {"store"}


def test_force_tags_again_and_no_library_keeps_nothing(run_tag, tiny_v1, vocab, tmp_path):
    photos = write_photos(tmp_path / "photos", 2)
    args = _siglip(tiny_v1, vocab, "--quality", "quick")
    nothing = run_tag(*photos, *args, "--no-library")
    assert nothing.code == 0 and set(nothing.sources().values()) == {"model"}
    assert not (tmp_path / "user-data").exists()  # no store, no folder
    assert run_tag(*photos, *args).code == 0
    forced = run_tag(*photos, *args, "--force")
    assert forced.code == 0 and set(forced.sources().values()) == {"model"}
    assert_same_records(forced.records, nothing.records)
    contradiction = run_tag(*photos, *args, "--no-library", "--library", tmp_path / "x.db")
    assert contradiction.code == 2 and "contradict" in contradiction.stderr


def test_the_example_plugin_v1_gets_stored_results(run_tag, tmp_path) -> None:
    photos = write_photos(tmp_path / "photos", 3)
    first = run_tag(*photos, "-p", "colors")
    assert first.code == 0 and set(first.sources().values()) == {"model"}, first.stderr
    again = run_tag(*photos, "-p", "colors")
    assert set(again.sources().values()) == {"store"}
    assert [comparable(r) for r in again.records] == [comparable(r) for r in first.records]
    changed = run_tag(*photos, "-p", "colors", "--set", "palette=basic")  # no embeddings
    assert set(changed.sources().values()) == {"model"}


def test_the_summary_counts_where_tags_came_from(run_tag, tiny_v1, vocab, tmp_path) -> None:
    photos = write_photos(tmp_path / "photos", 3)
    args = _siglip(tiny_v1, vocab, "--quality", "quick")
    assert run_tag(*photos[:2], *args).code == 0  # p000, p001 through the model
    assert run_tag(photos[0], *args, "--threshold", "0.3").code == 0  # p000 re-scored
    done = run_tag(*photos, *args, "--threshold", "0.3", fmt="json")
    assert done.code == 0, done.stderr
    assert done.sources() == {"p000.jpg": "store", "p001.jpg": "embeddings", "p002.jpg": "model"}
    assert done.summary["tags_from"] == {"model": 1, "store": 1, "embeddings": 1}


def test_the_plugin_loads_only_when_an_image_needs_it(cli, test_plugins, probe_log, tmp_path):
    photos = write_photos(tmp_path / "photos", 3)
    assert cli("tag", *photos[:2], "-p", "probe", "-f", "jsonl").exit_code == 0
    assert probe_log().count("load") == 1
    stored = cli("tag", *photos[:2], "-p", "probe", "-f", "jsonl")
    assert stored.exit_code == 0
    assert probe_log().count("load") == 1  # every image stored: never loaded, never closed
    assert probe_log().count("close") == 1
    mixed = cli("tag", *photos, "-p", "probe", "-f", "jsonl")
    assert mixed.exit_code == 0
    assert probe_log().count("load") == 2  # one new image: loaded once, before any record
    assert [e for e in probe_log() if e.startswith("prepare")][-1] == "prepare p002.jpg"


def test_files_go_in_chunks_each_planned_and_tagged_in_turn(
    cli, test_plugins, probe_log, tmp_path, monkeypatch
) -> None:
    """A first run over many photos starts tagging after one chunk's hashes, not all."""
    import json

    monkeypatch.setattr("visual_buffet.tagging.CHUNK_FILES", 2)
    photos = write_photos(tmp_path / "photos", 5)
    assert cli("tag", photos[1], photos[3], "-p", "probe").exit_code == 0
    result = cli("tag", *photos, "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 0, result.output
    order = [
        (Path(r["file"]).name, r["tags_from"]) for r in map(json.loads, result.stdout.splitlines())
    ]
    # Chunks (p000, p001), (p002, p003), (p004): stored first within each chunk.
    assert order == [
        ("p001.jpg", "store"),
        ("p000.jpg", "model"),
        ("p003.jpg", "store"),
        ("p002.jpg", "model"),
        ("p004.jpg", "model"),
    ]
    assert probe_log().count("load") == 2  # once per run that needed it, not per chunk
