"""`visual-buffet retag` through the real CLI (subprocesses) on a tiny checkpoint."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.library.conftest import comparable, write_photos
from tests.search.conftest import jsonl


def _siglip(checkpoint, vocab, *extra):
    return ["-p", "siglip", "--set", f"model={checkpoint}", "--vocabulary", vocab, *extra]


def _same_tags(got: dict, want: dict) -> None:
    assert [t["label"] for t in got["tags"]] == [t["label"] for t in want["tags"]]
    assert [t["found_in"] for t in got["tags"]] == [t["found_in"] for t in want["tags"]]
    for mine, theirs in zip(got["tags"], want["tags"], strict=True):
        assert mine["confidence"] == pytest.approx(theirs["confidence"], abs=1e-6)


def test_retag_with_a_new_vocabulary_equals_a_fresh_forced_run(
    run_tag, vb, tiny_v1, vocab, tmp_path
) -> None:
    photos = write_photos(tmp_path / "photos", 3, size=(1600, 1200))
    library = tmp_path / "library.sqlite3"
    base = [*_siglip(tiny_v1, vocab, "--quality", "high"), "--library", library]
    first = run_tag(*photos, *base, "--threshold", "0")
    assert first.code == 0 and set(first.sources().values()) == {"model"}, first.stderr
    other = tmp_path / "other.txt"
    other.write_text("snow\nbicycle\nred car\nmountain\na bowl of soup\n", encoding="utf-8")
    new = [*base, "--vocabulary", other, "--threshold", "0.3"]

    done = vb("retag", *new[2:], "-f", "jsonl")  # --plugin given once is enough
    assert done.returncode == 0, done.stderr
    retagged = {r["file"]: r for r in jsonl(done.stdout)}
    assert sorted(retagged) == sorted(str(p) for p in photos)
    assert {r["tags_from"] for r in retagged.values()} == {"embeddings"}
    for record in retagged.values():  # this run's vocabulary and text cache, no stale timings
        assert record["model"]["text_cache"] == "miss"  # the new labels: the text tower ran
        assert not [key for key in record["model"] if key.endswith("_ms")], record["model"]
    assert any(r["tags"] for r in retagged.values())  # the threshold leaves something

    # Written back: `tag` with the same settings now emits the retag's records.
    stored = run_tag(*photos, *new)
    assert stored.code == 0 and set(stored.sources().values()) == {"store"}, stored.stderr
    fresh = run_tag(*photos, *new, "--force")
    assert fresh.code == 0 and set(fresh.sources().values()) == {"model"}, fresh.stderr
    for record in fresh.records:
        _same_tags(retagged[record["file"]], record)
        mine = retagged[record["file"]]["model"]
        assert mine["vocabulary_sha256"] == record["model"]["vocabulary_sha256"]
        assert comparable(stored.by_name()[record["file"].rsplit("/", 1)[1]]) == comparable(
            {**retagged[record["file"]], "error": None}
        )


def test_retag_works_when_the_files_are_gone(run_tag, vb, tiny_v1, vocab, tmp_path) -> None:
    folder = tmp_path / "drive" / "photos"
    photos = write_photos(folder, 4)
    (folder / "sub").mkdir()
    moved = folder / "sub" / "deep.jpg"
    photos[3].rename(moved)
    library = tmp_path / "library.sqlite3"
    args = [*_siglip(tiny_v1, vocab, "--quality", "quick"), "--library", library]
    first = run_tag(folder, "-r", *args)
    assert first.code == 0 and len(first.records) == 4, first.stderr
    shutil.rmtree(tmp_path / "drive")  # the drive is disconnected

    out = tmp_path / "retag.json"
    done = vb("retag", folder, *args, "--threshold", "0", "-o", out)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    files = [r["file"] for r in document["results"]]
    assert files == sorted([str(p) for p in photos[:3]] + [str(moved)])
    assert all(r["tags_from"] == "embeddings" and r["tags"] for r in document["results"])
    assert document["summary"]["tags_from"]["embeddings"] == 4

    # A file, a folder prefix (not a string prefix: .../sub does not select .../subway)
    done = vb("retag", moved, folder / "sub", *args, "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    assert [r["file"] for r in jsonl(done.stdout)] == [str(moved)]
    done = vb("retag", folder / "su", *args, "-f", "jsonl")
    assert done.returncode == 2, done.stderr
    assert "no image stored at or under" in " ".join(done.stderr.split())
    done = vb("retag", photos[0], tmp_path / "elsewhere", *args, "-f", "jsonl")
    assert done.returncode == 0 and len(jsonl(done.stdout)) == 1, done.stderr
    assert "elsewhere: no stored image there" in " ".join(done.stderr.split())


def test_retag_errors_exit_2(vb, tiny_v1, vocab, tmp_path) -> None:
    library = tmp_path / "library.sqlite3"
    args = [*_siglip(tiny_v1, vocab), "--library", library]
    done = vb("retag", *args)
    assert done.returncode == 2, done.stderr
    assert "holds no siglip embeddings yet" in " ".join(done.stderr.split())
    done = vb("retag", *args, "--threshold", "2")
    assert done.returncode == 2 and "threshold" in done.stderr
    assert "Traceback" not in done.stderr
