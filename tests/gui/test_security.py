"""HTTP-level security of the GUI server: Host, token, CSRF, files, upload size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.gui.conftest import BASE


def test_the_printed_url_trades_its_token_for_a_cookie(client: TestClient) -> None:
    # The fixture opened /?token=...: the redirect set the cookie; the page now loads.
    page = client.get("/")
    assert page.status_code == 200
    assert 'name="csrf-token"' in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_the_token_cookie_is_http_only_and_same_site_strict(anonymous, gui_state) -> None:
    response = anonymous.get(f"/?token={gui_state.token}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"  # the token leaves the address bar
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_without_the_token_nothing_is_read(anonymous: TestClient) -> None:
    for path in ("/", "/static/app.js", "/api/plugins", "/api/settings/siglip", "/api/library"):
        response = anonymous.get(path)
        assert response.status_code == 403, path
        assert "csrf" not in response.text.lower(), path
    wrong = anonymous.get("/api/plugins", headers={"X-Visual-Buffet-Token": "guessed"})
    assert wrong.status_code == 403


def test_without_the_token_nothing_changes(anonymous, gui_state, config_file: Path) -> None:
    response = anonymous.post(
        "/api/settings/siglip",
        json={"values": {"quality": "quick"}},
        headers={"X-CSRF-Token": gui_state.csrf_token, "Origin": BASE},
    )
    assert response.status_code == 403
    assert not config_file.exists()


def test_a_foreign_host_is_refused_even_with_the_token(gui_state) -> None:
    from visual_buffet.gui.app import create_app
    from visual_buffet.gui.security import served_hosts

    app = create_app(gui_state, hosts=served_hosts("127.0.0.1", 8420))
    # DNS rebinding: evil.example resolves to 127.0.0.1 but the browser sends its own name.
    with TestClient(app, base_url="http://evil.example:8420") as rebound:
        response = rebound.get("/api/plugins", headers={"X-Visual-Buffet-Token": gui_state.token})
        assert response.status_code == 403
        assert "evil.example" in response.text
    with TestClient(app, base_url="http://localhost:8420") as local:
        response = local.get("/api/plugins", headers={"X-Visual-Buffet-Token": gui_state.token})
        assert response.status_code == 200


def test_a_foreign_origin_is_refused(client: TestClient, config_file: Path) -> None:
    response = client.post(
        "/api/settings/siglip",
        json={"values": {"quality": "quick"}},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert not config_file.exists()


def test_a_post_without_the_csrf_header_changes_nothing(client, config_file: Path) -> None:
    # The cookie alone is what a cross-site form post would carry.
    del client.headers["X-CSRF-Token"]
    response = client.post("/api/settings/siglip", json={"values": {"quality": "quick"}})
    assert response.status_code == 403
    assert "CSRF" in response.text
    bad = client.post(
        "/api/settings/siglip",
        json={"values": {"quality": "quick"}},
        headers={"X-CSRF-Token": "not-it"},
    )
    assert bad.status_code == 403
    assert not config_file.exists()


def test_only_get_and_post_are_answered(client: TestClient) -> None:
    assert client.put("/api/settings/siglip", json={}).status_code == 405
    assert client.delete("/api/settings/siglip").status_code == 405


def test_an_oversized_upload_is_refused_and_nothing_is_written(client, gui_state) -> None:
    big = b"\xff\xd8" + os.urandom(gui_state.max_upload)  # over the 64 KiB test bound
    response = client.post("/api/upload", files={"files": ("big.jpg", big, "image/jpeg")})
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert not gui_state.upload_dir.exists()


def test_static_files_do_not_escape_their_folder(client: TestClient) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2Fsecurity.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "def create_app" not in response.text


def test_websocket_connections_are_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/tag/events"):
        pass
