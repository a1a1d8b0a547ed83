"""The Settings panels: built from the plugin's schema, saved like `config set`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import one_line


def _labels(panel: dict, section: str) -> list[str]:
    found = next(s for s in panel["sections"] if s["id"] == section)
    return [setting["label"] for setting in found["settings"]]


def test_the_siglip_panel_has_the_reference_controls_in_order(client: TestClient) -> None:
    panel = client.get("/api/settings/siglip").json()
    assert [s["heading"] for s in panel["sections"]] == ["", "Advanced", "More settings"]
    assert _labels(panel, "main") == [
        "Model variant",
        "Quality",
        "Threshold",
        "Limit",
        "Quantization",
    ]
    assert _labels(panel, "advanced") == [
        "Attention implementation",
        "Data type",
        "Custom vocabulary path",
    ]
    settings = {s["key"]: s for section in panel["sections"] for s in section["settings"]}
    threshold = settings["threshold"]
    assert (threshold["widget"], threshold["min"], threshold["max"]) == ("range", 0.001, 0.1)
    assert settings["max_tags"]["widget"] == "number" and settings["max_tags"]["min"] == 0
    assert settings["quality"]["choices"] == ["quick", "standard", "high", "max"]
    assert "demo" in settings["variant"]["choices"]
    assert settings["quality"]["value"] == "standard" and settings["quality"]["source"] == "default"
    assert "enabled" in settings and "max_candidates" in settings  # the plugin's other settings


def test_a_third_party_plugin_gets_a_panel_without_gui_code(client, test_plugins) -> None:
    names = [p["name"] for p in client.get("/api/plugins").json()["plugins"]]
    assert "probe" in names and "broken" not in names  # a plugin that cannot import has none
    panel = client.get("/api/settings/probe").json()
    settings = {s["key"]: s for section in panel["sections"] for s in section["settings"]}
    assert settings["mode"]["widget"] == "select"
    assert settings["deep.level"] == {**settings["deep.level"], "min": 1, "max": 3}
    assert settings["deep.level"]["label"] == "Deep level"


def test_save_writes_the_config_file(client: TestClient, config_file: Path) -> None:
    response = client.post(
        "/api/settings/siglip", json={"values": {"quality": "quick", "threshold": "0.042"}}
    )
    assert response.status_code == 200, response.text
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert data["plugins"]["siglip"] == {"quality": "quick", "threshold": 0.042}
    panel = client.get("/api/settings/siglip").json()
    settings = {s["key"]: s for section in panel["sections"] for s in section["settings"]}
    assert settings["threshold"]["value"] == "0.042"
    assert settings["threshold"]["source"].startswith("config file")


def test_an_invalid_value_gives_the_cli_message_and_writes_nothing(
    client: TestClient, config_file: Path, cli
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("# mine\n[plugins.siglip]\nlimit = 7\n", encoding="utf-8")
    before = config_file.read_bytes()
    response = client.post(
        "/api/settings/siglip", json={"values": {"quality": "quick", "max_tags": "-5"}}
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert config_file.read_bytes() == before  # not even the valid quality
    result = cli("config", "set", "--", "plugins.siglip.max_tags", "-5")
    assert result.exit_code == 2
    assert one_line(result.stderr) == f"error: {message}"
    assert config_file.read_bytes() == before


def test_save_replaces_an_alias_spelling_like_config_set(client, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.siglip]\nlimit = 7\n", encoding="utf-8")
    assert client.post("/api/settings/siglip", json={"values": {"max_tags": "12"}}).is_success
    assert tomllib.loads(config_file.read_text())["plugins"]["siglip"] == {"max_tags": 12}


def test_clearing_a_path_setting_removes_it(client, config_file: Path) -> None:
    assert client.post(
        "/api/settings/siglip", json={"values": {"custom_vocabulary": "~/tags.txt"}}
    ).is_success
    assert "custom_vocabulary" in tomllib.loads(config_file.read_text())["plugins"]["siglip"]
    assert client.post(
        "/api/settings/siglip", json={"values": {"custom_vocabulary": ""}}
    ).is_success
    assert "plugins" not in tomllib.loads(config_file.read_text())


def test_unknown_plugin_and_bad_body(client: TestClient) -> None:
    assert client.get("/api/settings/nope").status_code == 404
    assert client.post("/api/settings/siglip", json={"values": {"quality": 3}}).status_code == 400
    response = client.post("/api/settings/siglip", json={"values": {"qualty": "quick"}})
    assert response.status_code == 400
    assert "did you mean 'quality'" in response.json()["error"].lower()
