"""The config file: location, reading, precedence, every validation error, atomic writes."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from visual_buffet import atomic, paths
from visual_buffet.config import (
    HOST_SCHEMA,
    ConfigError,
    ConfigFile,
    load_config,
    save_config,
    split_key,
    unset_value,
)
from visual_buffet.settings import Schema, Setting

# --- location -----------------------------------------------------------------------------


def test_the_autouse_fixture_keeps_tests_out_of_the_user_dirs(tmp_path: Path) -> None:
    assert paths.config_path() == tmp_path / "user-config" / "config.toml"
    assert os.environ["VISUAL_BUFFET_CACHE_DIR"] in str(paths.cache_dir("x"))


def test_default_location_is_the_platform_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("VISUAL_BUFFET_CONFIG")
    monkeypatch.delenv("VISUAL_BUFFET_CACHE_DIR")
    expected = Path(platformdirs.user_config_dir("visual-buffet", appauthor=False))
    assert paths.config_path() == expected / "config.toml"
    cache = Path(platformdirs.user_cache_dir("visual-buffet", appauthor=False))
    assert paths.cache_dir("siglip") == cache / "siglip"


def test_config_path_command_env_and_flag(cli, config_file: Path, tmp_path: Path) -> None:
    assert cli("config", "path").stdout.strip() == str(config_file)
    other = tmp_path / "other.toml"
    assert cli("--config", other, "config", "path").stdout.strip() == str(other)


# --- reading ------------------------------------------------------------------------------


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.toml")
    assert not config.exists
    assert config.data == {}
    assert config.plugin_values("siglip") == {}


def test_reads_tables_as_flat_dotted_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[images]\nmax_pixels = 5\n[plugins.siglip]\nthreshold = 0.02\n"
        "[plugins.siglip.naflex]\nmax_num_patches = 512\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.host_values() == {"max_pixels": 5}
    assert config.plugin_values("siglip") == {
        "threshold": 0.02,
        "naflex.max_num_patches": 512,
    }
    assert config.source == f"config file {path}"


def test_malformed_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[plugins.probe]\nthreshold = 0.5\nlimit = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert "line 3, column" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"plugins = 3\n", "`plugins` must be a table"),
        (b"images = 'big'\n", "`images` must be a table"),
        (b"[plugins]\nprobe = 1\n", "`plugins.probe` must be a table"),
        (b"x = '\xff'\n", "is not UTF-8"),
    ],
)
def test_wrong_structure_is_a_config_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_unknown_top_level_keys_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("colour = 'blue'\n[images]\n[sigilp]\n", encoding="utf-8")
    assert load_config(path).unknown_top_level() == ["colour", "sigilp"]


# --- dotted keys --------------------------------------------------------------------------

PROBE = Schema(
    "probe",
    [
        Setting("threshold", "float", 0.1, ""),
        Setting("max_tags", "int", 5, "", aliases=("limit",)),
        Setting("deep.level", "int", 1, ""),
    ],
)


def test_split_key_maps_to_schema_setting_and_toml_path() -> None:
    schema, setting, path = split_key("plugins.probe.threshold", {"probe": PROBE})
    assert (schema, setting.name, path) == (PROBE, "threshold", ["plugins", "probe", "threshold"])
    _, setting, path = split_key("plugins.probe.deep.level", {"probe": PROBE})
    assert path == ["plugins", "probe", "deep", "level"]
    schema, setting, path = split_key("images.max_pixels", {})
    assert schema is HOST_SCHEMA
    assert path == ["images", "max_pixels"]


def test_split_key_writes_an_alias_under_the_settings_own_name() -> None:
    _, setting, path = split_key("plugins.probe.limit", {"probe": PROBE})
    assert setting.name == "max_tags"
    assert path == ["plugins", "probe", "max_tags"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("threshold", "is not a setting"),
        ("plugins.probe", "is not a setting"),
        ("plugins.nope.threshold", "no plugin named 'nope' is installed"),
        ("plugins.probe.treshold", "Did you mean 'threshold'?"),
        ("images.max_pixel", "Did you mean 'max_pixels'?"),
    ],
)
def test_split_key_rejects_unknown_keys(key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_key(key, {"probe": PROBE})


def test_unset_value_drops_tables_that_become_empty() -> None:
    data = {"plugins": {"probe": {"deep": {"level": 2}}, "other": {"x": 1}}}
    assert unset_value(data, ["plugins", "probe", "deep", "level"])
    assert data == {"plugins": {"other": {"x": 1}}}
    assert not unset_value(data, ["plugins", "probe", "threshold"])


# --- atomic writes ------------------------------------------------------------------------


def test_save_keeps_every_other_key_and_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "top = 'kept'\n[images]\nmax_pixels = 7\n"
        "[plugins.a]\nx = 1\n[plugins.b.deep]\ny = [1, 2]\n",
        encoding="utf-8",
    )
    config = load_config(path)
    config.data["plugins"]["a"]["x"] = 2
    save_config(config)
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "top": "kept",
        "images": {"max_pixels": 7},
        "plugins": {"a": {"x": 2}, "b": {"deep": {"y": [1, 2]}}},
    }


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[plugins.a]\nx = 1\n", encoding="utf-8")
    config = load_config(path)
    config.data["plugins"]["a"]["x"] = 2

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_config(config)
    assert path.read_text(encoding="utf-8") == "[plugins.a]\nx = 1\n"
    assert list(tmp_path.iterdir()) == [path]


def test_save_keeps_the_file_mode_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("a = 1\n", encoding="utf-8")
    path.chmod(0o600)
    save_config(ConfigFile(path, {"a": 2}, exists=True))
    assert path.stat().st_mode & 0o777 == 0o600
    nested = tmp_path / "new" / "dir" / "c.toml"
    save_config(ConfigFile(nested, {"a": 1}))
    assert tomllib.loads(nested.read_text(encoding="utf-8")) == {"a": 1}


# --- `visual-buffet config ...` -------------------------------------------------------------


@pytest.fixture
def probe_only(test_plugins, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISUAL_BUFFET_PLUGINS", "probe")


def test_config_set_get_unset_round_trip(cli, probe_only, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("# mine\nother = 'kept'\n[plugins.x]\ny = 1\n", encoding="utf-8")

    result = cli("config", "set", "plugins.probe.threshold", "0.25")
    assert result.exit_code == 0, result.output
    assert cli("config", "get", "plugins.probe.threshold").stdout.strip() == "0.25"
    result = cli("config", "set", "plugins.probe.deep.level", "3")
    assert result.exit_code == 0, result.output
    assert cli("config", "set", "images.include_hidden", "yes").exit_code == 0
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert data == {
        "other": "kept",
        "plugins": {"x": {"y": 1}, "probe": {"threshold": 0.25, "deep": {"level": 3}}},
        "images": {"include_hidden": True},
    }
    assert "threshold = 0.25" in cli("config", "show").stdout

    result = cli("config", "unset", "plugins.probe.deep.level")
    assert result.exit_code == 0
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert data["plugins"]["probe"] == {"threshold": 0.25}
    result = cli("config", "unset", "plugins.probe.deep.level")
    assert result.exit_code == 0
    assert "nothing to do" in result.stderr


def test_config_get_shows_the_default_when_unset(cli, probe_only) -> None:
    result = cli("config", "get", "plugins.probe.max_tags")
    assert result.stdout.strip() == "10"
    assert "default" in result.stderr
    # A setting without a default (TOML has no null) must not crash.
    result = cli("config", "get", "plugins.probe.notes")
    assert result.exit_code == 0
    assert result.stdout.strip() == "(not set)"


def test_config_set_by_alias_keeps_one_spelling(cli, probe_only, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nlimit = 3\n", encoding="utf-8")
    assert cli("config", "get", "plugins.probe.max_tags").stdout.strip() == "3"
    assert cli("config", "set", "plugins.probe.limit", "4").exit_code == 0
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert data == {"plugins": {"probe": {"max_tags": 4}}}
    assert cli("config", "unset", "plugins.probe.limit").exit_code == 0
    assert tomllib.loads(config_file.read_text(encoding="utf-8")) == {}


def test_config_set_types_the_value_by_the_schema(cli, probe_only, config_file: Path) -> None:
    for key, raw, expected in [
        ("plugins.probe.max_tags", "7", 7),
        ("plugins.probe.threshold", "1", 1.0),
        ("plugins.probe.enabled", "on", True),
        ("plugins.probe.mode", "VIEWS", "views"),
        ("plugins.probe.notes", "/tmp/n.txt", "/tmp/n.txt"),
        ("images.workers", "auto", "auto"),
    ]:
        assert cli("config", "set", key, raw).exit_code == 0
        node = tomllib.loads(config_file.read_text(encoding="utf-8"))
        for part in key.split("."):
            node = node[part]
        assert node == expected
        assert type(node) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("plugins.probe.threshold", "2", "plugins.probe.threshold = '2' is not valid"),
        ("plugins.probe.max_tags", "many", "Allowed: an integer >= 0"),
        ("plugins.probe.mode", "viewz", "did you mean 'views'"),
        ("plugins.probe.treshold", "0.1", "Did you mean 'threshold'?"),
        ("plugins.nope.threshold", "0.1", "no plugin named 'nope'"),
        ("images.max_pixels", "0", "below the minimum 1"),
        ("threshold", "0.1", "is not a setting"),
    ],
)
def test_config_set_rejects_bad_keys_and_values(
    cli, probe_only, config_file: Path, key: str, value: str, message: str
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nthreshold = 0.5\n", encoding="utf-8")
    result = cli("config", "set", key, value)
    assert result.exit_code == 2
    assert message in result.stderr
    assert config_file.read_text(encoding="utf-8") == "[plugins.probe]\nthreshold = 0.5\n"


def test_config_set_refuses_to_overwrite_a_malformed_file(
    cli, probe_only, config_file: Path
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe\n", encoding="utf-8")
    result = cli("config", "set", "plugins.probe.threshold", "0.2")
    assert result.exit_code == 2
    assert "line 1, column" in result.stderr
    assert config_file.read_text(encoding="utf-8") == "[plugins.probe\n"


def test_config_unset_removes_values_of_uninstalled_plugins(
    cli, probe_only, config_file: Path
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.gone]\nthreshold = 0.5\nkeep = 1\n", encoding="utf-8")
    assert cli("config", "unset", "plugins.gone.threshold").exit_code == 0
    assert tomllib.loads(config_file.read_text(encoding="utf-8")) == {
        "plugins": {"gone": {"keep": 1}}
    }
    # ...but a typo of an installed plugin's key is still an error.
    result = cli("config", "unset", "plugins.probe.treshold")
    assert result.exit_code == 2


def test_config_show_without_a_file(cli) -> None:
    result = cli("config", "show")
    assert result.exit_code == 0
    assert "defaults are in use" in result.stderr


# --- validation before a run: every error path, exit 2, no image read ----------------------


@pytest.mark.parametrize(
    ("toml", "args", "expected"),
    [
        # wrong type
        ('[plugins.probe]\nthreshold = "high"\n', [], "threshold = 'high' is not valid"),
        ("[plugins.probe]\nmax_tags = 2.5\n", [], "max_tags = 2.5 is not valid"),
        ('[plugins.probe]\nenabled = "maybe"\n', [], "Allowed: true or false"),
        ("[plugins.probe]\nlabel = 3\n", [], "expected a string, got int"),
        ('[plugins.probe]\nnotes = ""\n', [], "empty path"),
        # unknown choice
        ('[plugins.probe]\nmode = "viewz"\n', [], "did you mean 'views'"),
        # out of range, in the file and in [images]
        ("[plugins.probe]\nthreshold = 1.5\n", [], "above the maximum 1"),
        ("[plugins.probe.deep]\nlevel = 9\n", [], "deep.level = 9"),
        ("[images]\nmax_pixels = 0\n", [], "max_pixels = 0"),
        ('[images]\nworkers = "lots"\n', [], "Allowed: auto, or an integer from 1 to 32"),
        # bad values on the command line
        ("", ["--threshold", "abc"], "--threshold: threshold = 'abc'"),
        ("", ["--limit", "-2"], "--limit: max_tags = '-2'"),
        ("", ["--set", "mode=bad"], "--set: mode = 'bad'"),
        ("", ["--set", "probe.batch=0"], "--set: batch = '0'"),
        ("", ["--set", "images.workers=99"], "above the maximum 32"),
        ("", ["--set", "nonsense"], "expected KEY=VALUE"),
        ("", ["--set", "colour=red"], "has no setting 'colour'"),
        ("", ["--set", "images.max_pixel=5"], "Did you mean 'max_pixels'?"),
        ("", ["--quality", "max"], "--quality is not a setting of probe"),
        ("", ["--format", "xml"], "--format 'xml' is not valid"),
        # the file itself
        ("[plugins.probe]\nthreshold = \n", [], "line 2, column"),
        ("plugins = 1\n", [], "`plugins` must be a table"),
    ],
)
def test_a_bad_setting_exits_2_before_any_image_is_read(
    cli, probe_only, probe_log, config_file: Path, make_image, toml, args, expected
) -> None:
    image = make_image("a.png")
    config_file.parent.mkdir(parents=True)
    config_file.write_text(toml, encoding="utf-8")
    result = cli("tag", image, "--plugin", "probe", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    if toml and "line" not in expected and "table" not in expected:
        assert str(config_file) in result.stderr  # the message names the file
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert probe_log() == []  # not even constructed: nothing was loaded or read


def test_messages_name_key_value_file_and_what_is_allowed(
    cli, probe_only, probe_log, config_file: Path, make_image
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nthreshold = 1.5\n", encoding="utf-8")
    result = cli("tag", make_image("a.png"), "--plugin", "probe")
    assert result.stderr.strip() == (
        f"error: config file {config_file} [plugins.probe]: threshold = 1.5 is not valid "
        "(above the maximum 1). Allowed: a number from 0 to 1."
    )


def test_unknown_keys_and_tables_warn_but_run(
    cli, probe_only, probe_log, config_file: Path, make_image
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        "[plugins.probe]\nthreshhold = 0.5\n[imagez]\nx = 1\n[images]\nmax_pixel = 3\n",
        encoding="utf-8",
    )
    result = cli("tag", make_image("a.png"), "--plugin", "probe", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "unknown setting 'threshhold' for probe, ignored. Did you mean 'threshold'?" in (
        result.stderr
    )
    assert "unknown table or key 'imagez'" in result.stderr
    assert "unknown setting 'max_pixel' for images" in result.stderr
    assert "load" in probe_log()


# --- precedence -----------------------------------------------------------------------------


def _used_settings(cli, image: Path, *args: object) -> dict:
    result = cli("tag", image, "--plugin", "probe", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"][0]["settings"]


def test_precedence_flag_over_file_over_default(
    cli, probe_only, config_file: Path, make_image
) -> None:
    image = make_image("a.png")
    assert _used_settings(cli, image)["threshold"] == 0.0  # the plugin's default
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nthreshold = 0.3\nlimit = 2\n", encoding="utf-8")
    used = _used_settings(cli, image)
    assert (used["threshold"], used["max_tags"]) == (0.3, 2)
    used = _used_settings(cli, image, "--threshold", "0.6", "--limit", "1")
    assert (used["threshold"], used["max_tags"]) == (0.6, 1)
    used = _used_settings(cli, image, "--set", "threshold=0.7", "--set", "probe.label=hello")
    assert (used["threshold"], used["label"]) == (0.7, "hello")


def test_config_option_and_env_pick_the_file(
    cli, probe_only, config_file: Path, tmp_path: Path, make_image, monkeypatch
) -> None:
    image = make_image("a.png")
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nthreshold = 0.3\n", encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text("[plugins.probe]\nthreshold = 0.4\n", encoding="utf-8")
    assert _used_settings(cli, image)["threshold"] == 0.3
    result = cli("--config", other, "tag", image, "--plugin", "probe", "--format", "json")
    assert json.loads(result.stdout)["results"][0]["settings"]["threshold"] == 0.4
    monkeypatch.setenv("VISUAL_BUFFET_CONFIG", str(other))
    assert _used_settings(cli, image)["threshold"] == 0.4


def test_plugins_info_shows_values_and_their_source(cli, probe_only, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[plugins.probe]\nthreshold = 0.3\n", encoding="utf-8")
    info = json.loads(cli("plugins", "info", "probe", "--json").stdout)
    settings = {s["key"]: s for s in info["settings"]}
    assert settings["threshold"]["value"] == 0.3
    assert settings["threshold"]["source"] == f"config file {config_file} [plugins.probe]"
    assert settings["threshold"]["default"] == 0.0
    assert settings["threshold"]["allowed"] == "a number from 0 to 1"
    assert settings["threshold"]["flag"] == "--threshold"
    assert settings["max_tags"]["aliases"] == ["limit"]
    assert settings["max_tags"]["source"] == "default"
    assert settings["enabled"]["value"] is False
    assert info["config_file"] == str(config_file)


def test_enabled_false_switches_a_plugin_off(
    cli, test_plugins, config_file: Path, make_image, monkeypatch
) -> None:
    monkeypatch.setenv("VISUAL_BUFFET_PLUGINS", "probe,colors")
    image = make_image("a.png")
    result = cli("tag", image)
    assert result.exit_code == 2  # neither is enabled by default
    assert "no plugin is enabled" in result.stderr

    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        "[plugins.probe]\nenabled = true\n[plugins.colors]\nenabled = true\n", encoding="utf-8"
    )
    result = cli("tag", image, "--format", "json")
    assert {r["plugin"] for r in json.loads(result.stdout)["results"]} == {"probe", "colors"}

    assert cli("config", "set", "plugins.colors.enabled", "false").exit_code == 0
    result = cli("tag", image, "--format", "json")
    assert {r["plugin"] for r in json.loads(result.stdout)["results"]} == {"probe"}
    # --plugin names a plugin explicitly, enabled or not.
    result = cli("tag", image, "--format", "json", "--plugin", "colors")
    assert {r["plugin"] for r in json.loads(result.stdout)["results"]} == {"colors"}
