"""Resolving device, dtype, attention kernel, quantization and batch size from settings.

The ``resolve_*`` functions are pure: they take what the machine offers (:class:`Machine`) so
every branch is testable on a CPU-only machine. :func:`detect_machine` fills it in.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from visual_buffet.install_hints import install_command
from visual_buffet.plugin_api import PluginError

CPU_BATCH_SIZE = 8
"""Views per forward on CPU: measured best of 1/4/8/16 on 2 cores (docs/performance.md)."""


@dataclass(frozen=True)
class Machine:
    """What the resolution needs to know about this machine."""

    device: str  # "cuda", "mps" or "cpu"
    cuda_bf16: bool = False
    flash_attn_installed: bool = False
    bitsandbytes_installed: bool = False
    free_memory_bytes: int | None = None


def detect_machine() -> Machine:
    """Probe torch for CUDA / MPS (imports torch)."""
    import torch

    has = importlib.util.find_spec
    flash = has("flash_attn") is not None
    bnb = has("bitsandbytes") is not None
    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return Machine("cuda", torch.cuda.is_bf16_supported(), flash, bnb, free)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return Machine("mps", False, flash, bnb)
    return Machine("cpu", False, flash, bnb)


def resolve_dtype(requested: str, machine: Machine) -> tuple[str, list[str]]:
    """Return the dtype name to load weights in, and warnings.

    auto: bfloat16 on CUDA where supported (same range as float32, no overflow), else float16;
    float16 on Apple MPS (half the memory of float32 on unified memory, and fast there, while
    bfloat16 support on MPS depends on the macOS version); float32 on CPU (bfloat16 measured
    5x slower than float32 on CPUs without bf16 units, float16 slower still).
    """
    warnings: list[str] = []
    if requested == "auto":
        if machine.device == "cuda":
            return ("bfloat16" if machine.cuda_bf16 else "float16"), warnings
        if machine.device == "mps":
            return "float16", warnings
        return "float32", warnings
    if machine.device == "cpu" and requested != "float32":
        warnings.append(
            f"dtype {requested} on CPU is much slower than float32 (measured 5x for bfloat16 "
            'on a CPU without bf16 units); use dtype = "auto" unless you need the memory.'
        )
    if machine.device == "cuda" and requested == "bfloat16" and not machine.cuda_bf16:
        raise PluginError(
            'dtype bfloat16: this GPU does not support bfloat16. Use dtype = "float16" or "auto".'
        )
    return requested, warnings


def resolve_attention(requested: str, machine: Machine, dtype: str, supports_flash: bool) -> str:
    """Return the attention implementation for ``from_pretrained(attn_implementation=...)``.

    auto: flash_attention_2 where flash-attn is installed, the device is CUDA, the dtype is
    16-bit and the model class supports it (Siglip2Model does not); else sdpa.
    An explicit request that cannot be honoured raises :class:`PluginError` saying why.
    """
    half = dtype in ("float16", "bfloat16")
    if requested == "auto":
        if machine.device == "cuda" and half and machine.flash_attn_installed and supports_flash:
            return "flash_attention_2"
        return "sdpa"
    if requested == "flash_attention_2":
        reasons = []
        if not supports_flash:
            reasons.append("this model class (SigLIP 2 NaFlex) has no Flash Attention 2 support")
        if machine.device != "cuda":
            reasons.append(f"it needs an NVIDIA GPU (device here: {machine.device})")
        if not half:
            reasons.append(f"it needs float16 or bfloat16 (dtype here: {dtype})")
        if not machine.flash_attn_installed:
            reasons.append(f"flash-attn is not installed ({install_command('flash-attn')})")
        if reasons:
            raise PluginError(
                "attention flash_attention_2 cannot be used: "
                + "; ".join(reasons)
                + '. Use attention = "sdpa" (as fast on most setups) or "auto".'
            )
    return requested


def quantization_config(requested: str, machine: Machine, naflex: bool) -> Any:
    """Return a ``BitsAndBytesConfig`` for 8bit/4bit, or None.

    Kept in full precision: the patch embedding (in NaFlex a Linear that casts pixel values to
    its weight dtype: quantized it fails in 8-bit and is silently wrong in 4-bit) and the
    attention-pooling / projection heads (``nn.MultiheadAttention`` reads its out_proj weight
    directly, which breaks when quantized). They are a small share of the weights.
    4-bit also keeps the attention projections: NF4 there moved image embeddings to cosine
    0.97 of full precision on our test models, NF4 on the MLPs alone kept them >= 0.98. The
    MLPs hold two thirds of each layer's weights, so most of the memory saving remains.
    """
    if requested == "none":
        return None
    if not machine.bitsandbytes_installed:
        raise PluginError(
            f"quantization {requested} needs bitsandbytes: "
            f'{install_command("quantization")} (or set quantization = "none").'
        )
    if machine.device == "mps":
        raise PluginError(
            f"quantization {requested}: bitsandbytes does not run on Apple MPS. "
            'Use quantization = "none" with dtype = "float16".'
        )
    import torch
    from transformers import BitsAndBytesConfig

    skip = ["patch_embedding", "head"]
    if requested == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    skip += ["q_proj", "k_proj", "v_proj", "out_proj"]
    compute = (
        torch.bfloat16
        if machine.cuda_bf16
        else (torch.float16 if machine.device == "cuda" else torch.float32)
    )
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_use_double_quant=False,
        llm_int8_skip_modules=skip,
    )


def resolve_batch_size(
    requested: int | str, machine: Machine, weight_bytes: int, tokens_per_view: int, hidden: int
) -> int:
    """Views per forward. auto: 8 on CPU and MPS; on CUDA from free memory after the weights.

    The CUDA estimate budgets activations of one view as ``tokens * hidden * 64`` bytes (layer
    activations kept by sdpa plus MLP intermediates, with headroom), and uses half of the free
    memory left after the weights. An out-of-memory error at run time halves it anyway.
    """
    if requested != "auto":
        return int(requested)
    if machine.device != "cuda" or machine.free_memory_bytes is None:
        return CPU_BATCH_SIZE
    budget = max(0, machine.free_memory_bytes - weight_bytes) // 2
    per_view = max(1, tokens_per_view * hidden * 64)
    return int(max(1, min(32, budget // per_view)))
