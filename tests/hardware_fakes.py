"""Made-up machines for the hardware and hardware-advice tests."""

from __future__ import annotations

from dataclasses import replace

from visual_buffet.hardware import GB, Accelerator, HardwareInfo


def cpu_only(**changes: object) -> HardwareInfo:
    """An 8-core x86 machine with 16 GB of RAM and no GPU; override any field."""
    info = HardwareInfo(
        os="Linux 6.1 (x86_64)",
        python="CPython 3.11.7",
        cpu_model="Intel Xeon",
        cpu_cores_logical=8,
        cpu_cores_physical=4,
        cpu_flags=["avx2"],
        ram_total_bytes=16 * GB,
        ram_available_bytes=12 * GB,
        torch_version="2.6.0",
        accelerators=[],
    )
    return replace(info, **changes)  # type: ignore[arg-type]


def gpu(free_gb: float, *, bf16: bool = True, usable: bool = True) -> Accelerator:
    """An 80 GB NVIDIA card with ``free_gb`` free."""
    return Accelerator("cuda", "NVIDIA Test", 80 * GB, int(free_gb * GB), bf16, usable=usable)


def line(lines: list[str], prefix: str) -> str:
    """The one line that starts with ``prefix``."""
    matches = [text for text in lines if text.startswith(prefix)]
    assert len(matches) == 1, lines
    return matches[0]
