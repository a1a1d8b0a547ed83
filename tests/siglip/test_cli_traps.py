"""SigLIP first-use traps through the real CLI: damaged checkpoints, the offline advice,
`plugins setup --variant`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import one_line
from tests.siglip.conftest import write_vocab
from visual_buffet.cli import app


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _break(checkpoint: Path, tmp_path: Path, how: str) -> Path:
    broken = tmp_path / f"broken-{how}"
    shutil.copytree(checkpoint, broken)
    if how == "truncated":
        weights = broken / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        config = json.loads((broken / "config.json").read_text(encoding="utf-8"))
        del config["model_type"]
        (broken / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return broken


@pytest.mark.parametrize("how", ["truncated", "no-model-type"])
def test_a_damaged_checkpoint_is_a_message_not_a_traceback(checkpoints, photo, tmp_path, how):
    broken = _break(checkpoints["v1"], tmp_path, how)
    vocab = write_vocab(tmp_path / "tags.txt", ["cat", "dog"])
    result = run(
        "tag", photo, "--plugin", "siglip", "--set", f"model={broken}", "--vocabulary", vocab
    )
    assert result.exit_code == 2, result.output
    text = one_line(result.output)
    assert f"error: {broken} is not a loadable SigLIP checkpoint folder" in text
    assert "copy or download the checkpoint again" in text
    assert "Traceback" not in result.output


def test_offline_advice_names_the_variant_and_the_demo(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    result = run("tag", photo, "--plugin", "siglip", "--variant", "base")
    assert result.exit_code == 2, result.output
    text = one_line(result.output)
    assert "model google/siglip-base-patch16-224 is not in the Hugging Face cache" in text
    assert "`visual-buffet plugins setup siglip --variant base`" in text
    assert "--variant demo" in text


def test_plugins_setup_fetches_the_variant_asked_for(tmp_path, monkeypatch):
    """Following the advice above fetches base, not the configured so400m."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    result = run("plugins", "setup", "siglip", "--variant", "base")
    assert result.exit_code == 1
    assert "google/siglip-base-patch16-224" in result.output
    assert "so400m" not in result.output
    result = run("plugins", "setup", "siglip", "--variant", "demo")
    assert result.exit_code == 0
    assert "is a local checkpoint: nothing to download" in one_line(result.output)
    result = run("plugins", "setup", "siglip", "--set", "treshold=0.1")
    assert result.exit_code == 2
    assert "Did you mean 'threshold'" in result.output
