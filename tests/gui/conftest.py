"""GUI test set-up: a private data dir and library, an app behind its guard, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the gui extra is not installed")

from starlette.testclient import TestClient

from visual_buffet.gui.app import GuiState, create_app
from visual_buffet.gui.security import served_hosts

PORT = 8420
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(autouse=True)
def private_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data dir (library store, uploads) of this test only."""
    data = tmp_path / "data"
    monkeypatch.setenv("VISUAL_BUFFET_DATA_DIR", str(data))
    monkeypatch.setenv("VISUAL_BUFFET_LIBRARY", str(data / "library.sqlite"))
    return data


@pytest.fixture
def gui_state(config_file: Path, tmp_path: Path) -> GuiState:
    state = GuiState(config_path=config_file, library_path=tmp_path / "data" / "library.sqlite")
    state.upload_dir = tmp_path / "uploads"
    state.max_upload = 64 * 1024
    return state


@pytest.fixture
def app(gui_state: GuiState):  # type: ignore[no-untyped-def]
    return create_app(gui_state, hosts=served_hosts("127.0.0.1", PORT))


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client that has not presented the token."""
    with TestClient(app, base_url=BASE) as client:
        yield client


@pytest.fixture
def client(app, gui_state: GuiState) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client that opened the printed URL (so it holds the token cookie) and sends the
    CSRF header the page sends on every POST."""
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        response = client.get(f"/?token={gui_state.token}")
        assert response.status_code == 303
        client.headers["X-CSRF-Token"] = gui_state.csrf_token
        client.headers["Origin"] = BASE
        yield client
