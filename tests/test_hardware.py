"""The hardware probe and the advice drawn from it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.hardware_fakes import cpu_only, gpu, line
from visual_buffet import hardware
from visual_buffet.hardware import (
    GB,
    INTERESTING_CPU_FLAGS,
    Accelerator,
    detect_hardware,
    parse_nvidia_smi,
    recommendations,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def test_detect_here_is_sane() -> None:
    info = detect_hardware()
    assert info.cpu_cores_logical >= 1
    assert info.cpu_cores_physical is None or 1 <= info.cpu_cores_physical <= 4096
    assert info.ram_total_bytes > 100 * 2**20
    assert info.ram_available_bytes is None or 0 < info.ram_available_bytes <= info.ram_total_bytes
    assert set(info.cpu_flags) <= set(INTERESTING_CPU_FLAGS)
    assert info.cpu_model and info.os and info.python.split()[-1] == sys.version.split()[0]
    if importlib.util.find_spec("torch") is not None:
        import torch

        assert info.torch_version == str(torch.__version__)
    for device in info.accelerators:
        assert device.kind in ("cuda", "mps")
    decoded = json.loads(json.dumps(info.to_dict()))
    assert decoded["accelerators"] == [vars(device) for device in info.accelerators]
    assert recommendations(info)  # always something to say


def test_cpu_only_advice() -> None:
    lines = recommendations(cpu_only())
    assert lines == ["Device: cpu (Intel Xeon, 8 usable cores, 12.0 GB RAM available)"]
    lines = recommendations(cpu_only(ram_available_bytes=None, cpu_cores_usable=2))
    assert lines == ["Device: cpu (Intel Xeon, 2 usable cores, 16.0 GB RAM total)"]


def test_cuda_device_line() -> None:
    lines = recommendations(cpu_only(accelerators=[gpu(79.0)]))
    assert lines == ["Device: cuda:0 (NVIDIA Test, 79.0 GB free of 80.0 GB)"]


def test_mps_device_line() -> None:
    mps = Accelerator("mps", "Apple M2 Pro GPU", 22 * GB, None, True)
    lines = recommendations(cpu_only(cpu_model="Apple M2 Pro", accelerators=[mps]))
    assert lines == ["Device: mps (Apple M2 Pro GPU, 22.0 GB)"]


def test_host_advice_names_no_plugin_or_model() -> None:
    for info in (cpu_only(), cpu_only(accelerators=[gpu(4.0, bf16=False)])):
        text = " ".join(recommendations(info)).lower()
        assert "siglip" not in text and "dtype" not in text and "batch" not in text
    assert not hasattr(hardware, "SIGLIP_WEIGHTS_FP16_BYTES")


def test_without_torch_says_how_to_get_it() -> None:
    info = cpu_only(torch_version=None, accelerators=[gpu(20.0, usable=False)])
    lines = recommendations(info)
    assert lines[0].startswith("torch is not installed")
    assert "pytorch.org" in lines[0]
    assert line(lines, "Device:").startswith("Device: cpu")  # nothing runs on the GPU
    assert not [text for text in lines if "cannot use it" in text]  # torch is the fix


def test_gpu_that_this_torch_cannot_use_is_pointed_out() -> None:
    lines = recommendations(cpu_only(accelerators=[gpu(20.0, usable=False)]))
    assert "cannot use it: install a CUDA build" in line(lines, "GPU NVIDIA Test is present")
    assert line(lines, "Device:").startswith("Device: cpu")


def test_chosen_accelerator_is_the_first_usable_gpu() -> None:
    usable = gpu(10.0)
    info = cpu_only(accelerators=[gpu(20.0, usable=False), usable])
    assert hardware.chosen_accelerator(info) is usable
    assert hardware.chosen_accelerator(cpu_only(torch_version=None, accelerators=[usable])) is None


def test_parse_nvidia_smi() -> None:
    text = "NVIDIA H100 80GB HBM3, 81559, 80000, 9.0\nTesla T4, 15360, [N/A], 7.5\n\n"
    first, second = parse_nvidia_smi(text, with_capability=True, usable=False)
    assert (first.name, first.total_memory_bytes, first.bf16) == (
        "NVIDIA H100 80GB HBM3",
        81559 * 2**20,
        True,
    )
    assert (second.index, second.free_memory_bytes, second.bf16) == (1, None, False)
    assert not first.usable
    old_driver = parse_nvidia_smi(
        "Quadro, with comma, 8192, 8000", with_capability=False, usable=True
    )
    assert old_driver[0].name == "Quadro, with comma" and old_driver[0].bf16 is None
    assert parse_nvidia_smi("garbage", with_capability=True, usable=True) == []


def hide_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "torch" else real_find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_torch_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_torch(monkeypatch)
    monkeypatch.setattr(hardware.shutil, "which", lambda name: None)
    info = detect_hardware()
    assert info.torch_version is None and info.accelerators == []
    assert info.ram_total_bytes > 0


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as nvidia-smi")
def test_without_torch_nvidia_smi_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 4090, 24564, 23000, 8.9'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    hide_torch(monkeypatch)
    info = detect_hardware()
    assert [(d.name, d.bf16, d.usable) for d in info.accelerators] == [
        ("NVIDIA GeForce RTX 4090", True, False)
    ]
    assert info.accelerators[0].free_memory_bytes == 23000 * 2**20


BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, BlockTorch())
    from visual_buffet.hardware import detect_hardware, recommendations

    info = detect_hardware()
    print(json.dumps({
        "info": info.to_dict(),
        "lines": recommendations(info),
        "torch_imported": "torch" in sys.modules,
    }))
    """
)


def test_without_torch_in_a_fresh_interpreter() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["torch_imported"] is False
    assert result["info"]["torch_version"] is None
    assert result["info"]["ram_total_bytes"] > 0
    assert result["lines"][0].startswith("torch is not installed")


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, visual_buffet.hardware; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "False"
