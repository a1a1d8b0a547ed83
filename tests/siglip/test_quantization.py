"""bitsandbytes 8-bit / 4-bit loading keeps image embeddings close to full precision."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from PIL import Image

from tests.siglip.conftest import KINDS
from visual_buffet_siglip.loading import load_siglip
from visual_buffet_siglip.runtime import Machine
from visual_buffet_siglip.variants import resolve_model

pytestmark = pytest.mark.skipif(
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


@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
@pytest.mark.parametrize("kind", KINDS)
def test_quantized_image_embeddings_stay_close(kind, quantization, small_checkpoints, photo):
    full = image_embeddings(small_checkpoints[kind], "none", photo)
    quant = image_embeddings(small_checkpoints[kind], quantization, photo)
    cosine = torch.nn.functional.cosine_similarity(full, quant).item()
    assert cosine >= 0.98, f"{kind} {quantization}: cosine {cosine:.4f}"
