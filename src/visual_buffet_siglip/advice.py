"""What ``visual-buffet hardware`` says about running SigLIP on this machine.

The lines come from the same ``resolve_*`` rules that :meth:`SiglipPlugin.load` applies, fed
with what the host detected instead of a fresh torch probe, so the advice cannot drift from
what a run does. Nothing here loads a model or imports torch.
"""

from __future__ import annotations

import importlib.util

from visual_buffet.hardware import GB, HardwareInfo, chosen_accelerator
from visual_buffet.install_hints import install_command
from visual_buffet_siglip.runtime import (
    Machine,
    resolve_attention,
    resolve_batch_size,
    resolve_dtype,
)
from visual_buffet_siglip.variants import VARIANTS

DEFAULT_VARIANT = "so400m"
"""The variant the batch-size line is worked out for (the ``variant`` setting's default)."""

SO400M_TOKENS_PER_VIEW = 729
"""(384 / 14) ** 2 patches of siglip-so400m-patch14-384."""

SO400M_HIDDEN = 1152
"""Vision-tower width of so400m."""

BYTES_PER_PARAM = {"float32": 4, "float16": 2, "bfloat16": 2}


def machine_from(hardware: HardwareInfo) -> Machine:
    """The :class:`Machine` that :func:`~visual_buffet_siglip.runtime.detect_machine` would
    find, built from the host's probe (no torch import)."""
    device = chosen_accelerator(hardware)
    flash = _installed("flash_attn")
    bnb = _installed("bitsandbytes")
    if device is None:
        return Machine("cpu", False, flash, bnb)
    if device.kind == "mps":
        return Machine("mps", False, flash, bnb)
    free = device.free_memory_bytes or device.total_memory_bytes
    return Machine("cuda", bool(device.bf16), flash, bnb, free)


def weight_bytes(params_m: float, dtype: str) -> int:
    """Bytes of a model's weights at ``dtype``."""
    return int(params_m * 1e6 * BYTES_PER_PARAM[dtype])


def fits(weights: int, budget: int) -> bool:
    """Whether weights of this size run in ``budget`` bytes: a quarter on top of the weights
    for activations and cached text embeddings, and half a GB for the runtime itself."""
    return weights * 1.25 + 0.5 * GB <= budget


def hardware_advice(hardware: HardwareInfo) -> list[str]:
    """Runtime, dtype, attention, batch size and the variants that fit, one line each."""
    machine = machine_from(hardware)
    dtype, _ = resolve_dtype("auto", machine)
    lines = [_runtime_line(hardware, machine)]
    lines.append(f"dtype: {dtype} ({_dtype_reason(hardware, machine, dtype)})")

    attention = resolve_attention("auto", machine, dtype, _siglip_supports_flash(machine))
    lines.append(f"attention: {attention}{_attention_note(machine, dtype, attention)}")

    default = weight_bytes(VARIANTS[DEFAULT_VARIANT].params_m, dtype)
    batch = resolve_batch_size("auto", machine, default, SO400M_TOKENS_PER_VIEW, SO400M_HIDDEN)
    budget, where = _memory_budget(hardware, machine)
    if machine.device == "cuda" and machine.free_memory_bytes is not None:
        basis = f"{DEFAULT_VARIANT} at {dtype} in {_gb(machine.free_memory_bytes)} {where}"
    else:
        basis = f"the {machine.device} default"  # fixed: memory does not limit it there
    lines.append(f"Batch size: {batch} (for {basis})")

    fitting, too_big = [], []
    for variant in VARIANTS.values():
        size = weight_bytes(variant.params_m, dtype)
        listed = f"{variant.name} (~{_gb(size)})"
        if fits(size, budget):
            fitting.append(listed)
        elif not variant.is_bundled:  # the demo model is tiny: never worth calling too big
            too_big.append(listed)
    if fitting:
        lines.append(f"Variants that fit in {_gb(budget)} {where} at {dtype}: {', '.join(fitting)}")
    if too_big:
        lines.append(f"Too big for {_gb(budget)} {where} at {dtype}: {', '.join(too_big)}")
    return lines


def _runtime_line(hardware: HardwareInfo, machine: Machine) -> str:
    """What ``runtime = "auto"`` picks here (the rule of runtime_choice.py) and why."""
    from visual_buffet_siglip.runtime_choice import onnx_available, resolve_runtime

    onnx = onnx_available()
    runtime, why = resolve_runtime(
        "auto",
        device=machine.device,
        onnx_installed=onnx,
        dtype="auto",
        quantization="none",
        attention="auto",
    )
    if runtime == "onnx":
        cores = [n for n in (hardware.cpu_cores_physical, hardware.cpu_cores_usable) if n]
        threads = min(cores) if cores else 1
        return (
            f"runtime: onnx (ONNX Runtime, {threads} threads = physical cores: starts without "
            'torch and runs faster than PyTorch on a CPU; quantization = "8bit" runs int8, '
            "faster still; docs/performance.md has the figures)"
        )
    if machine.device == "cpu" and not onnx:
        return (
            "runtime: torch (onnxruntime is not installed: pip install onnxruntime onnx for "
            "the faster CPU runtime)"
        )
    return f"runtime: {runtime} ({why})"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked import, or a half-removed module
        return False


def _siglip_supports_flash(machine: Machine) -> bool:
    """Whether SiglipModel has Flash Attention 2, asked of transformers only where it could
    matter: importing transformers takes seconds, and without flash-attn on CUDA the answer
    is sdpa anyway."""
    if machine.device != "cuda" or not machine.flash_attn_installed:
        return False
    try:
        from transformers import SiglipModel
    except Exception:  # a broken transformers must not break the report
        return False
    return bool(getattr(SiglipModel, "_supports_flash_attn", False))


def _dtype_reason(hardware: HardwareInfo, machine: Machine, dtype: str) -> str:
    if machine.device == "cpu":
        if "amx_bf16" in hardware.cpu_flags:
            return 'this CPU has AMX bf16 units, so dtype = "bfloat16" may be faster: worth trying'
        return "bfloat16 is ~5x slower on CPUs without bf16 matrix units"
    if machine.device == "mps":
        return "MPS: half the memory of float32, and fast there"
    if dtype == "bfloat16":
        return "the GPU has bf16 units"
    return "no bf16 units on this GPU"


def _attention_note(machine: Machine, dtype: str, attention: str) -> str:
    if attention == "flash_attention_2":
        return " (flash-attn is installed)"
    if machine.device == "cuda" and dtype != "float32" and not machine.flash_attn_installed:
        return (
            f" ({install_command('flash-attn')} for flash_attention_2; sdpa is as fast"
            " on most setups)"
        )
    return ""


def _memory_budget(hardware: HardwareInfo, machine: Machine) -> tuple[int, str]:
    """Bytes a model may use, and what they are, for the "fits" lines."""
    if machine.device == "cuda":
        return machine.free_memory_bytes or 0, "free GPU memory"
    device = chosen_accelerator(hardware)
    if device is not None:  # MPS: unified memory, as much as macOS lets the GPU have
        return device.free_memory_bytes or device.total_memory_bytes or 0, "GPU memory"
    return hardware.ram_available_bytes or hardware.ram_total_bytes, "available RAM"


def _gb(size: int) -> str:
    if size < 0.1 * GB:  # the demo model: "0.0 GB" would read as nothing
        return f"{size / 10**6:.0f} MB"
    return f"{size / GB:.1f} GB"
