"""Tag runs over HTTP: progress events to the end, errors as they happen, cancel, the plugin
kept loaded between runs, results in the store, uploads. The probe test plugin stands in for
a model (no torch); the browser test tags with the real demo model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient


@pytest.fixture
def probe_only(test_plugins, config_file: Path) -> Path:
    """Runs use the probe plugin only (siglip switched off in the config file)."""
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        "[plugins.siglip]\nenabled = false\n[plugins.probe]\nenabled = true\n", encoding="utf-8"
    )
    return config_file


def _events(client: TestClient, after: int) -> list[dict]:
    """Follow the run's event stream until its end event (the server closes it there)."""
    events = []
    with client.stream("GET", f"/api/tag/events?after={after}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events[-1]["type"] == "end"
    return events


def _start(client: TestClient, folder: Path, **extra) -> dict:
    response = client.post("/api/tag", json={"folder": str(folder), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_run_reports_progress_and_errors_and_fills_the_library(
    client, probe_only, make_image, corrupt_image, probe_log
) -> None:
    folder = corrupt_image.parent
    for i in range(3):
        make_image(f"p{i}.png", (40 * i, 90, 200))
    started = _start(client, folder)
    events = _events(client, started["after"])
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and events[0]["total"] == 4
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["done"] for e in progress] == [1, 2, 3, 4]
    assert all(e["total"] == 4 and e["rate"] >= 0 for e in progress)
    errors = [e for e in events if e["type"] == "error"]
    assert [Path(e["file"]).name for e in errors] == ["corrupt.jpg"]
    assert "corrupt.jpg" in errors[0]["message"]
    # The error is reported as it happens, before the run's end.
    assert kinds.index("error") < kinds.index("end")
    assert events[-1] == {**events[-1], "tagged": 3, "failed": 1, "cancelled": False}

    library = client.get("/api/library").json()
    assert library["total"] == 3
    assert {Path(item["path"]).name for item in library["items"]} == {"p0.png", "p1.png", "p2.png"}
    assert all(item["tags"][0]["label"] == "probe" for item in library["items"])
    photo = client.get("/api/photo", params={"path": library["items"][0]["path"]}).json()
    assert photo["records"][0]["plugin"] == "probe" and photo["sidecar"] is None
    thumb = client.get("/api/thumb", params={"path": library["items"][0]["path"]})
    assert thumb.status_code == 200


def test_the_plugin_stays_loaded_between_runs(client, probe_only, make_image, probe_log):
    root = make_image("seed.png").parent.parent
    one, two = root / "first", root / "second"
    make_image("a.png", (10, 10, 10), folder=one)
    make_image("b.png", (200, 10, 10), folder=two)
    _events(client, _start(client, one)["after"])
    _events(client, _start(client, two)["after"])
    log = probe_log()
    assert log.count("init") == 1  # constructed once: the second run reused it
    assert log.count("close") == 0  # and nothing released it between runs
    assert log.count("tag 1") == 2  # both runs tagged their image


def test_cancel_stops_the_run_after_the_image_in_progress(
    client, probe_only, make_image, config_file: Path, gui_state
) -> None:
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write("sleep_ms = 300\nbatch = 1\n")
    for i in range(8):
        folder = make_image(f"s{i}.png", (i, i, i)).parent
    started = _start(client, folder)
    # (The test client hands over a streamed body only when it ends: watch the run itself.)
    runs = gui_state.runs
    for _ in range(600):
        if any(e["type"] == "progress" for e in runs.events):
            break
        runs.wait(0.05)
    assert client.post("/api/tag/cancel").json() == {"cancelled": True}
    end = _events(client, started["after"])[-1]
    assert end["cancelled"] is True
    assert 1 <= end["tagged"] < 8
    assert client.get("/api/library").json()["total"] == end["tagged"]  # what finished is kept
    assert client.post("/api/tag/cancel").json() == {"cancelled": False}  # nothing runs now


def test_runs_that_cannot_start_say_why(client, probe_only, tmp_path: Path, make_image):
    cases = {
        "": "type the path of a folder",
        "relative/photos": "give the full path",
        str(tmp_path / "missing"): "does not exist",
    }
    (tmp_path / "empty").mkdir()
    cases[str(tmp_path / "empty")] = "no images found"
    for folder, message in cases.items():
        response = client.post("/api/tag", json={"folder": folder})
        assert response.status_code == 400, folder
        assert message in response.json()["error"], folder


def test_a_bad_setting_in_the_config_stops_the_run_with_its_message(client, probe_only, make_image):
    probe_only.write_text("[plugins.probe]\nenabled = true\nmode = 'loud'\n", encoding="utf-8")
    folder = make_image("a.png").parent
    response = client.post("/api/tag", json={"folder": str(folder)})
    assert response.status_code == 400
    assert "mode = 'loud' is not valid" in response.json()["error"]


def test_dropped_files_are_saved_and_tagged(client, probe_only, gui_state, make_image) -> None:
    photo = make_image("drop me.png", (250, 250, 0))
    response = client.post(
        "/api/upload",
        files=[
            ("files", ("../../drop me.png", photo.read_bytes(), "image/png")),
            ("files", ("notes.txt", b"not an image", "text/plain")),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["files"] == 1
    saved = Path(body["folder"])
    assert saved.parent == gui_state.upload_dir  # the name's path parts were dropped
    assert sorted(p.name for p in saved.iterdir()) == ["drop me.png"]
    events = _events(client, body["after"])
    assert events[-1]["tagged"] == 1
    only_text = client.post("/api/upload", files=[("files", ("a.txt", b"x", "text/plain"))])
    assert only_text.status_code == 400


def test_a_run_can_write_xmp_sidecars_and_the_photo_shows_them(client, probe_only, make_image):
    assert client.get("/api/tag/status").json()["xmp"] is False  # images.xmp.write default
    photo = make_image("side.png", (0, 120, 255))
    events = _events(client, _start(client, photo.parent, xmp=True)["after"])
    assert events[-1]["tagged"] == 1
    sidecar = photo.parent / "side.png.xmp"
    assert sidecar.exists()
    shown = client.get("/api/photo", params={"path": str(photo)}).json()["sidecar"]
    assert shown["path"] == str(sidecar)
    assert "probe" in shown["keywords"]


def test_new_settings_load_a_new_plugin_and_free_the_old_one(
    client, probe_only, make_image, probe_log
) -> None:
    root = make_image("seed.png").parent.parent
    one, two = root / "one", root / "two"
    make_image("a.png", (10, 10, 10), folder=one)
    make_image("b.png", (200, 10, 10), folder=two)
    _events(client, _start(client, one)["after"])
    saved = client.post("/api/settings/probe", json={"values": {"label": "renamed"}})
    assert saved.status_code == 200
    # Reading the config (the Tag page's status, a search) frees nothing.
    assert client.get("/api/tag/status").status_code == 200
    assert (probe_log().count("init"), probe_log().count("close")) == (1, 0)
    events = _events(client, _start(client, two)["after"])
    assert events[-1]["tagged"] == 1
    assert (probe_log().count("init"), probe_log().count("close")) == (2, 1)
    library = client.get("/api/library").json()["items"]
    labels = {Path(i["path"]).name: i["tags"][0]["label"] for i in library}
    assert labels == {"a.png": "probe", "b.png": "renamed"}


def test_one_run_at_a_time(client, probe_only, make_image, config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write("sleep_ms = 200\nbatch = 1\n")
    for i in range(4):
        folder = make_image(f"w{i}.png", (i, 50, 50)).parent
    started = _start(client, folder)
    again = client.post("/api/tag", json={"folder": str(folder)})
    assert again.status_code == 409
    assert "a run is in progress" in again.json()["error"]
    status = client.get("/api/tag/status").json()
    assert (status["running"], status["after"]) == (True, started["after"])
    assert client.post("/api/tag/cancel").json() == {"cancelled": True}
    assert _events(client, started["after"])[-1]["cancelled"] is True
