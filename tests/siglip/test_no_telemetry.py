"""Nothing leaves the machine: a run on ONNX Runtime starts none of its telemetry.

ONNX Runtime 1.29+ starts usage telemetry on import (a device id file under the user's cache
folder, uploads to Microsoft) unless ORT_DISABLE_TELEMETRY is set before the import, and
suppresses it by itself only on CI machines. The run here is the README's demo command in a
fresh HOME with the CI markers removed, as on a user's laptop; the device id file is what
telemetry leaves on disk when it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

# Environment variables onnxruntime reads as "this is a CI machine: no telemetry".
CI_MARKERS = ("CI", "CIRCLECI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "BUILD_BUILDID")

ROOT = Path(__file__).resolve().parents[2]


def test_a_tagging_run_starts_no_onnx_runtime_telemetry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the plugin must set it, not the test
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    env.pop("VISUAL_BUFFET_CACHE_DIR", None)
    env.pop("VISUAL_BUFFET_DATA_DIR", None)
    env.update(HOME=str(home), HF_HUB_OFFLINE="1")
    photo = ROOT / "examples" / "images" / "white-square-800x800.jpg"
    command = [sys.executable, "-m", "visual_buffet", "tag", str(photo), "-p", "siglip"]
    command += ["--variant", "demo", "--set", "runtime=onnx", "--no-library", "-f", "jsonl"]
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"white"' in done.stdout
    assert (home / ".cache" / "visual-buffet" / "siglip" / "onnx").is_dir()  # ORT did run
    leftovers = sorted(str(p.relative_to(home)) for p in home.rglob("*") if "Microsoft" in p.parts)
    assert leftovers == [], f"onnxruntime telemetry started: {leftovers}"
