"""The SigLIP plugin through the real CLI: settings, errors, offline, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from tests.siglip.conftest import write_vocab
from visual_buffet.cli import app
from visual_buffet.cli.common import state  # noqa: F401  (import check: CLI is importable)
from visual_buffet.output import result_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config"
LABELS = ["cat", "dog", "red car", "tree"]


def run(*args: str, config: Path | None = None):
    runner = CliRunner()
    prefix = ["--config", str(config)] if config else []
    return runner.invoke(app, [*prefix, *map(str, args)])


def tag_tiny(photo: Path, model: Path, vocabulary: object, *args: str):
    """`visual-buffet tag PHOTO --plugin siglip` on a tiny checkpoint with a vocabulary file."""
    return run(
        "tag",
        photo,
        "--plugin",
        "siglip",
        "--set",
        f"model={model}",
        "--vocabulary",
        vocabulary,
        *args,
    )


@pytest.fixture
def vocab(tmp_path):
    return write_vocab(tmp_path / "tags.txt", LABELS)


def test_tag_with_a_tiny_checkpoint_end_to_end(checkpoints, photo, vocab, tmp_path):
    out = tmp_path / "out.json"
    result = tag_tiny(
        photo,
        checkpoints["v1"],
        vocab,
        "--threshold",
        "0",
        "--format",
        "json",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    jsonschema.validate(document, result_schema())
    (record,) = document["results"]
    assert record["plugin"] == "siglip" and record["error"] is None
    assert {t["label"] for t in record["tags"]} == set(LABELS)
    assert record["settings"]["threshold"] == 0.0
    assert record["settings"]["dtype"] == "float32"  # "auto" replaced by what was used
    assert record["model"]["path"] == str(checkpoints["v1"])


def test_config_file_values_and_flag_precedence(checkpoints, photo, vocab, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[plugins.siglip]\nmodel = "{checkpoints["v2"]}"\nthreshold = 0\n'
        f'limit = 3\ncustom_vocabulary = "{vocab}"\nquality = "quick"\n'
    )
    result = run("tag", photo, "--plugin", "siglip", "--format", "jsonl", config=config)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert len(record["tags"]) == 3 and record["settings"]["max_tags"] == 3
    result = run(
        "tag", photo, "--plugin", "siglip", "--format", "jsonl", "--limit", "1", config=config
    )
    assert len(json.loads(result.stdout.splitlines()[0])["tags"]) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--threshold", "2"], "above the maximum 1"),
        (["--threshold", "high"], "expected a number"),
        (["--quality", "ultra"], "quick, standard, high, max"),
        (["--quality", "hgih"], "did you mean 'high'"),
        (["--variant", "huge"], "so400m"),
        (["--batch-size", "0"], "below the minimum 1"),
        (["--batch-size", "64"], "above the maximum 32"),
        (["--limit", "-1"], "below the minimum 0"),
        (["--quantization", "2bit"], "none, 8bit, 4bit"),
        (["--attention", "flash"], "flash_attention_2"),
        (["--dtype", "float8"], "bfloat16"),
        (["--set", "naflex.max_num_patches=1000"], "above the maximum 512"),
        (["--set", "max_candidates=0"], "below the minimum 1"),
        (["--set", "use_v2=maybe"], "true or false"),
        (["--set", "treshold=0.1"], "Did you mean 'threshold'"),
    ],
)
def test_bad_values_stop_before_any_image(args, needle, photo):
    result = run("tag", photo, "--plugin", "siglip", *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_bad_config_value_names_key_file_and_allowed(photo, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[plugins.siglip]\nquality = "ultra"\n')
    result = run("tag", photo, "--plugin", "siglip", config=config)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    for part in (str(config), "[plugins.siglip]", "quality", "'ultra'", "quick, standard"):
        assert part in text


def test_high_threshold_warns(checkpoints, photo, vocab):
    result = tag_tiny(
        photo,
        checkpoints["v1"],
        vocab,
        "--threshold",
        "0.5",
        "--quality",
        "quick",
    )
    assert result.exit_code == 0
    assert "sigmoid scores" in result.output


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "does not exist"),
        ("", "has no tags"),
        ("# only comments\n\n", "has no tags"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_vocabulary_file_errors(content, needle, checkpoints, photo, tmp_path):
    path = tmp_path / "tags.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = tag_tiny(
        photo,
        checkpoints["v1"],
        path,
    )
    assert result.exit_code == 2
    assert needle in result.output and "tags.txt" in result.output


def test_vocabulary_file_comments_blank_lines_and_home(checkpoints, photo, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "my_tags.txt").write_text("\ufeff# my tags\nCat\n\n  dog  # pets\ncat\n")
    result = tag_tiny(
        photo,
        checkpoints["v1"],
        "~/my_tags.txt",
        "--threshold",
        "0",
        "--format",
        "jsonl",
    )
    assert result.exit_code == 0, result.output
    assert {t["label"] for t in json.loads(result.stdout)["tags"]} == {"cat", "dog"}


def test_nonexistent_checkpoint_name_lists_valid_ones(photo):
    result = run(
        "tag", photo, "--plugin", "siglip", "--set", "model=google/siglip-base-patch32-224"
    )
    assert result.exit_code == 2
    assert "google/siglip-base-patch16-224" in result.output


def test_offline_without_cached_weights_explains_the_fixes(photo, tmp_path):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "VISUAL_BUFFET_CONFIG": str(tmp_path / "none.toml"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "visual_buffet",
            "tag",
            str(photo),
            "--plugin",
            "siglip",
            "--variant",
            "base",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    message = " ".join(proc.stderr.split())
    assert "google/siglip-base-patch16-224" in message
    assert "visual-buffet plugins setup siglip" in message
    assert 'model = "/path/to/checkpoint"' in message
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_configs_load_and_validate(example):
    result = run("plugins", "info", "siglip", "--json", config=example)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert not info["warnings"], info["warnings"]
    sources = {s["key"]: s["source"] for s in info["settings"]}
    assert any(str(example) in source for source in sources.values())


def test_limit_alias_in_example():
    result = run("plugins", "info", "siglip", "--json", config=EXAMPLES / "minimal.toml")
    values = {s["key"]: s["value"] for s in json.loads(result.stdout)["settings"]}
    assert values["max_tags"] == 30


def test_setup_with_a_local_checkpoint_has_nothing_to_download(checkpoints, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[plugins.siglip]\nmodel = "{checkpoints["v1"]}"\n')
    result = run("plugins", "setup", "siglip", config=config)
    assert result.exit_code == 0, result.output
    assert "local checkpoint: nothing to download" in " ".join(result.output.split())


def test_setup_offline_explains_what_failed(tmp_path):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "VISUAL_BUFFET_CONFIG": str(tmp_path / "none.toml"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "visual_buffet", "plugins", "setup", "siglip"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    message = " ".join(proc.stderr.split())
    assert "could not download google/siglip-so400m-patch14-384" in message
    assert 'model = "/path/to/checkpoint"' in message and "Traceback" not in proc.stderr
