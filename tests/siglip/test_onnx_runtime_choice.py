"""runtime = auto / torch / onnx: which runtime runs, and clear errors for impossible asks."""

from __future__ import annotations

import pytest

from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip import runtime_choice
from visual_buffet_siglip.runtime_choice import resolve_runtime

PLAIN = {"dtype": "auto", "quantization": "none", "attention": "auto"}


def choose(requested: str, device: str = "cpu", onnx: bool = True, **settings: str) -> str:
    return resolve_runtime(requested, device=device, onnx_installed=onnx, **{**PLAIN, **settings})[
        0
    ]


def test_auto_is_onnx_on_a_cpu_and_torch_on_a_gpu():
    assert choose("auto") == "onnx"
    assert choose("auto", quantization="8bit") == "onnx"  # ONNX Runtime int8
    assert choose("auto", dtype="float32", attention="sdpa") == "onnx"
    assert choose("auto", device="cuda") == "torch"
    assert choose("auto", device="mps") == "torch"


@pytest.mark.parametrize(
    "settings",
    [{"dtype": "bfloat16"}, {"quantization": "4bit"}, {"attention": "flash_attention_2"}],
)
def test_auto_uses_torch_for_what_only_pytorch_honours(settings):
    assert choose("auto", **settings) == "torch"
    with pytest.raises(PluginError) as info:
        choose("onnx", **settings)
    message = str(info.value)
    assert "runtime onnx" in message and 'runtime = "torch"' in message
    assert next(iter(settings.values())) in message


def test_without_onnxruntime():
    assert choose("auto", onnx=False) == "torch"
    with pytest.raises(PluginError, match="pip install onnxruntime"):
        choose("onnx", onnx=False)


def test_explicit_choices_win():
    assert choose("torch") == "torch"
    assert choose("onnx", device="cuda") == "onnx"


def test_no_accelerator_is_decided_without_torch(monkeypatch):
    """On a CPU-only machine `auto` never asks torch: importing it costs seconds."""
    monkeypatch.setattr(runtime_choice, "accelerator_possible", lambda: False)

    def fail() -> None:
        raise AssertionError("detect_machine (torch) was called")

    monkeypatch.setattr("visual_buffet_siglip.runtime.detect_machine", fail)
    assert runtime_choice.choose_runtime("auto", **PLAIN)[0] == "onnx"


def test_a_possible_accelerator_is_confirmed_by_torch(monkeypatch):
    from visual_buffet_siglip.runtime import Machine

    monkeypatch.setattr(runtime_choice, "accelerator_possible", lambda: True)
    monkeypatch.setattr("visual_buffet_siglip.runtime.detect_machine", lambda: Machine("cuda"))
    assert runtime_choice.choose_runtime("auto", **PLAIN)[0] == "torch"
    # A CUDA torch build whose driver does not answer: the CPU, so ONNX Runtime.
    monkeypatch.setattr("visual_buffet_siglip.runtime.detect_machine", lambda: Machine("cpu"))
    assert runtime_choice.choose_runtime("auto", **PLAIN)[0] == "onnx"


def test_this_machine_needs_no_torch_probe():
    # The project's CI and dev machines run the CPU wheel of torch (version ends in +cpu).
    import importlib.metadata

    if not importlib.metadata.version("torch").endswith("+cpu"):
        pytest.skip("not a +cpu torch build")
    assert runtime_choice.accelerator_possible() is False


# --- what `visual-buffet hardware` says --------------------------------------------------


def test_hardware_advice_names_the_runtime(monkeypatch):
    from tests.hardware_fakes import cpu_only, gpu, line
    from visual_buffet_siglip.advice import hardware_advice

    monkeypatch.setattr(runtime_choice, "onnx_available", lambda: True)
    cpu = line(hardware_advice(cpu_only()), "runtime:")
    assert cpu.startswith("runtime: onnx (ONNX Runtime, ") and "8bit" in cpu
    cuda = line(hardware_advice(cpu_only(accelerators=[gpu(20.0)])), "runtime:")
    assert cuda.startswith("runtime: torch (cuda")
    monkeypatch.setattr(runtime_choice, "onnx_available", lambda: False)
    missing = line(hardware_advice(cpu_only()), "runtime:")
    assert missing.startswith("runtime: torch (onnxruntime is not installed")
