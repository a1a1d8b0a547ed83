"""Which files the GUI reads: only inside chosen folders; renditions decoded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from visual_buffet.gui.security import FileGate, FileRefused
from visual_buffet.gui.thumbnails import Renditions


@pytest.fixture
def chosen(tmp_path: Path, make_image) -> Path:
    """A chosen folder with a photo, a secret file beside it, and links in and out."""
    folder = tmp_path / "photos"
    make_image("in.png", (200, 10, 10), size=(80, 60), folder=folder)
    secret = tmp_path / "secret.png"
    make_image("secret.png", (1, 2, 3), folder=tmp_path)
    (folder / "link-out.png").symlink_to(secret)
    (folder / "link-in.png").symlink_to(folder / "in.png")
    return folder


def test_the_gate_lets_through_only_files_inside_chosen_folders(chosen: Path) -> None:
    gate = FileGate([chosen])
    assert gate.check(str(chosen / "in.png")) == (chosen / "in.png").resolve()
    assert gate.check(str(chosen / "link-in.png")) == (chosen / "in.png").resolve()
    refused = {
        "dot-dot": str(chosen / ".." / "secret.png"),
        "absolute elsewhere": str(chosen.parent / "secret.png"),
        "relative": "photos/in.png",
        "symlink out": str(chosen / "link-out.png"),
        "system file": "/etc/passwd",
        "a folder": str(chosen),
    }
    for what, raw in refused.items():
        with pytest.raises(FileRefused):
            gate.check(raw)
            pytest.fail(what)
    with pytest.raises(FileNotFoundError):
        gate.check(str(chosen / "missing.png"))


def test_http_file_requests_stay_inside_chosen_folders(client: TestClient, gui_state, chosen):
    gui_state.gate.add_root(chosen)
    ok = client.get("/api/thumb", params={"path": str(chosen / "in.png")})
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg"
    again = client.get("/api/thumb", params={"path": str(chosen / "in.png")})
    assert again.content == ok.content and gui_state.renditions.decoded == 1  # served from cache
    for raw in (
        str(chosen / ".." / "secret.png"),
        str(chosen.parent / "secret.png"),
        "../secret.png",
        str(chosen / "link-out.png"),
    ):
        for endpoint in ("/api/thumb", "/api/image", "/api/photo"):
            response = client.get(endpoint, params={"path": raw})
            assert response.status_code == 403, (endpoint, raw)
            assert response.headers["content-type"].startswith("application/json")


def test_a_thumbnail_is_decoded_once_and_redone_when_the_photo_changes(
    tmp_path: Path, make_image
) -> None:
    photo = make_image("p.png", (10, 200, 10), size=(900, 600))
    renditions = Renditions(tmp_path / "thumbs")
    first = renditions.get(photo, "thumb")
    again = renditions.get(photo, "thumb")
    assert first == again and renditions.decoded == 1
    from PIL import Image

    with Image.open(first) as thumb:
        assert max(thumb.size) == 320 and thumb.format == "JPEG"
    make_image("p.png", (10, 10, 200), size=(900, 600))
    os.utime(photo, ns=(first.stat().st_mtime_ns + 10**9,) * 2)
    assert renditions.get(photo, "thumb") != first and renditions.decoded == 2


def test_a_library_store_that_cannot_open_is_a_message(client, gui_state, tmp_path) -> None:
    gui_state.library_path = tmp_path  # a folder, not a store file
    response = client.get("/api/library")
    assert response.status_code == 503
    assert f"library store {tmp_path} is a folder" in response.json()["error"]
