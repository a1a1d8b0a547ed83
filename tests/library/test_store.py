"""The store file itself: migrations, errors a user can cause, forget / vacuum / stats, and
why embeddings are stored as float32."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.library.conftest import store_path, write_photos
from visual_buffet.library import open_library, schema


def _cli(plugin_site, *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath}
    return subprocess.run(
        [sys.executable, "-m", "visual_buffet", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _old_store(path: Path, photo: Path) -> None:
    """A store as schema version 1 wrote it, holding one colors result tagged ``old-tag``."""
    db = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(db, target=1) == 1
    record = {
        "file": str(photo),
        "plugin": "colors",
        "tags": [{"label": "old-tag", "confidence": 0.5}],
    }
    db.execute(
        "INSERT INTO images (id, content_hash, size, first_seen, last_seen) "
        "VALUES (1, 'h', 1, 0, 0)"
    )
    db.execute("INSERT INTO paths VALUES (?, 1, 1, 1, 0)", (str(photo),))
    db.execute("INSERT INTO identities VALUES ('d', 'result', 'colors', '{}')")
    db.execute("INSERT INTO results VALUES (1, 'colors', 'd', ?, 0)", (json.dumps(record),))
    db.close()


def test_an_older_store_is_migrated_and_keeps_its_results(plugin_site, tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    photo = write_photos(tmp_path / "photos", 1)[0]
    _old_store(path, photo)
    before = json.loads(_cli(plugin_site, "library", "stats", "--json", "--library", path).stdout)
    assert before["schema_version"] == 1 and before["images"] == 1  # read-only: not migrated
    done = _cli(plugin_site, "tag", photo, "-p", "colors", "--library", path, "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    with open_library(path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION == 2
        assert store.count_images(tag="old-tag") == 1  # migration 2 filled tags from records
        assert store.count_images() == 2  # the old image (hash 'h') and the real file
    with sqlite3.connect(path) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM migrations ORDER BY 1")]
    assert versions == [1, 2]


def test_store_errors_name_the_store_and_the_fix(plugin_site, tmp_path) -> None:
    photo = write_photos(tmp_path / "photos", 1)[0]
    tag = ("tag", photo, "-p", "colors", "-f", "jsonl")
    folder = _cli(plugin_site, *tag, "--library", tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    assert "Traceback" not in folder.stderr

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not sqlite" * 100)
    broken = _cli(plugin_site, *tag, "--library", garbage)
    assert broken.returncode == 2 and "not a Visual Buffet library store" in broken.stderr
    assert str(garbage) in " ".join(broken.stderr.split()) and "--no-library" in broken.stderr

    newer = tmp_path / "newer.sqlite3"
    open_library(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("INSERT INTO migrations VALUES (99, 'from the future', 0)")
    for command in (tag, ("library", "stats")):
        done = _cli(plugin_site, *command, "--library", newer)
        text = " ".join(done.stderr.split())
        assert done.returncode == 2, done.stderr
        assert "written by a newer Visual Buffet (schema version 99" in text
        assert "Upgrade visual-buffet" in text and "Traceback" not in text
    assert json.loads(_cli(plugin_site, "library", "stats", "--json").stdout)["exists"] is False


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_a_read_only_store_is_a_clear_error(plugin_site, tmp_path) -> None:
    photo = write_photos(tmp_path / "photos", 1)[0]
    path = tmp_path / "ro.sqlite3"
    open_library(path).close()
    path.chmod(0o444)
    done = _cli(plugin_site, "tag", photo, "-p", "colors", "--library", path)
    assert done.returncode == 2 and "cannot be written" in done.stderr


def test_forget_vacuum_and_stats(plugin_site, run_tag, tmp_path) -> None:
    photos = write_photos(tmp_path / "photos", 3)
    assert run_tag(*photos, "-p", "colors").code == 0
    assert _cli(plugin_site, "library", "path").stdout.strip() == str(store_path(tmp_path))
    stats = json.loads(_cli(plugin_site, "library", "stats", "--json").stdout)
    assert stats["images"] == 3 and stats["plugins"]["colors"]["records"] == 3
    text = _cli(plugin_site, "library", "stats").stdout
    assert "colors" in text and "3 images" in text
    forgot = _cli(plugin_site, "library", "forget", photos[0])
    assert forgot.returncode == 0 and "forgot 1 image(s)" in forgot.stderr
    again = run_tag(*photos, "-p", "colors")
    assert again.sources() == {"p000.jpg": "model", "p001.jpg": "store", "p002.jpg": "store"}
    forgot = _cli(plugin_site, "library", "forget", tmp_path / "photos")
    assert "forgot 3 image(s)" in forgot.stderr
    vacuumed = _cli(plugin_site, "library", "vacuum")
    assert vacuumed.returncode == 0 and " -> " in vacuumed.stderr
    assert json.loads(_cli(plugin_site, "library", "stats", "--json").stdout)["images"] == 0


def test_float16_would_move_siglip_scores_by_more_than_1e5() -> None:
    """Why embeddings are stored as float32: measured at SigLIP base's own scale and bias."""
    from visual_buffet.library.vectors import from_blob, to_blob
    from visual_buffet_siglip.scoring import normalise, probabilities

    rng = np.random.default_rng(0)
    text = normalise(rng.normal(size=(1000, 768)))
    # Views near some labels, as real photos are (cosines up to ~0.2 give SigLIP's 0.01-0.5).
    views = normalise(text[:64] * 0.2 + normalise(rng.normal(size=(64, 768))))
    scale, bias = float(np.exp(4.71)), -12.66  # google/siglip-base-patch16-224
    exact = probabilities(views, text, scale, bias)
    blob, dtype, dim = to_blob(views)
    stored = from_blob(blob, dtype, dim)
    assert np.array_equal(probabilities(stored, text, scale, bias), exact)  # float32: exact
    half = views.astype(np.float16).astype(np.float32)
    error = float(np.abs(probabilities(half, text, scale, bias) - exact).max())
    assert error > 1e-5, error


def test_a_store_that_cannot_be_written_stops_the_run_with_one_message(
    cli, test_plugins, tmp_path, monkeypatch
) -> None:
    """A full disk mid-run: one message naming the store, exit 1, what finished is kept."""
    from visual_buffet.library.store import LibraryStore

    photos = write_photos(tmp_path / "photos", 4)
    real = LibraryStore._put
    calls = []

    def full_after_two(self, db, item):  # type: ignore[no-untyped-def]
        calls.append(item)
        if len(calls) > 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, db, item)

    monkeypatch.setattr(LibraryStore, "_put", full_after_two)
    result = cli("tag", *photos, "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert message.count("database or disk is full") == 1
    assert str(store_path(tmp_path)) in message and "--no-library" in message
    assert "probe failed" not in message  # not mistaken for the plugin's failure
    assert len(result.stdout.splitlines()) == 2  # records follow the store: 2 committed
    monkeypatch.setattr(LibraryStore, "_put", real)
    with open_library(store_path(tmp_path)) as store:
        assert store.count_images() == 2
