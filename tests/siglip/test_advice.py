"""What ``visual-buffet hardware`` says about SigLIP: the plugin's own rules, fed by the probe."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from tests.hardware_fakes import cpu_only, gpu, line
from visual_buffet.cli import app
from visual_buffet.hardware import GB, Accelerator, HardwareInfo
from visual_buffet_siglip import SiglipPlugin, advice
from visual_buffet_siglip.advice import hardware_advice
from visual_buffet_siglip.runtime import CPU_BATCH_SIZE, Machine, resolve_batch_size
from visual_buffet_siglip.variants import VARIANTS


@pytest.fixture(autouse=True)
def no_optional_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Advice as on a machine without flash-attn or bitsandbytes, whatever this one has."""
    monkeypatch.setattr(advice, "_installed", lambda module: False)


def test_cpu_only() -> None:
    lines = hardware_advice(cpu_only())
    assert line(lines, "dtype:").startswith("dtype: float32 (bfloat16 is ~5x slower")
    assert line(lines, "attention:") == "attention: sdpa"
    assert line(lines, "Batch size:").startswith(f"Batch size: {CPU_BATCH_SIZE} (")
    assert CPU_BATCH_SIZE == 8
    fits = line(lines, "Variants that fit in 12.0 GB available RAM at float32")
    for name in ("base", "so400m", "giant"):  # 7.5 GB of float32 giant weights fit in 12 GB
        assert f"{name} (~" in fits
    assert "so400m (~3.5 GB)" in fits  # 878M parameters x 4 bytes
    assert not [text for text in lines if text.startswith("Too big")]


def test_small_cpu_machine_lists_what_is_too_big() -> None:
    lines = hardware_advice(cpu_only(ram_available_bytes=3 * GB))
    assert "base (~0.8 GB)" in line(lines, "Variants that fit in 3.0 GB available RAM")
    too_big = line(lines, "Too big for 3.0 GB available RAM at float32")
    assert "so400m (~3.5 GB)" in too_big and "giant (~7.5 GB)" in too_big


def test_demo_is_never_called_too_big() -> None:
    lines = hardware_advice(cpu_only(ram_available_bytes=GB // 100))
    assert not [text for text in lines if text.startswith("Variants that fit")]
    too_big = line(lines, "Too big")
    assert "demo" not in too_big
    assert all(f"{name} (~" in too_big for name in VARIANTS if name != "demo")


def test_cpu_with_amx_suggests_trying_bf16() -> None:
    lines = hardware_advice(cpu_only(cpu_flags=["avx512f", "amx_bf16"]))
    dtype = line(lines, "dtype: float32")
    assert "AMX" in dtype and "bfloat16" in dtype


def test_big_cuda_with_bf16() -> None:
    lines = hardware_advice(cpu_only(accelerators=[gpu(79.0)]))
    assert line(lines, "dtype:") == "dtype: bfloat16 (the GPU has bf16 units)"
    assert line(lines, "attention:").startswith("attention: sdpa (")  # flash-attn missing
    machine = Machine("cuda", True, free_memory_bytes=int(79 * GB))
    batch = resolve_batch_size("auto", machine, int(878e6 * 2), 729, 1152)
    assert batch > CPU_BATCH_SIZE
    assert line(lines, "Batch size:") == (
        f"Batch size: {batch} (for so400m at bfloat16 in 79.0 GB free GPU memory)"
    )
    fits = line(lines, "Variants that fit in 79.0 GB free GPU memory at bfloat16")
    assert all(f"{name} (~" in fits for name in VARIANTS)
    assert "giant (~3.7 GB)" in fits
    assert not [text for text in lines if text.startswith("Too big")]


def test_old_4gb_cuda_without_bf16() -> None:
    lines = hardware_advice(cpu_only(accelerators=[gpu(4.0, bf16=False)]))
    assert line(lines, "dtype:") == "dtype: float16 (no bf16 units on this GPU)"
    machine = Machine("cuda", False, free_memory_bytes=4 * GB)
    batch = resolve_batch_size("auto", machine, int(878e6 * 2), 729, 1152)
    assert line(lines, "Batch size:").startswith(f"Batch size: {batch} (for so400m at float16")
    assert "so400m (~1.8 GB)" in line(lines, "Variants that fit in 4.0 GB free GPU memory")
    too_big = line(lines, "Too big for 4.0 GB free GPU memory at float16")
    assert "giant (~3.7 GB)" in too_big and "v2-giant" in too_big


def test_mps() -> None:
    mps = Accelerator("mps", "Apple M2 Pro GPU", 22 * GB, 20 * GB, True)
    info = cpu_only(cpu_model="Apple M2 Pro", cpu_flags=["neon", "bf16"], accelerators=[mps])
    lines = hardware_advice(info)
    assert line(lines, "dtype:").startswith("dtype: float16 (MPS")
    assert line(lines, "Batch size:").startswith("Batch size: 8 (")
    assert "giant" in line(lines, "Variants that fit in 20.0 GB GPU memory at float16")


def test_a_gpu_torch_cannot_use_means_cpu_advice() -> None:
    unusable = replace(gpu(20.0), usable=False)
    lines = hardware_advice(cpu_only(accelerators=[unusable]))
    assert line(lines, "dtype:").startswith("dtype: float32")
    assert "available RAM" in line(lines, "Variants that fit")


def test_flash_attention_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advice, "_installed", lambda module: module == "flash_attn")
    monkeypatch.setattr(advice, "_siglip_supports_flash", lambda machine: True)
    cuda = hardware_advice(cpu_only(accelerators=[gpu(20.0)]))
    assert line(cuda, "attention:") == "attention: flash_attention_2 (flash-attn is installed)"
    cpu = hardware_advice(cpu_only())
    assert line(cpu, "attention:") == "attention: sdpa"  # flash-attn needs CUDA


def test_the_plugin_hook_is_this_advice() -> None:
    info = cpu_only()
    assert SiglipPlugin.hardware_advice(info) == hardware_advice(info)


def test_siglip_model_has_flash_attention_in_this_transformers() -> None:
    assert advice._siglip_supports_flash(Machine("cuda", True, flash_attn_installed=True))
    assert not advice._siglip_supports_flash(Machine("cpu", flash_attn_installed=True))


# --- through the CLI ------------------------------------------------------------------------


def test_hardware_json_has_the_plugins_advice(test_plugins: object) -> None:
    result = CliRunner().invoke(app, ["hardware", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document["recommendations"], list)
    siglip = document["plugins"]["siglip"]
    assert isinstance(siglip, list)
    assert [text for text in siglip if text.startswith("dtype: ")]
    assert document["plugins"]["probe"] == []  # no hook: the base class says nothing
    assert "broken" not in document["plugins"]  # failed to import: `plugins list` says so


def test_a_failing_hook_does_not_break_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(cls: type, hardware: HardwareInfo) -> list[str]:
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(SiglipPlugin, "hardware_advice", classmethod(boom))
    result = CliRunner().invoke(app, ["hardware"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\nsiglip:\n" in result.stdout
    assert "warning: hardware advice failed: RuntimeError: probe exploded" in result.stdout
    assert "What this means:" in result.stdout
