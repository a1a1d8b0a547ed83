"""Quantised towers keep image embeddings close to full precision: bitsandbytes 8-bit / 4-bit
(PyTorch runtime) and ONNX Runtime dynamic int8 (the CPU default's ``quantization = "8bit"``)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from PIL import Image

from tests.siglip.conftest import KINDS
from visual_buffet_siglip.loading import load_siglip
from visual_buffet_siglip.runtime import Machine
from visual_buffet_siglip.variants import resolve_model

needs_bitsandbytes = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes is not installed"
)
CPU = Machine("cpu", bitsandbytes_installed=True)


@pytest.fixture(scope="module")
def small_checkpoints(tmp_path_factory):
    """Tiny models 64 wide: bitsandbytes' 4-bit CPU kernels need blocks of 64 features."""
    from visual_buffet_siglip.synthetic import build_checkpoint

    root = tmp_path_factory.mktemp("small")
    return {kind: build_checkpoint(root / kind, kind, "small", seed=2) for kind in KINDS}


def image_embeddings(model_dir, quantization, photo):
    loaded = load_siglip(
        resolve_model("so400m", False, str(model_dir)),
        dtype="auto",
        attention="auto",
        quantization=quantization,
        machine=CPU,
    )
    processor = loaded.processor.image_processor
    extra = {"max_num_patches": 256} if loaded.naflex else {}
    inputs = processor(images=[Image.open(photo).convert("RGB")], return_tensors="pt", **extra)
    with torch.inference_mode():
        return loaded.model.get_image_features(**inputs).pooler_output.float()


@needs_bitsandbytes
@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
@pytest.mark.parametrize("kind", KINDS)
def test_quantized_image_embeddings_stay_close(kind, quantization, small_checkpoints, photo):
    full = image_embeddings(small_checkpoints[kind], "none", photo)
    quant = image_embeddings(small_checkpoints[kind], quantization, photo)
    cosine = torch.nn.functional.cosine_similarity(full, quant).item()
    assert cosine >= 0.98, f"{kind} {quantization}: cosine {cosine:.4f}"


def onnx_image_embeddings(model_dir, quantization, photo):
    from visual_buffet_siglip.onnx_backend import load_onnx

    model = load_onnx(
        resolve_model("so400m", False, str(model_dir)),
        quantization=quantization,
        threads="auto",
        max_num_patches=256,
        report=lambda _: None,
    )
    assert model.precision == ("int8" if quantization == "8bit" else "fp32")
    return model.encode_views(model.preprocessor([Image.open(photo).convert("RGB")]))


def assert_int8_close(model_dir, photo, label):
    full = onnx_image_embeddings(model_dir, "none", photo)
    int8 = onnx_image_embeddings(model_dir, "8bit", photo)
    cosine = float((full * int8).sum())  # both are normalised
    assert cosine >= 0.98, f"{label} ONNX int8: cosine {cosine:.4f}"
    assert cosine < 1 - 1e-7, f"{label}: int8 gave the float32 embedding (not quantised?)"


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_int8_image_embeddings_stay_close(kind, checkpoints, small_checkpoints, photo):
    assert_int8_close(checkpoints[kind], photo, f"tiny {kind}")
    assert_int8_close(small_checkpoints[kind], photo, f"small {kind}")


@pytest.mark.slow
def test_onnx_int8_at_base_dims(tmp_path, photo):
    """Random weights at base-patch16-224 size: 12 layers of 768 wide, where the int8
    rounding errors of many layers add up (tiny models have two)."""
    from visual_buffet_siglip.synthetic import build_checkpoint

    model_dir = build_checkpoint(tmp_path / "base", "v1", "base", seed=4)
    assert_int8_close(model_dir, photo, "base v1")
