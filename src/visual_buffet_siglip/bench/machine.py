"""The machine and its load: CPU, versions, and how much of the CPU other processes used."""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (Linux /proc/stat), else None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields[:8]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    try:
        import resource
    except ImportError:  # Windows: no load figures (busy time is unknown there too)
        return 0.0
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):  # Windows
        return (math.nan, math.nan, math.nan)


@dataclass
class LoadMeter:
    """Share of the machine's CPU that other processes used while the benchmark ran."""

    start_wall: float = field(default_factory=time.perf_counter)
    start_busy: float | None = field(default_factory=_busy_cpu_seconds)
    start_own: float = field(default_factory=_own_cpu_seconds)
    load_before: tuple[float, float, float] = field(default_factory=_load_average)

    def report(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.start_wall
        busy = _busy_cpu_seconds()
        others = None
        if busy is not None and self.start_busy is not None:
            foreign = (busy - self.start_busy) - (_own_cpu_seconds() - self.start_own)
            others = max(0.0, foreign) / (wall * (os.cpu_count() or 1))
        return {
            "load_before": self.load_before,
            "load_after": _load_average(),
            "others_cpu_share": others,
            "elapsed_s": wall,
        }

    def others(self) -> float | None:
        """Share of all cores that other processes used since this meter started."""
        return self.report()["others_cpu_share"]


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def machine_info() -> dict[str, Any]:
    import PIL
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "pillow": PIL.__version__,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
        if hasattr(os, "sysconf")
        else None,
    }
