"""What this machine offers for tagging, for ``visual-buffet hardware``.

Nothing here fails: a probe that cannot answer leaves ``None`` (or an empty list) and,
where that matters, a line in :attr:`HardwareInfo.notes`. torch is imported only inside
:func:`detect_hardware`, and only when it is installed; without it NVIDIA GPUs are still
found through ``nvidia-smi``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

GB = 10**9
"""Bytes in the "GB" these reports speak of (decimal, as GPU vendors count)."""

#: CPU features worth reporting: vector width and bf16 / int8 matrix units.
INTERESTING_CPU_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "neon",
    "asimdhp",
    "sve",
    "sve2",
    "bf16",
    "i8mm",
)

_TORCH_INSTALL_URL = "https://pytorch.org/get-started/locally/"


@dataclass
class Accelerator:
    """A GPU (or Apple's MPS device).

    Attributes:
        kind: ``"cuda"`` (NVIDIA, or AMD through ROCm) or ``"mps"``.
        name: The device's name.
        total_memory_bytes: Its memory; for MPS the working set macOS recommends.
        free_memory_bytes: Memory free right now, when known.
        bf16: Whether it computes in bfloat16 natively, when known.
        index: The device number (``cuda:INDEX``).
        usable: ``False`` when ``nvidia-smi`` sees it but the installed torch cannot use it.
    """

    kind: str
    name: str
    total_memory_bytes: int | None
    free_memory_bytes: int | None
    bf16: bool | None
    index: int = 0
    usable: bool = True


@dataclass
class HardwareInfo:
    """The machine, as far as tagging cares. ``to_dict()`` gives plain JSON types."""

    os: str
    python: str
    cpu_model: str
    cpu_cores_logical: int
    cpu_cores_physical: int | None
    cpu_flags: list[str]
    ram_total_bytes: int
    ram_available_bytes: int | None
    torch_version: str | None
    accelerators: list[Accelerator]
    cpu_cores_usable: int | None = None
    """Cores this process may use (CPU affinity and container quota), when known."""
    torch_cpu_capability: str | None = None
    """The widest SIMD kernels torch picked, e.g. ``"AVX512"``, when torch is present."""
    notes: list[str] = field(default_factory=list)
    """Probes that failed in a way the user should hear about."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict."""
        return asdict(self)


# --- detection --------------------------------------------------------------------------


def detect_hardware() -> HardwareInfo:
    """Probe the CPU, memory, torch and GPUs of this machine. Never raises."""
    cpuinfo = _read_text("/proc/cpuinfo") if sys.platform.startswith("linux") else None
    ram_total, ram_available = _memory()
    info = HardwareInfo(
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        python=f"{platform.python_implementation()} {platform.python_version()}",
        cpu_model=_cpu_model(cpuinfo),
        cpu_cores_logical=os.cpu_count() or 1,
        cpu_cores_physical=_physical_cores(cpuinfo),
        cpu_flags=_cpu_flags(cpuinfo),
        ram_total_bytes=ram_total,
        ram_available_bytes=ram_available,
        torch_version=None,
        accelerators=[],
        cpu_cores_usable=_usable_cores(),
    )
    _probe_torch(info)
    return info


def _run(command: list[str], timeout: float = 3.0) -> str | None:
    """A command's stdout, or ``None`` if it is missing, fails or hangs."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _sysctl(key: str) -> str | None:
    out = _run(["sysctl", "-n", key], timeout=2.0)
    return out.strip() if out else None


def _cpuinfo_values(cpuinfo: str | None, key: str) -> list[str]:
    if not cpuinfo:
        return []
    pattern = re.compile(rf"^{re.escape(key)}\s*:\s*(.*)$", re.MULTILINE)
    return [match.strip() for match in pattern.findall(cpuinfo)]


def _cpu_model(cpuinfo: str | None) -> str:
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        values = _cpuinfo_values(cpuinfo, key)
        if values and values[0]:
            return values[0]
    if sys.platform == "darwin":
        brand = _sysctl("machdep.cpu.brand_string")
        if brand:
            return brand
    return platform.processor() or f"{platform.machine() or 'unknown'} CPU"


def _physical_cores(cpuinfo: str | None) -> int | None:
    if sys.platform.startswith("linux"):
        cores = set()
        for topology in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/topology"):
            package = _read_text(str(topology / "physical_package_id"))
            core = _read_text(str(topology / "core_id"))
            if package is not None and core is not None:
                cores.add((package.strip(), core.strip()))
        if cores:
            return len(cores)
        pairs = set(
            zip(
                _cpuinfo_values(cpuinfo, "physical id"),
                _cpuinfo_values(cpuinfo, "core id"),
                strict=False,
            )
        )
        if pairs:
            return len(pairs)
    elif sys.platform == "darwin":
        value = _sysctl("hw.physicalcpu")
        if value and value.isdigit():
            return int(value)
    if importlib.util.find_spec("psutil") is not None:
        import psutil

        return psutil.cpu_count(logical=False)
    return None


def physical_cores_usable() -> int:
    """Physical cores this process may run on (CPU affinity and cgroup quota applied): the
    thread count for compute libraries. Never raises; at least 1."""
    cpuinfo = _read_text("/proc/cpuinfo") if sys.platform.startswith("linux") else None
    physical = _physical_cores(cpuinfo) or os.cpu_count() or 1
    usable = _usable_cores()
    return max(1, min(physical, usable) if usable else physical)


def _usable_cores() -> int | None:
    count: int | None = None
    with contextlib.suppress(AttributeError, OSError):
        count = len(os.sched_getaffinity(0))
    quota = _read_text("/sys/fs/cgroup/cpu.max")  # cgroup v2: "max 100000" or "200000 100000"
    if quota:
        parts = quota.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[1]):
            limit = max(1, math.ceil(int(parts[0]) / int(parts[1])))
            count = min(count, limit) if count else limit
    return count


def _cpu_flags(cpuinfo: str | None) -> list[str]:
    present: set[str] = set()
    if cpuinfo:
        for key in ("flags", "Features"):  # x86, ARM
            for line in _cpuinfo_values(cpuinfo, key)[:1]:
                present.update(line.split())
        if "asimd" in present:
            present.add("neon")  # AArch64 Linux calls NEON "asimd"
    elif sys.platform == "darwin":
        if platform.machine() == "arm64":
            present.add("neon")
        keys = {
            "hw.optional.avx2_0": "avx2",
            "hw.optional.avx512f": "avx512f",
            "hw.optional.arm.FEAT_BF16": "bf16",
            "hw.optional.arm.FEAT_I8MM": "i8mm",
        }
        present.update(flag for key, flag in keys.items() if _sysctl(key) == "1")
    elif platform.machine().lower() in ("arm64", "aarch64"):
        present.add("neon")
    return [flag for flag in INTERESTING_CPU_FLAGS if flag in present]


def _memory() -> tuple[int, int | None]:
    """(total, available) RAM in bytes, within a container's memory limit if it has one."""
    if sys.platform.startswith("linux"):
        meminfo = _read_text("/proc/meminfo") or ""
        fields = {
            match[0]: int(match[1]) * 1024
            for match in re.findall(r"^(\w+):\s+(\d+) kB", meminfo, re.MULTILINE)
        }
        if "MemTotal" in fields:
            total, available = fields["MemTotal"], fields.get("MemAvailable")
            limit = _cgroup_memory_limit()
            if limit is not None and limit < total:
                used = _read_text("/sys/fs/cgroup/memory.current")
                room = limit - int(used) if used and used.strip().isdigit() else limit
                total = limit
                available = min(available, room) if available is not None else room
            return total, available
    elif sys.platform == "darwin":
        value = _sysctl("hw.memsize")
        if value and value.isdigit():
            return int(value), _macos_available()
    elif sys.platform == "win32":
        windows = _windows_memory()
        if windows:
            return windows
    if importlib.util.find_spec("psutil") is not None:
        import psutil

        memory = psutil.virtual_memory()
        return int(memory.total), int(memory.available)
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0, None
    try:
        return total, page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return total, None


def _cgroup_memory_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = _read_text(path)
        if text and text.strip().isdigit():
            return int(text)
    return None


def _macos_available() -> int | None:
    out = _run(["vm_stat"], timeout=2.0)
    if not out:
        return None
    page = re.search(r"page size of (\d+) bytes", out)
    pages = dict(re.findall(r"^Pages (free|inactive|speculative):\s+(\d+)", out, re.MULTILINE))
    if not page or not pages:
        return None
    return int(page[1]) * sum(int(count) for count in pages.values())


def _windows_memory() -> tuple[int, int] | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [  # the ctypes layout of MEMORYSTATUSEX
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    try:
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return None
    except (AttributeError, OSError):
        return None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def _torch_installed() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a blocked import, or a half-removed module
        return False


def _probe_torch(info: HardwareInfo) -> None:
    if not _torch_installed():
        info.accelerators = _nvidia_smi(usable=False)
        return
    try:
        import torch
    except Exception as exc:  # a broken install must not break the report
        info.notes.append(f"torch is installed but failed to import: {exc}")
        info.accelerators = _nvidia_smi(usable=False)
        return
    info.torch_version = str(torch.__version__)
    with contextlib.suppress(Exception):
        info.torch_cpu_capability = str(torch.backends.cpu.get_cpu_capability())
    try:
        if torch.cuda.is_available():
            info.accelerators = [
                _torch_cuda_device(torch, i) for i in range(torch.cuda.device_count())
            ]
        elif torch.backends.mps.is_available():
            info.accelerators = [_torch_mps_device(torch, info)]
    except Exception as exc:  # driver trouble shows up here, not at import
        info.notes.append(f"torch could not query its GPU: {exc}")
    if not info.accelerators:
        # The GPU may be there with a CPU-only torch build: worth telling the user.
        info.accelerators = _nvidia_smi(usable=False)


def _torch_cuda_device(torch: Any, index: int) -> Accelerator:
    props = torch.cuda.get_device_properties(index)
    free: int | None = None
    with contextlib.suppress(Exception):
        free = int(torch.cuda.mem_get_info(index)[0])
    if getattr(torch.version, "hip", None):  # ROCm: torch knows best
        bf16 = bool(torch.cuda.is_bf16_supported())
    else:  # NVIDIA: bf16 tensor cores from Ampere (compute capability 8.0) on
        bf16 = int(props.major) >= 8
    return Accelerator(
        kind="cuda",
        name=str(torch.cuda.get_device_name(index)),
        total_memory_bytes=int(props.total_memory),
        free_memory_bytes=free,
        bf16=bf16,
        index=index,
    )


def _torch_mps_device(torch: Any, info: HardwareInfo) -> Accelerator:
    total: int | None = info.ram_total_bytes or None  # unified memory
    with contextlib.suppress(Exception):
        total = int(torch.mps.recommended_max_memory())
    free = info.ram_available_bytes
    if free is not None and total is not None:
        free = min(free, total)
    major = platform.mac_ver()[0].split(".")[0]
    return Accelerator(
        kind="mps",
        name=f"{info.cpu_model} GPU" if info.cpu_model.startswith("Apple") else "Apple GPU",
        total_memory_bytes=total,
        free_memory_bytes=free,
        bf16=int(major) >= 14 if major.isdigit() else None,  # MPS bf16 needs macOS 14
    )


def _nvidia_smi(*, usable: bool) -> list[Accelerator]:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return []
    base = [executable, "--format=csv,noheader,nounits"]
    out = _run([*base, "--query-gpu=name,memory.total,memory.free,compute_cap"])
    if out is not None:
        return parse_nvidia_smi(out, with_capability=True, usable=usable)
    out = _run([*base, "--query-gpu=name,memory.total,memory.free"])  # drivers before 510
    return parse_nvidia_smi(out or "", with_capability=False, usable=usable)


def parse_nvidia_smi(text: str, *, with_capability: bool, usable: bool) -> list[Accelerator]:
    """Accelerators from ``nvidia-smi --query-gpu=name,memory.total,memory.free[,compute_cap]``
    in ``csv,noheader,nounits`` form (memory in MiB)."""

    def number(value: str) -> float | None:
        try:
            return float(value)
        except ValueError:  # "[N/A]" and friends
            return None

    found = []
    for index, line in enumerate(row for row in text.splitlines() if row.strip()):
        parts = [part.strip() for part in line.rsplit(",", 3 if with_capability else 2)]
        if len(parts) != (4 if with_capability else 3):
            continue
        total, free = number(parts[1]), number(parts[2])
        capability = number(parts[3]) if with_capability else None
        found.append(
            Accelerator(
                kind="cuda",
                name=parts[0],
                total_memory_bytes=int(total * 2**20) if total is not None else None,
                free_memory_bytes=int(free * 2**20) if free is not None else None,
                bf16=capability >= 8.0 if capability is not None else None,
                index=index,
                usable=usable,
            )
        )
    return found


# --- advice -----------------------------------------------------------------------------


def chosen_accelerator(info: HardwareInfo) -> Accelerator | None:
    """The device tagging will run on: the first usable GPU, else ``None`` for the CPU."""
    if info.torch_version is None:
        return None
    return next((device for device in info.accelerators if device.usable), None)


def recommendations(info: HardwareInfo) -> list[str]:
    """What the host can say about this machine, one human-readable line each.

    Only facts that hold for every plugin: torch missing, a GPU this torch cannot use, and
    the device tagging will run on. How a plugin will use that device (dtype, batch size,
    which models fit) is the plugin's own :meth:`~visual_buffet.plugin_api.Plugin.hardware_advice`.
    """
    lines: list[str] = []
    if info.torch_version is None:
        lines.append(
            "torch is not installed, and taggers that run neural networks need it: install "
            f"the build for this machine from {_TORCH_INSTALL_URL}"
        )
    for device in info.accelerators:
        if not device.usable and info.torch_version is not None:
            lines.append(
                f"GPU {device.name} is present but this torch ({info.torch_version}) cannot "
                f"use it: install a CUDA build of torch from {_TORCH_INSTALL_URL}"
            )
    device = chosen_accelerator(info)
    if device is None:
        cores = info.cpu_cores_usable or info.cpu_cores_logical
        ram = info.ram_available_bytes or info.ram_total_bytes
        what = "available" if info.ram_available_bytes else "total"
        lines.append(f"Device: cpu ({info.cpu_model}, {cores} usable cores, {_gb(ram)} RAM {what})")
    else:
        label = f"cuda:{device.index}" if device.kind == "cuda" else "mps"
        lines.append(f"Device: {label} ({device.name}{_memory_note(device)})")
    return lines


def _gb(size: int | None) -> str:
    return "unknown" if size is None else f"{size / GB:.1f} GB"


def _memory_note(device: Accelerator) -> str:
    if device.total_memory_bytes is None:
        return ""
    if device.free_memory_bytes is None:
        return f", {_gb(device.total_memory_bytes)}"
    return f", {_gb(device.free_memory_bytes)} free of {_gb(device.total_memory_bytes)}"
