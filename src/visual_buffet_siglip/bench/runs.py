"""Running `visual-buffet` in a subprocess and reading its records, wall time and peak RSS."""

from __future__ import annotations

import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visual_buffet_siglip.bench.inputs import PHOTO_24MP
from visual_buffet_siglip.views import plan_views


class BenchError(RuntimeError):
    """A measured command failed; the message carries its stderr."""


@dataclass
class CliRun:
    """One finished CLI run: arrival time of every record (s after launch) and its peak RSS."""

    wall_s: float
    arrivals: list[float]
    records: list[dict[str, Any]]
    peak_rss: int | None  # bytes

    def mean_timing(self, key: str) -> float:
        return statistics.fmean(r["timings"].get(key, 0.0) for r in self.records)

    @property
    def views(self) -> float:
        return statistics.fmean(r["model"]["views"] for r in self.records)

    @property
    def batch(self) -> int:
        return int(self.records[0]["settings"]["batch_size"])

    @property
    def tagged(self) -> int:
        return sum(1 for r in self.records if r.get("error") is None)


def seconds_per_image(short: CliRun, long: CliRun) -> float:
    """Steady-state time per image: the wall-time difference of two runs over their extra images.

    Start-up (imports, model load, text embeddings), the first photo's one-off costs (lazy
    imports, the first forward's warm-up) and interpreter shutdown are in both runs and cancel.
    """
    extra = long.tagged - short.tagged
    if extra < 1:
        raise BenchError("the longer run must tag more images than the shorter one")
    return (long.wall_s - short.wall_s) / extra


MIN_MEASURED_S = 3.0
"""Seconds a run must spend beyond start-up for its photos' cost to stand out of the noise.

Start-up (imports, model load, first forward) varies by a second or more between runs; on
the H100 machine it was 17 s. Run 12 there tagged 16 photos at 0.04 s each: the 16-photo run
finished before the 1-photo one, and row (1) read -26.69 images/s."""
MAX_RUN_PHOTOS = 1024
"""The most photos `long_enough_run` asks for (each a copy: 7 GB of 24 MP JPEGs)."""


def long_enough_run(
    run_with: Callable[[int], CliRun],
    count: int,
    startup_s: float,
    log: Callable[[str], None],
    most: int = MAX_RUN_PHOTOS,
) -> CliRun:
    """``run_with(count)``, repeated with twice the photos until it spends ``MIN_MEASURED_S``
    beyond ``startup_s`` (or reaches ``most`` photos): a fast machine (a GPU) gets enough
    photos for a difference of wall times to measure them, a slow one runs ``count`` once."""
    while True:
        run = run_with(count)
        spent = run.wall_s - startup_s
        if spent >= MIN_MEASURED_S or count >= most:
            return run
        count = min(most, 2 * count)
        log(f"  {spent:.1f} s beyond start-up is within its noise: again with {count} photos")


def wait_peak_rss(proc: subprocess.Popen[bytes]) -> int | None:
    """Reap ``proc`` and return its own peak RSS in bytes (None where wait4 is missing)."""
    if not hasattr(os, "wait4"):
        proc.wait()
        return None
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # macOS: bytes


PEAK_RSS_WRAPPER = """
import atexit, runpy, sys

def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"VB_PEAK_RSS_KB={kb}\\n")

atexit.register(peak)
runpy.run_module("visual_buffet", run_name="__main__", alter_sys=True)
"""
"""``python -m visual_buffet`` that reports its own peak RSS (``VmHWM``) at exit. On Linux
``wait4``'s ``ru_maxrss`` of a child starts at its parent's RSS at ``fork``: a benchmark
process holding a model in memory made every child's "peak" at least that (run 14: base
PyTorch, ONNX fp32 and ONNX int8 all read 1.19 GB). ``VmHWM`` is the child's own, since exec."""


def run_cli(args: Sequence[str], env: dict[str, str]) -> CliRun:
    """Run ``python -m visual_buffet ARGS`` (jsonl to stdout), timestamping every record."""
    command = [sys.executable, "-m", "visual_buffet", *args]
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-c", PEAK_RSS_WRAPPER, *args]
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        arrivals, records = [], []
        assert proc.stdout is not None
        for line in proc.stdout:
            arrivals.append(time.perf_counter() - start)
            records.append(json.loads(line))
        peak = wait_peak_rss(proc)
        wall = time.perf_counter() - start
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    reported = [line for line in errors.splitlines() if line.startswith("VB_PEAK_RSS_KB=")]
    if reported:
        peak = int(reported[-1].removeprefix("VB_PEAK_RSS_KB=")) * 1024
    failed = [r for r in records if r.get("error")]
    if proc.returncode != 0 or failed or not records:
        detail = failed[0]["error"]["message"] if failed else errors[-3000:]
        raise BenchError(f"{shlex.join(command)} failed (exit {proc.returncode}):\n{detail}")
    return CliRun(wall, arrivals, records, peak)


WARM_START_REPEATS = 3
"""One-photo warm starts per measurement; the fastest is the start-up taken out of the others."""


def fastest_run(args: Sequence[str], env: dict[str, str], repeats: int) -> CliRun:
    """The fastest of ``repeats`` runs of the same command.

    For the one-photo warm starts that other figures subtract: interference (another
    process, a slow disk minute) only ever adds time, and one slow warm start would flatter
    every throughput computed from it (run 10: a 8.8 s warm start against 5.0 s usually).
    """
    return min((run_cli(args, env) for _ in range(max(1, repeats))), key=lambda run: run.wall_s)


def help_seconds(repeats: int) -> list[float]:
    """Wall times of ``python -m visual_buffet --help``."""
    command = [sys.executable, "-m", "visual_buffet", "--help"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            errors = done.stderr.decode(errors="replace")[-3000:]
            raise BenchError(f"{shlex.join(command)} failed (exit {done.returncode}):\n{errors}")
    return times


def tag_args(
    files: Sequence[Path],
    quality: str,
    model: Path | None,
    vocabulary: Path | None,
    variant: str | None = None,
    library: Path | None = None,
) -> list[str]:
    """``tag`` arguments. Without ``library`` the run keeps nothing (``--no-library``): the
    benchmark tags copies of the same photos again and again, which a library store would
    recognise by their content and emit without running the model."""
    args = [
        "tag",
        *map(str, files),
        "--plugin",
        "siglip",
        "--quality",
        quality,
        "--format",
        "jsonl",
        *(["--library", str(library)] if library is not None else ["--no-library"]),
    ]
    if model is not None:
        args += ["--set", f"model={model}"]
    if variant is not None:
        args += ["--variant", variant]
    if vocabulary is not None:
        args += ["--vocabulary", str(vocabulary)]
    return args


def quality_run_length(quality: str, side: int, batch: int, measured: int, batches: int) -> int:
    """24 MP photos to tag: at least ``measured`` photos and ``batches`` full batches of views."""
    views = len(plan_views(quality, PHOTO_24MP, min_window=side))
    return max(measured, math.ceil(batches * batch / views))
