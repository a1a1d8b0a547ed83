"""The store survives a real SIGKILL / SIGTERM mid-run and two runs at once; a resumed run
finishes only what is left, with the records an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.library.conftest import (
    assert_same_records,
    integrity,
    store_path,
    stored_results,
    write_photos,
)

PHOTOS = 80


def _args(checkpoint, vocab) -> list[str]:
    return [
        "-p",
        "siglip",
        "--set",
        f"model={checkpoint}",
        "--vocabulary",
        str(vocab),
        "--quality",
        "standard",
        "--threshold",
        "0",
    ]


def _start(plugin_site, *args: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath}
    return subprocess.Popen(
        [sys.executable, "-m", "visual_buffet", "tag", *map(str, args), "-f", "jsonl"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_mid_run_then_resumed_equals_an_uninterrupted_run(
    sig, plugin_site, run_tag, tiny_v1, vocab, tmp_path
) -> None:
    folder = tmp_path / "photos"
    write_photos(folder, PHOTOS)
    args = _args(tiny_v1, vocab)
    store = store_path(tmp_path)
    process = _start(plugin_site, folder, *args)
    deadline = time.monotonic() + 240
    while stored_results(store) < 3:  # some images committed: the run is mid-way
        assert process.poll() is None, f"the run ended before it could be killed: {process}"
        assert time.monotonic() < deadline, "no image was stored in time"
        time.sleep(0.02)
    process.send_signal(sig)
    process.wait(timeout=120)
    assert process.returncode == (-9 if sig == signal.SIGKILL else 143), process.stderr.read()
    kept = stored_results(store)
    assert 3 <= kept < PHOTOS, kept
    assert integrity(store) == "ok"

    resumed = run_tag(folder, *args)
    assert resumed.code == 0, resumed.stderr
    sources = list(resumed.sources().values())
    assert sources.count("store") == kept and sources.count("model") == PHOTOS - kept
    reference = run_tag(folder, *args, "--no-library")
    assert reference.code == 0, reference.stderr
    assert_same_records(resumed.records, reference.records)
    assert integrity(store) == "ok" and stored_results(store) == PHOTOS


def test_two_runs_on_one_store_at_once(plugin_site, run_tag, tiny_v1, vocab, tmp_path) -> None:
    folder = tmp_path / "photos"
    write_photos(folder, 30)
    args = _args(tiny_v1, vocab)
    first, second = _start(plugin_site, folder, *args), _start(plugin_site, folder, *args)
    for process in (first, second):
        process.wait(timeout=300)
        assert process.returncode == 0, process.stderr.read()
    store = store_path(tmp_path)
    assert integrity(store) == "ok"
    assert stored_results(store) == 30  # one result per image, whoever stored it last
    again = run_tag(folder, *args)
    assert set(again.sources().values()) == {"store"}
    reference = run_tag(folder, *args, "--no-library")
    assert_same_records(again.records, reference.records)
