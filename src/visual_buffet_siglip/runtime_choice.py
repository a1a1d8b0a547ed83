"""Which runtime runs the towers: ONNX Runtime on a CPU, PyTorch on CUDA / MPS.

``runtime = "auto"`` must decide without importing torch on the common CPU-only machine
(``import torch`` alone takes 3 s on a small CPU, more than a warm ONNX run of one photo). So
the decision goes in two steps:

1. :func:`accelerator_possible` looks for signs of a GPU that torch could use, without torch:
   a torch build marked ``+cpu``, no NVIDIA driver (``/proc/driver/nvidia``, ``nvidia-smi``),
   no ROCm device (``/dev/kfd``) and not an Apple Silicon Mac mean no accelerator.
2. Only when one is possible is torch imported and asked (``detect_machine``): a CUDA-enabled
   torch on a machine whose driver is broken still ends on ONNX Runtime.

:func:`resolve_runtime` is the pure rule (tested on every combination); PyTorch stays the
reference and the only runtime for CUDA, MPS, half-precision dtypes, bitsandbytes 4-bit and
flash attention.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import sys
from pathlib import Path

from visual_buffet.plugin_api import PluginError

RUNTIMES = ("auto", "torch", "onnx")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked import, or a half-removed module
        return False


def onnx_available() -> bool:
    """Whether onnxruntime (and onnx, for exports) can be imported."""
    return _installed("onnxruntime") and _installed("onnx")


def accelerator_possible() -> bool:
    """Whether torch might see a CUDA/ROCm GPU or Apple MPS here, decided without torch."""
    if not _installed("torch"):
        return False
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    if version.endswith("+cpu"):
        return False
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if Path("/proc/driver/nvidia/version").exists() or Path("/dev/kfd").exists():
        return True
    return shutil.which("nvidia-smi") is not None


def resolve_runtime(
    requested: str,
    *,
    device: str,
    onnx_installed: bool,
    dtype: str,
    quantization: str,
    attention: str,
) -> tuple[str, str]:
    """(runtime, why) for the settings on a machine whose best device is ``device``.

    ``auto``: ``onnx`` on a CPU unless a setting only PyTorch honours is set (a 16-bit dtype,
    4-bit, flash attention) or onnxruntime is missing; ``torch`` on CUDA and MPS. An explicit
    ``onnx`` that cannot be honoured is a :class:`PluginError` that says what to change.
    """
    torch_only = []
    if dtype not in ("auto", "float32"):
        torch_only.append(f"dtype {dtype} (ONNX Runtime runs float32)")
    if quantization == "4bit":
        torch_only.append("quantization 4bit (bitsandbytes NF4, a PyTorch library)")
    if attention == "flash_attention_2":
        torch_only.append("attention flash_attention_2 (a CUDA kernel for PyTorch)")
    if requested == "torch":
        return "torch", "runtime = torch"
    if requested == "onnx":
        problems = list(torch_only)
        if not onnx_installed:
            problems.append("onnxruntime is not installed (pip install onnxruntime onnx)")
        if problems:
            raise PluginError(
                "runtime onnx cannot be used with "
                + "; ".join(problems)
                + '. Change those settings, or set runtime = "torch" (or "auto").'
            )
        if device != "cpu":
            return "onnx", f"runtime = onnx (on the CPU; the {device} GPU is left unused)"
        return "onnx", "runtime = onnx"
    if device != "cpu":
        return "torch", f"{device} is available: PyTorch runs there"
    if torch_only:
        return "torch", "PyTorch for " + "; ".join(torch_only)
    if not onnx_installed:
        return "torch", "onnxruntime is not installed"
    return "onnx", "ONNX Runtime is faster than PyTorch on a CPU"


def choose_runtime(
    requested: str, *, dtype: str, quantization: str, attention: str
) -> tuple[str, str]:
    """:func:`resolve_runtime` for this machine; imports torch only when a GPU is possible
    (step 2 of the module docstring) or when PyTorch was asked for."""
    if requested not in RUNTIMES:
        raise PluginError(f"runtime {requested!r}: choose one of {', '.join(RUNTIMES)}.")
    device = "cpu"
    if requested != "onnx" and accelerator_possible():
        from visual_buffet_siglip.runtime import detect_machine

        device = detect_machine().device
    return resolve_runtime(
        requested,
        device=device,
        onnx_installed=onnx_available(),
        dtype=dtype,
        quantization=quantization,
        attention=attention,
    )
