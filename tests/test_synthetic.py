"""Offline SigLIP checkpoints built by ``visual_buffet_siglip.synthetic``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from PIL import Image  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from visual_buffet_siglip.synthetic import build_checkpoint  # noqa: E402

EXPECTED_CLASSES = {
    "v1": ("SiglipProcessor", "SiglipTokenizer", "SiglipModel"),
    "v2": ("SiglipProcessor", "GemmaTokenizer", "SiglipModel"),
    "naflex": ("Siglip2Processor", "Siglip2Tokenizer", "Siglip2Model"),
}
KINDS = tuple(EXPECTED_CLASSES)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    return {kind: build_checkpoint(root / kind, kind) for kind in KINDS}


def _load(path: Path):
    processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    return processor, model


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_checkpoint_loads_offline_with_released_classes(checkpoints, kind):
    processor, model = _load(checkpoints[kind])
    assert (
        type(processor).__name__,
        type(processor.tokenizer).__name__,
        type(model).__name__,
    ) == EXPECTED_CLASSES[kind]
    # The released tokenizers feed input_ids only.
    assert processor.tokenizer.model_input_names == ["input_ids"]
    config = json.loads((checkpoints[kind] / "tokenizer_config.json").read_text())
    assert config["model_input_names"] == ["input_ids"]
    total = sum(f.stat().st_size for f in checkpoints[kind].iterdir())
    assert total < 1_000_000


@pytest.mark.parametrize("kind", KINDS)
def test_joint_forward_runs_with_siglip_text_recipe(checkpoints, kind):
    processor, model = _load(checkpoints[kind])
    image = Image.new("RGB", (48, 40), (200, 30, 30))
    extra = {"max_num_patches": 4} if kind == "naflex" else {}
    inputs = processor(
        text=["this is a photo of a cat."],
        images=[image],
        padding="max_length",
        max_length=64,
        return_tensors="pt",
        **extra,
    )
    assert "attention_mask" not in inputs
    assert tuple(inputs["input_ids"].shape) == (1, 64)
    with torch.inference_mode():
        outputs = model(**inputs)
    assert tuple(outputs.logits_per_image.shape) == (1, 1)
    assert torch.isfinite(outputs.logits_per_image).all()
    # SigLIP's initial temperature and bias: log(10) and -10.
    assert model.logit_scale.exp().item() == pytest.approx(10.0)
    assert model.logit_bias.item() == pytest.approx(-10.0)


@pytest.mark.parametrize("kind", KINDS)
def test_prompts_end_with_eos_then_padding(checkpoints, kind):
    tokenizer = transformers.AutoProcessor.from_pretrained(checkpoints[kind]).tokenizer
    ids = tokenizer(["this is a photo of a cat."], padding="max_length", max_length=64)[
        "input_ids"
    ][0]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    if kind == "v1":
        # SigLIP v1 pads with </s> (id 1), like the release.
        assert eos == pad == 1
        assert ids[0] != eos and ids[-1] == eos
    else:
        # Gemma: pad 0, eos 1, no BOS, right padding.
        assert (pad, eos) == (0, 1)
        last = max(i for i, token in enumerate(ids) if token != pad)
        assert ids[last] == eos and ids[0] != tokenizer.bos_token_id


def test_build_is_deterministic_for_a_seed(tmp_path, checkpoints):
    again = build_checkpoint(tmp_path / "again", "v1", seed=0)
    for name in ("model.safetensors", "spiece.model"):
        assert (again / name).read_bytes() == (checkpoints["v1"] / name).read_bytes()

    other = build_checkpoint(tmp_path / "other", "v1", seed=1)
    first = load_file(checkpoints["v1"] / "model.safetensors")
    second = load_file(other / "model.safetensors")
    assert first.keys() == second.keys()
    assert any(not torch.equal(first[k], second[k]) for k in first if first[k].numel() > 1)


def test_build_leaves_global_rng_untouched(tmp_path):
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    build_checkpoint(tmp_path / "v2", "v2", seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_image_size_override(tmp_path):
    path = build_checkpoint(tmp_path / "fix", "v2", image_size=64)
    processor, model = _load(path)
    assert model.config.vision_config.image_size == 64
    pixels = processor(images=[Image.new("RGB", (10, 10))], return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape) == (1, 3, 64, 64)


def test_unknown_kind_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown checkpoint kind"):
        build_checkpoint(tmp_path, "v3")  # type: ignore[arg-type]
