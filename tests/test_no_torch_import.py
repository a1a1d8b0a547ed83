"""`--help`, `plugins list` and `config ...` stay instant: they never import torch.

The SigLIP plugin is installed, and listing plugins imports its module, so this also checks
that the plugin defers its heavy imports to ``load()``. Each check runs in a fresh
interpreter, where nothing has imported torch yet.
"""

from __future__ import annotations

import json

import pytest

# The web stack of `visual-buffet gui` (the gui extra) is heavy in the same sense: only the
# gui command itself may import it.
HEAVY = ("torch", "transformers", "accelerate", "bitsandbytes", "starlette", "uvicorn", "multipart")

# Runs each argv in turn in one interpreter and reports, after each, which heavy modules
# are loaded. Modules only accumulate, so the first command after which one appears is the
# one that imported it.
RUNNER = """
import json, sys
from visual_buffet.cli import app

report = []
for argv in json.loads(sys.argv[1]):
    try:
        app(argv, prog_name="visual-buffet")
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    report.append({"argv": argv, "code": code, "heavy": loaded,
                   "siglip": "visual_buffet_siglip" in sys.modules})
print("REPORT=" + json.dumps(report), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))

COMMANDS = [
    ["--help"],
    ["--version"],
    ["tag", "--help"],
    ["plugins", "--help"],
    ["plugins", "list"],
    ["plugins", "list", "--json"],
    ["plugins", "info", "siglip"],
    ["plugins", "info", "siglip", "--json"],
    ["gui", "--help"],
    ["xmp", "--help"],
    ["xmp", "write", "--help"],
    ["xmp", "remove", "--help"],
    ["config", "--help"],
    ["config", "path"],
    ["config", "set", "plugins.siglip.threshold", "0.02"],
    ["config", "set", "plugins.siglip.naflex.max_num_patches", "512"],
    ["config", "get", "plugins.siglip.threshold"],
    ["config", "get", "plugins.siglip.model"],
    ["config", "show"],
    ["config", "unset", "plugins.siglip.threshold"],
    ["library", "--help"],
    ["library", "path"],
    ["library", "stats", "--json"],
]


def _report(cli_subprocess, commands: list[list[str]]) -> list[dict]:
    done = cli_subprocess(json.dumps(commands), code=RUNNER)
    line = next(line for line in done.stderr.splitlines() if line.startswith("REPORT="))
    return json.loads(line.removeprefix("REPORT="))


def test_help_plugins_and_config_commands_do_not_import_torch(cli_subprocess) -> None:
    report = _report(cli_subprocess, COMMANDS)
    assert [entry["argv"] for entry in report] == COMMANDS
    for entry in report:
        assert entry["code"] == 0, entry
        assert entry["heavy"] == [], f"{entry['argv']} imported {entry['heavy']}"
    plugins_list = report[COMMANDS.index(["plugins", "list"])]
    assert plugins_list["siglip"], "plugins list should have imported the SigLIP plugin"


def test_a_settings_error_in_tag_does_not_import_torch(cli_subprocess, make_image) -> None:
    image = str(make_image("a.png"))
    report = _report(
        cli_subprocess,
        [
            ["tag", image, "--plugin", "siglip", "--quality", "ultra"],
            ["tag", image, "--plugin", "siglip", "--threshold", "2"],
        ],
    )
    for entry in report:
        assert entry["code"] == 2
        assert entry["heavy"] == []


def test_the_host_pipeline_itself_is_torch_free(cli_subprocess, make_image) -> None:
    # Tagging with a plugin that needs no model must not pull torch in through the host.
    report = _report(cli_subprocess, [["tag", str(make_image("a.png")), "--plugin", "colors"]])
    assert report[0]["code"] == 0
    assert report[0]["heavy"] == []


@pytest.mark.parametrize("argv", [["--help"], ["plugins", "list"]])
def test_importtime_of_the_real_entry_point(cli_subprocess, argv: list[str]) -> None:
    done = cli_subprocess(*argv, python_args=["-X", "importtime"])
    assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "visual_buffet" in imported
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
