"""The host CLI: plugin discovery through entry-point metadata, flags, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visual_buffet import __version__
from visual_buffet.discovery import discover_plugins
from visual_buffet.pipeline import PluginRunError, run_plugin
from visual_buffet.plugin_api import ENTRY_POINT_GROUP, ImageTags, Plugin, Tag

# --- discovery ------------------------------------------------------------------------------


def test_discovery_reads_real_entry_point_metadata(test_plugins) -> None:
    plugins = discover_plugins()
    assert {"probe", "broken", "colors", "siglip"} <= set(plugins)
    probe = plugins["probe"]
    assert probe.ok
    assert probe.target == "vb_probe:ProbePlugin"
    assert (probe.distribution, probe.distribution_version) == ("vb-test-plugins", "0.0.1")
    assert [s.name for s in probe.schema][:2] == ["enabled", "threshold"]  # host adds enabled
    assert list(plugins) == sorted(plugins)


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(test_plugins) -> None:
    broken = discover_plugins()["broken"]
    assert not broken.ok
    assert broken.error == (
        "failed to import vb_broken:BrokenPlugin: ImportError: "
        "vb_broken needs the 'libfoo' package: pip install libfoo"
    )
    assert "Traceback" in broken.error_details
    assert broken.to_dict()["status"] == "error"


def test_misfit_plugins_are_reported(register_plugins) -> None:
    register_plugins(
        "vb-misfits",
        {
            "notaplugin": "vb_probe:NotAPlugin",
            "misnamed": "vb_probe:MisnamedPlugin",
            "unfinished": "vb_probe:UnfinishedPlugin",
            "missing": "vb_probe:NoSuchClass",
            "ownflag": "vb_probe:OwnFlagPlugin",
        },
    )
    plugins = discover_plugins()
    assert "not a visual_buffet.plugin_api.Plugin subclass" in plugins["notaplugin"].error
    assert "declares name 'other' but is registered as 'misnamed'" in plugins["misnamed"].error
    assert "does not implement tag()" in plugins["unfinished"].error
    assert "AttributeError" in plugins["missing"].error
    assert "speed are not host flags" in plugins["ownflag"].error
    assert plugins["probe"].ok


def test_allow_list_env_var_loads_only_the_named_plugins(test_plugins, monkeypatch) -> None:
    monkeypatch.setenv("VISUAL_BUFFET_PLUGINS", " probe , colors ")
    assert set(discover_plugins()) == {"probe", "colors"}


# --- plugins list / info / setup ------------------------------------------------------------


def test_plugins_list_in_a_subprocess_shows_the_broken_one_and_the_rest(cli_subprocess) -> None:
    done = cli_subprocess("plugins", "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = {p["name"]: p for p in json.loads(done.stdout)}
    assert listed["broken"]["status"] == "error"
    assert "libfoo" in listed["broken"]["error"]
    assert listed["probe"]["status"] == "ok"
    assert listed["probe"]["version"] == "9.9"
    assert listed["colors"]["distribution"] == "visual-buffet-example-tagger"
    assert listed["siglip"]["status"] == "ok"

    table = cli_subprocess("plugins", "list")
    assert table.returncode == 0
    lines = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
    assert "error: failed to import vb_broken:BrokenPlugin" in lines["broken"]
    assert " ok " in lines["probe"]


def test_a_broken_plugin_does_not_stop_the_others_from_tagging(
    cli, test_plugins, make_image
) -> None:
    result = cli("tag", make_image("a.png"), "--plugin", "probe", "--format", "json")
    assert result.exit_code == 0
    result = cli("tag", make_image("a.png"), "--plugin", "broken")
    assert result.exit_code == 2
    assert "plugin broken cannot be used: failed to import" in result.stderr


def test_plugins_info_table_and_json(cli, test_plugins) -> None:
    result = cli("plugins", "info", "probe")
    assert result.exit_code == 0
    assert "probe 9.9 — Deterministic test tagger." in result.stdout
    assert "recommended threshold 0.1" in result.stdout
    assert "[plugins.probe]" in result.stdout
    info = json.loads(cli("plugins", "info", "probe", "--json").stdout)
    assert info["name"] == "probe"
    assert [s["key"] for s in info["settings"]][:3] == ["enabled", "threshold", "max_tags"]
    assert cli("plugins", "info", "nope").exit_code == 2
    result = cli("plugins", "info", "broken")
    assert result.exit_code == 2
    assert "libfoo" in result.stderr


def test_plugins_setup_reports_progress(cli, test_plugins) -> None:
    result = cli("plugins", "setup", "probe")
    assert result.exit_code == 0
    assert "probe: fetched everything." in result.stderr


def test_version_and_help(cli) -> None:
    result = cli("--version")
    assert result.stdout.strip() == f"visual-buffet {__version__}"
    for command in ([], ["tag"], ["plugins"], ["config"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0
        assert "Usage" in result.stdout
    assert "Exit codes" in cli("tag", "--help").stdout


def test_hardware_json(cli) -> None:
    result = cli("hardware", "--json")
    assert result.exit_code == 0
    assert "recommendations" in json.loads(result.stdout)


# --- flags ----------------------------------------------------------------------------------


def test_dedicated_flags_map_to_the_plugins_settings(cli, test_plugins, make_image) -> None:
    image = make_image("a.png", (255, 255, 255))
    result = cli("tag", image, "-p", "probe", "-f", "json", "--threshold", "0.5", "--limit", "1")
    record = json.loads(result.stdout)["results"][0]
    assert (record["settings"]["threshold"], record["settings"]["max_tags"]) == (0.5, 1)
    assert [t["label"] for t in record["tags"]] == ["probe"]


def test_a_flag_the_plugin_lacks_is_rejected(cli, test_plugins, probe_log, make_image) -> None:
    for flag in (
        "--quality",
        "--variant",
        "--batch-size",
        "--quantization",
        "--attention",
        "--dtype",
        "--vocabulary",
    ):
        result = cli("tag", make_image("a.png"), "--plugin", "probe", flag, "x")
        assert result.exit_code == 2
        assert f"{flag} is not a setting of probe" in result.stderr
        assert "plugins info probe" in result.stderr
    assert probe_log() == []


def test_a_flag_is_used_by_the_plugins_that_have_it(cli, test_plugins, make_image) -> None:
    image = make_image("a.png")
    result = cli("tag", image, "-p", "probe", "-p", "colors", "-f", "json", "--threshold", "0.2")
    assert result.exit_code == 0
    used = {r["plugin"]: r["settings"]["threshold"] for r in json.loads(result.stdout)["results"]}
    assert used == {"probe": 0.2, "colors": 0.2}
    # A scoped --set reaches one plugin only; an unscoped one every plugin that has the key.
    result = cli(
        "tag",
        image,
        "-p",
        "probe",
        "-p",
        "colors",
        "-f",
        "json",
        "--set",
        "colors.palette=basic",
        "--set",
        "max_tags=1",
    )
    records = {r["plugin"]: r for r in json.loads(result.stdout)["results"]}
    assert records["colors"]["settings"]["palette"] == "basic"
    assert all(len(r["tags"]) == 1 for r in records.values())


def test_without_plugin_the_enabled_ones_run_siglip_by_default(cli, make_image) -> None:
    # Refused while validating, so no model is loaded: the error names the chosen plugin.
    result = cli("tag", make_image("a.png"), "--set", "palette=basic")
    assert result.exit_code == 2
    assert "--set palette: siglip has no setting 'palette'" in result.stderr


def test_an_unknown_plugin_is_a_usage_error(cli, test_plugins, make_image) -> None:
    result = cli("tag", make_image("a.png"), "--plugin", "nope")
    assert result.exit_code == 2
    assert "--plugin nope: no such plugin is installed" in result.stderr


# --- exit codes -----------------------------------------------------------------------------


def test_exit_0_when_every_image_is_tagged(cli, test_plugins, make_image) -> None:
    folder = make_image("a.png").parent
    make_image("b.png")
    result = cli("tag", folder, "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2


def test_exit_1_when_some_fail_and_the_good_ones_are_written(
    cli, test_plugins, make_image, corrupt_image, tmp_path: Path
) -> None:
    good = [make_image("a.png"), make_image("b.png")]
    out = tmp_path / "out.json"
    result = cli("tag", good[0], corrupt_image, good[1], "-p", "probe", "-f", "json", "-o", out)
    assert result.exit_code == 1
    assert "corrupt.jpg" in result.stderr
    assert "2 tagged, 1 failed." in result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    records = document["results"]
    assert [Path(r["file"]).name for r in records] == ["a.png", "corrupt.jpg", "b.png"]
    assert [r["error"] is None for r in records] == [True, False, True]
    assert records[0]["tags"]
    assert records[1]["error"]["type"] == "ImageLoadError"
    assert document["summary"]["tagged"] == 2
    assert document["summary"]["failed"] == 1


def test_exit_1_for_a_missing_path_among_good_ones(
    cli, test_plugins, make_image, tmp_path: Path
) -> None:
    result = cli("tag", make_image("a.png"), tmp_path / "nope.jpg", "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["error"] is None for r in records] == [False, True]
    assert "no such file or folder" in records[0]["error"]["message"]


def test_only_missing_paths_loads_nothing(cli, test_plugins, probe_log, tmp_path: Path) -> None:
    result = cli("tag", tmp_path / "nope.jpg", "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 1
    assert "load" not in probe_log()


def test_exit_2_for_a_bad_setting_before_any_image_is_read(
    cli, test_plugins, probe_log, make_image
) -> None:
    result = cli("tag", make_image("a.png"), "-p", "probe", "--threshold", "2")
    assert result.exit_code == 2
    assert "--threshold: threshold = '2' is not valid (above the maximum 1)" in result.stderr
    assert probe_log() == []


def test_exit_2_when_the_plugin_cannot_load(cli, test_plugins, probe_log, make_image) -> None:
    result = cli("tag", make_image("a.png"), "-p", "probe", "--set", "fail_load=true")
    assert result.exit_code == 2
    assert "probe: the weights are missing" in result.stderr
    assert probe_log() == ["init", "load"]


def test_exit_2_for_no_images(cli, test_plugins, tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x", encoding="utf-8")
    result = cli("tag", tmp_path / "empty", "-p", "probe")
    assert result.exit_code == 2
    assert "no images found" in result.stderr
    assert "--recursive" in result.stderr


def test_a_plugin_that_crashes_mid_run_records_every_image(cli, test_plugins, make_image) -> None:
    images = [make_image(f"{i}.png") for i in range(5)]
    result = cli("tag", *images, "-p", "probe", "-f", "jsonl", "--set", "crash_after=2")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["file"]).name for r in records] == [p.name for p in images]
    assert [r["error"] is None for r in records] == [True, True, False, False, False]
    assert "probe crashed on purpose" in records[2]["error"]["message"]


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_every_format_exits_the_same_way(cli, test_plugins, make_image, corrupt_image, fmt):
    result = cli("tag", make_image("a.png"), corrupt_image, "-p", "probe", "-f", fmt)
    assert result.exit_code == 1


def test_entry_point_group_is_versioned_by_name() -> None:
    assert ENTRY_POINT_GROUP == "visual_buffet.plugins"


# --- the pipeline under a misbehaving plugin ------------------------------------------------


class _ShortStream(Plugin):
    """A tag_stream that stops after the first image: a plugin bug the host must survive."""

    name = "short"

    def tag(self, items):  # type: ignore[no-untyped-def]
        return [ImageTags([]) for _ in items]

    def tag_stream(self, items):  # type: ignore[no-untyped-def]
        for _ in items:
            yield ImageTags([Tag("first", 1.0)])
            return


def test_a_tag_stream_that_ends_early_still_gives_every_image_a_record(make_image) -> None:
    files = [make_image(f"{i}.png") for i in range(7)]
    records: list[dict] = []
    with pytest.raises(PluginRunError, match="fewer results than images"):
        run_plugin(
            _ShortStream({}),
            files,
            settings={},
            on_record=records.append,
            workers=2,
            max_pixels=None,
        )
    assert [r["file"] for r in records] == [str(p) for p in files]
    assert records[0]["error"] is None
    assert all(r["error"]["type"] == "RuntimeError" for r in records[1:])
