"""A warm ONNX run (export and label embeddings cached) imports neither torch nor transformers.

Each run is a fresh interpreter that runs the real CLI in-process and then reports which heavy
modules it holds (modules only accumulate, so "none after the run" means none during it).
"""

from __future__ import annotations

import json

import pytest

from tests.siglip.conftest import write_vocab

HEAVY = ("torch", "transformers", "accelerate", "bitsandbytes")
RUNNER = """
import json, sys
from visual_buffet.cli import app

try:
    app(json.loads(sys.argv[1]), prog_name="visual-buffet")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("REPORT=" + json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def run_cli(cli_subprocess, argv: list[str], cache) -> dict:
    done = cli_subprocess(
        json.dumps([str(a) for a in argv]),
        code=RUNNER,
        env={"VISUAL_BUFFET_CACHE_DIR": str(cache)},
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("REPORT=")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[0].removeprefix("REPORT="))


@pytest.mark.parametrize("kind", ["v1", "naflex"])
def test_a_warm_tag_run_imports_no_torch(kind, cli_subprocess, checkpoints, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", ["cat", "dog", "red car", "tree"])
    cache = tmp_path / "cache"
    out = tmp_path / "out.json"
    argv = ["tag", photo, "--plugin", "siglip", "--set", f"model={checkpoints[kind]}"]
    argv += ["--vocabulary", vocab, "--threshold", "0", "--format", "json", "-o", out]
    argv += ["--no-library"]  # else the warm run emits the stored result without the model
    cold = run_cli(cli_subprocess, [*argv, "--overwrite"], cache)
    assert cold["code"] == 0
    assert "torch" in cold["heavy"]  # the first run exported the towers with torch
    model = json.loads(out.read_text())["results"][0]["model"]
    assert model["runtime"] == "onnx" and model["text_cache"] == "miss"

    warm = run_cli(cli_subprocess, [*argv, "--overwrite"], cache)
    assert warm == {"code": 0, "heavy": []}
    record = json.loads(out.read_text())["results"][0]
    assert record["model"]["runtime"] == "onnx" and record["model"]["text_cache"] == "hit"
    assert record["model"]["export_ms"] == 0.0
    assert record["tags_from"] == "model"  # the vision tower ran (in ONNX Runtime)
    assert len(record["tags"]) == 4


def test_plugins_setup_exports_ahead_so_the_first_tag_is_warm(
    cli_subprocess, checkpoints, photo, tmp_path
):
    vocab = write_vocab(tmp_path / "tags.txt", ["cat", "dog"])
    cache = tmp_path / "cache"
    model = f"model={checkpoints['v2']}"
    setup = run_cli(
        cli_subprocess,
        ["plugins", "setup", "siglip", "--set", model, "--set", f"custom_vocabulary={vocab}"],
        cache,
    )
    assert setup["code"] == 0
    manifests = [
        json.loads(p.read_text()) for p in (cache / "siglip" / "onnx").rglob("manifest.json")
    ]
    # setup also wrote the optimised form a warm run opens (graph + memory-mapped weights)
    assert any("model.data" in m.get("files", {}) for m in manifests)
    first = run_cli(
        cli_subprocess,
        ["tag", photo, "--plugin", "siglip", "--set", model, "--vocabulary", vocab, "--no-library"],
        cache,
    )
    assert first == {"code": 0, "heavy": []}
