"""Variant, model id, dtype, attention, quantization and batch-size resolution."""

from __future__ import annotations

import re

import pytest

from visual_buffet.install_hints import install_command
from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.runtime import (
    CPU_BATCH_SIZE,
    Machine,
    quantization_config,
    resolve_attention,
    resolve_batch_size,
    resolve_dtype,
)
from visual_buffet_siglip.variants import (
    KNOWN_CHECKPOINTS,
    V2_TWIN,
    VARIANTS,
    demo_model_dir,
    resolve_model,
)

CPU = Machine("cpu", bitsandbytes_installed=True)
CUDA = Machine(
    "cuda",
    cuda_bf16=True,
    flash_attn_installed=True,
    bitsandbytes_installed=True,
    free_memory_bytes=80 * 2**30,
)
OLD_CUDA = Machine("cuda", cuda_bf16=False, free_memory_bytes=8 * 2**30)
MPS = Machine("mps")


@pytest.mark.parametrize(
    ("variant", "use_v2", "expected"),
    [
        ("base", False, "google/siglip-base-patch16-224"),
        ("large", False, "google/siglip-large-patch16-384"),
        ("so400m", False, "google/siglip-so400m-patch14-384"),
        ("giant", False, "google/siglip2-giant-opt-patch16-384"),
        ("v2-large", False, "google/siglip2-large-patch16-512"),
        ("v2-naflex", False, "google/siglip2-base-patch16-naflex"),
        ("base", True, "google/siglip2-base-patch16-224"),
        ("large", True, "google/siglip2-large-patch16-512"),
        ("so400m", True, "google/siglip2-so400m-patch14-384"),
        ("giant", True, "google/siglip2-giant-opt-patch16-384"),
        ("v2-naflex", True, "google/siglip2-base-patch16-naflex"),
    ],
)
def test_variant_and_use_v2(variant, use_v2, expected):
    choice = resolve_model(variant, use_v2, None)
    assert choice.source == expected and not choice.is_local


def test_every_variant_points_at_a_known_checkpoint():
    for variant in VARIANTS.values():
        assert variant.is_bundled or variant.model_id in KNOWN_CHECKPOINTS, variant.name
    assert set(V2_TWIN.values()) <= set(VARIANTS)


def test_demo_variant_is_the_bundled_folder():
    choice = resolve_model("demo", False, None)
    assert choice.is_local and choice.source == str(demo_model_dir())


@pytest.mark.parametrize(
    "bad", ["google/siglip-base-patch32-224", "google/siglip-large-patch16-512"]
)
def test_nonexistent_google_names_fail_before_download(bad):
    with pytest.raises(PluginError) as info:
        resolve_model("so400m", False, bad)
    message = str(info.value)
    assert bad in message and "google/siglip-large-patch16-384" in message


def test_model_overrides_variant_and_accepts_other_hub_ids(tmp_path, checkpoints):
    finetune = "someone/siglip-finetune"
    assert resolve_model("base", True, finetune).source == finetune
    local = resolve_model("base", False, str(checkpoints["v1"]))
    assert local.is_local and local.variant is None
    # A folder without a checkpoint is refused before any backend loads it.
    with pytest.raises(PluginError, match=r"no config\.json"):
        resolve_model("base", False, str(tmp_path))


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PluginError, match="no such folder"):
        resolve_model("base", False, str(tmp_path / "nope"))


def test_dtype():
    assert resolve_dtype("auto", CPU) == ("float32", [])
    assert resolve_dtype("auto", CUDA)[0] == "bfloat16"
    assert resolve_dtype("auto", OLD_CUDA)[0] == "float16"
    assert resolve_dtype("auto", MPS)[0] == "float16"
    dtype, warnings = resolve_dtype("bfloat16", CPU)
    assert dtype == "bfloat16" and "slower" in warnings[0]
    with pytest.raises(PluginError, match="does not support bfloat16"):
        resolve_dtype("bfloat16", OLD_CUDA)


def test_attention():
    assert resolve_attention("auto", CPU, "float32", True) == "sdpa"
    assert resolve_attention("auto", CUDA, "bfloat16", True) == "flash_attention_2"
    assert resolve_attention("auto", CUDA, "bfloat16", False) == "sdpa"  # Siglip2Model
    assert resolve_attention("auto", CUDA, "float32", True) == "sdpa"
    assert resolve_attention("eager", CPU, "float32", True) == "eager"
    with pytest.raises(PluginError) as info:
        resolve_attention("flash_attention_2", CPU, "float32", False)
    message = str(info.value)
    for reason in (
        "NaFlex",
        "NVIDIA GPU",
        "float16 or bfloat16",
        "flash-attn is not installed",
        "sdpa",
    ):
        assert reason in message


def test_quantization_configs():
    assert quantization_config("none", CPU, False) is None
    eight = quantization_config("8bit", CPU, True)
    assert eight.load_in_8bit and "patch_embedding" in eight.llm_int8_skip_modules
    four = quantization_config("4bit", CPU, False)
    assert four.load_in_4bit and four.bnb_4bit_quant_type == "nf4"
    with pytest.raises(PluginError, match=re.escape(install_command("quantization"))):
        quantization_config("4bit", Machine("cpu"), False)
    with pytest.raises(PluginError, match="MPS"):
        quantization_config("8bit", Machine("mps", bitsandbytes_installed=True), False)


def test_batch_size():
    assert resolve_batch_size("auto", CPU, 10**9, 196, 768) == CPU_BATCH_SIZE
    assert resolve_batch_size(3, CUDA, 10**9, 196, 768) == 3
    assert resolve_batch_size("auto", CUDA, 10**9, 729, 1152) == 32
    small = Machine("cuda", free_memory_bytes=2 * 2**30)
    assert 1 <= resolve_batch_size("auto", small, 2 * 10**9, 729, 1152) < 32


REFERENCE_CHECKPOINTS = (
    "google/siglip-base-patch16-224",
    "google/siglip-base-patch16-256",
    "google/siglip-base-patch16-384",
    "google/siglip-base-patch16-512",
    "google/siglip-large-patch16-256",
    "google/siglip-large-patch16-384",
    "google/siglip-so400m-patch14-384",
    "google/siglip2-base-patch16-224",
    "google/siglip2-base-patch16-256",
    "google/siglip2-large-patch16-256",
    "google/siglip2-so400m-patch14-384",
)


@pytest.mark.parametrize("model_id", REFERENCE_CHECKPOINTS)
def test_reference_checkpoints_are_accepted_as_model(model_id):
    choice = resolve_model("so400m", False, model_id)
    assert choice.source == model_id and not choice.is_local


@pytest.mark.parametrize(("kind", "image_size"), [("v1", 48), ("v2", 64), ("naflex", 48)])
def test_geometry_is_read_from_the_checkpoint_config(kind, image_size, tmp_path):
    """Image size, patch size and hidden size come from config.json, never from the name."""
    from visual_buffet_siglip.loading import load_siglip
    from visual_buffet_siglip.synthetic import build_checkpoint

    folder = build_checkpoint(
        tmp_path / "odd-name-patch32-999", kind, "small", image_size=image_size
    )
    loaded = load_siglip(
        resolve_model("base", False, str(folder)),
        dtype="auto",
        attention="auto",
        quantization="none",
        machine=CPU,
    )
    assert loaded.naflex == (kind == "naflex")
    assert loaded.patch_size == 16 and loaded.hidden_size == 64
    assert loaded.image_size == (None if kind == "naflex" else image_size)
    assert type(loaded.model).__name__ == ("Siglip2Model" if kind == "naflex" else "SiglipModel")
