"""Benchmark: how fast `visual-buffet tag` runs on this machine, next to what the machine allows.

Runnable by anyone, offline: ``python -m visual_buffet_siglip.bench [--out DIR]``. It builds
random-weight checkpoints with the released dimensions (``synthetic.build_checkpoint``: SigLIP
base-patch16-224, so400m-patch14-384), writes realistic camera JPEGs (24 MP and 12 MP), and
prints one Markdown table; every figure is measured in the same run. ``--quick-run`` does the
same with the tiny checkpoint and a few images (a CI smoke test, under a minute).

How each figure is measured (docs/performance.md has the rows and their targets):

- CLI figures run ``python -m visual_buffet tag FILES --plugin siglip --set model=CKPT
  --vocabulary LABELS --quality Q --format jsonl`` in a subprocess, with
  ``VISUAL_BUFFET_CACHE_DIR`` / ``VISUAL_BUFFET_CONFIG`` in the work folder. Time per image
  is a difference of wall times, so start-up (imports, model load, text embeddings), the
  first photo's one-off costs and interpreter shutdown cancel out: throughput (1) =
  ``(wall(N photos) - wall(1 photo)) / (N - 1)``. Timing inside one run instead (records
  arrive as images finish) would flatter it: the decode threads work ahead while the first
  batch runs, so later batches find their photos decoded. Quality levels: quick as above;
  start-up = ``wall(1 photo) - quick's time per photo``; other levels
  ``(wall(n photos) - start-up) / n``. Peak RSS of a run comes from ``os.wait4`` on that
  one child.
- The vision-tower ceiling times ``model.get_image_features(pixel_values=...)`` under
  ``torch.inference_mode`` on tensors the plugin prepared beforehand from the same photos, at
  the batch size the CLI resolved, after one warm-up batch; same process settings (threads,
  dtype, attention) as the CLI, because the model comes from the plugin's own loader.
- The transformers pipeline runs in a child process: one warm-up call with 2 labels, then one
  timed call with the same 24 MP photo, all labels and SigLIP's template.
- Cold vs warm start: wall time of the whole command tagging one photo, first with an empty
  text-embedding cache, then with the cache the first run wrote.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visual_buffet_siglip.variants import demo_model_dir
from visual_buffet_siglip.views import QUALITY_LEVELS, plan_views
from visual_buffet_siglip.vocabulary import TEMPLATE

HYPOTHESIS_TEMPLATE = TEMPLATE.replace("{label}", "{}")  # the pipeline's placeholder syntax
CEILING_REPEATS = 3
"""Timings of the vision tower (2); the best is the ceiling."""
PHOTO_24MP = (6000, 4000)
PHOTO_12MP = (4032, 3024)
BATCH_SWEEP = (1, 4, 8, 16)
SIZE_NAMES = {
    "tiny": "tiny (test dims)",
    "base": "base-patch16-224 dims",
    "so400m": "so400m-patch14-384 dims",
}


class BenchError(RuntimeError):
    """A measured command failed; the message carries its stderr."""


# --- inputs: photos, labels, checkpoints --------------------------------------------------


def synthetic_photo(size: tuple[int, int], seed: int) -> Any:
    """A photo-like RGB image: smooth colour field, shapes, texture and sensor grain.

    Flat or random-noise images would decode unrealistically fast or slow; this one compresses
    to roughly what a camera writes at quality 90 (about 6.5 MB at 24 MP).
    """
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    width, height = size
    base = Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(base)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(width // 40, width // 4))
        y1 = y0 + int(rng.integers(height // 40, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.integers(0, 2) else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    texture = Image.fromarray(rng.integers(0, 256, (height // 16, width // 16), dtype=np.uint8))
    mid = np.asarray(texture.resize(size, Image.Resampling.BILINEAR), dtype=np.int16) // 5 - 25
    tile = rng.normal(0, 6, (512, 512, 1)).astype(np.int16)
    grain = np.tile(tile, (height // 512 + 1, width // 512 + 1, 3))[:height, :width]
    pixels = np.asarray(base, dtype=np.int16) + mid[..., None] + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_photo(path: Path, size: tuple[int, int], seed: int, *, preview: bool) -> Path:
    """Write a synthetic photo JPEG (quality 90, EXIF make/model/orientation) once.

    ``preview``: as a camera writes it, with a 1080-px embedded preview (MPF Large
    Thumbnail, :mod:`visual_buffet.previews`); without: as an editor exports it.
    """
    from PIL import Image

    from visual_buffet.previews import jpeg_with_preview

    if not path.is_file():
        exif = Image.Exif()
        exif[0x010F] = "Visual Buffet"  # Make
        exif[0x0110] = f"synthetic {size[0]}x{size[1]}"  # Model
        exif[0x0112] = 1  # Orientation
        photo = synthetic_photo(size, seed)
        partial = path.with_suffix(".part")
        if preview:
            partial.write_bytes(jpeg_with_preview(photo, quality=90, exif=exif))
        else:
            photo.save(partial, "JPEG", quality=90, exif=exif)
        partial.replace(path)
    return path


def photo_copies(folder: Path, sources: Sequence[Path], count: int) -> list[Path]:
    """``count`` files cycling through ``sources``: copies, as the CLI tags each real file once."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"photo-{i:04d}-{source.stem}.jpg"
        if not target.is_file():
            shutil.copyfile(source, target)
        files.append(target)
    return files


def benchmark_labels(count: int) -> tuple[list[str], str]:
    """The first ``count`` labels of vocab/photo-tags.txt, or synthesized ones if it is shorter."""
    from visual_buffet.plugin_api import PluginError
    from visual_buffet_siglip.synthetic import VOCABULARY_WORDS
    from visual_buffet_siglip.vocabulary import (
        builtin_vocabulary_path,
        prepare_labels,
        read_vocabulary_file,
    )

    try:
        builtin = read_vocabulary_file(builtin_vocabulary_path())
    except PluginError:
        builtin = []
    if len(builtin) >= count:
        return builtin[:count], "vocab/photo-tags.txt"
    words = list(VOCABULARY_WORDS)
    pairs = [f"{a} {b}" for a in words for b in words if a != b]
    random.Random(0).shuffle(pairs)
    return prepare_labels([*words, *pairs])[:count], "synthesized (vocab/photo-tags.txt is shorter)"


def checkpoint(work: Path, size: str) -> Path:
    """A random-weight SigLIP v1 checkpoint of ``size``, built once per work folder."""
    from visual_buffet_siglip.synthetic import build_checkpoint

    folder = work / f"checkpoint-{size}"
    if not (folder / ".complete").is_file():
        build_checkpoint(folder, "v1", size, seed=0)  # type: ignore[arg-type]
        (folder / ".complete").write_text("ok\n")
    return folder


def input_side(folder: Path) -> int:
    return int(json.loads((folder / "config.json").read_text())["vision_config"]["image_size"])


# --- running the CLI ----------------------------------------------------------------------


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


def _wait_peak_rss(proc: subprocess.Popen[bytes]) -> int | None:
    """Reap ``proc`` and return its own peak RSS in bytes (None where wait4 is missing)."""
    if not hasattr(os, "wait4"):
        proc.wait()
        return None
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # macOS: bytes


def run_cli(args: Sequence[str], env: dict[str, str]) -> CliRun:
    """Run ``python -m visual_buffet ARGS`` (jsonl to stdout), timestamping every record."""
    command = [sys.executable, "-m", "visual_buffet", *args]
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        arrivals, records = [], []
        assert proc.stdout is not None
        for line in proc.stdout:
            arrivals.append(time.perf_counter() - start)
            records.append(json.loads(line))
        peak = _wait_peak_rss(proc)
        wall = time.perf_counter() - start
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    failed = [r for r in records if r.get("error")]
    if proc.returncode != 0 or failed or not records:
        detail = failed[0]["error"]["message"] if failed else errors[-3000:]
        raise BenchError(f"{shlex.join(command)} failed (exit {proc.returncode}):\n{detail}")
    return CliRun(wall, arrivals, records, peak)


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
) -> list[str]:
    args = [
        "tag",
        *map(str, files),
        "--plugin",
        "siglip",
        "--quality",
        quality,
        "--format",
        "jsonl",
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


# --- in-process measurements ------------------------------------------------------------------


def vision_images_per_second(
    model: Any, pool: Sequence[Any], batch: int, min_images: int, repeats: int = 1
) -> float:
    """Images/s of the bare vision tower on pre-built pixel tensors (after one warm-up batch).

    With ``repeats``, the best of that many timings of ``min_images``: a ceiling must not be
    lowered by a slow minute of a shared machine (run 7 measured one 25 % below the CLI).
    """
    import torch

    weight = next(model.parameters())  # the tensors go where the plugin's forward puts them
    pixels = torch.cat([pool[i % len(pool)] for i in range(batch)]).to(weight.device, weight.dtype)
    sync = torch.cuda.synchronize if weight.device.type == "cuda" else (lambda: None)
    rates = []
    with torch.inference_mode():
        model.get_image_features(pixel_values=pixels)
        sync()
        for _ in range(repeats):
            done, start = 0, time.perf_counter()
            while done < min_images:
                model.get_image_features(pixel_values=pixels)
                done += batch
            sync()
            rates.append(done / (time.perf_counter() - start))
    return max(rates)


def median_ms(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pipeline_child(argv: Sequence[str]) -> None:
    """In a child process: time transformers' zero-shot pipeline; print JSON (seconds)."""
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    folder, image, labels_file, *counts = argv
    labels = Path(labels_file).read_text(encoding="utf-8").splitlines()
    device = "cuda" if torch.cuda.is_available() else "cpu"  # where the plugin would run
    classify = pipeline("zero-shot-image-classification", model=folder, device=device)
    classify(image, candidate_labels=labels[:2], hypothesis_template=HYPOTHESIS_TEMPLATE)
    seconds = {}
    for count in map(int, counts):
        start = time.perf_counter()
        classify(image, candidate_labels=labels[:count], hypothesis_template=HYPOTHESIS_TEMPLATE)
        seconds[count] = time.perf_counter() - start
    print(json.dumps(seconds))


def pipeline_seconds(
    folder: Path, image: Path, labels_file: Path, labels: int, measured: int, env: dict[str, str]
) -> tuple[float, str, int | None]:
    """Seconds of one pipeline call with ``labels`` labels; fewer measured: fitted a + b*labels."""
    counts = [labels] if measured >= labels else [max(1, measured // 2), measured]
    code = (
        "import sys; from visual_buffet_siglip.bench import pipeline_child; "
        "pipeline_child(sys.argv[1:])"
    )
    command = [
        sys.executable,
        "-c",
        code,
        str(folder),
        str(image),
        str(labels_file),
        *map(str, counts),
    ]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read()
        peak = _wait_peak_rss(proc)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(f"transformers pipeline failed:\n{errors[-3000:]}")
    times = {int(k): v for k, v in json.loads(out.splitlines()[-1]).items()}
    if len(counts) == 1:
        return times[labels], f"measured with {labels:,} labels", peak
    low, high = counts
    slope = (times[high] - times[low]) / (high - low)
    estimate = times[high] + slope * (labels - high)
    return (
        estimate,
        (
            f"extrapolated: {times[low]:.1f} s at {low} and {times[high]:.1f} s at "
            f"{high} labels, fitted a + b x labels"
        ),
        peak,
    )


# --- load on the machine ---------------------------------------------------------------------


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


def _pct(share: float | None) -> str:
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


# --- the benchmark ---------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    what: str
    result: str
    target: str = ""
    status: str = ""


def _status(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _gb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e9:.2f} GB"


class Bench:
    """Runs the measurements in order, collecting table rows and raw results."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rows: list[Row] = []
        self.quality_rows: list[dict[str, Any]] = []
        self.batch_rows: list[dict[str, Any]] = []
        self.extra_rows: list[Row] = []
        self.results: dict[str, Any] = {}
        self.env = {
            **os.environ,
            "VISUAL_BUFFET_CONFIG": str(work / "config.toml"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_VERBOSITY": "error",
        }

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def env_for(self, cache: Path) -> dict[str, str]:
        return {**self.env, "VISUAL_BUFFET_CACHE_DIR": str(cache)}

    # -- inputs --
    def prepare_inputs(self) -> None:
        a = self.args
        sources = self.work / "sources"
        sources.mkdir(parents=True, exist_ok=True)
        self.log("writing synthetic camera JPEGs")
        n24 = 1 if a.quick_run else 2

        def photos(preview: bool) -> tuple[list[Path], list[Path]]:
            kind = "camera" if preview else "export"
            big = [
                write_photo(sources / f"24mp-{i}-{kind}.jpg", PHOTO_24MP, i, preview=preview)
                for i in range(n24)
            ]
            mid = [
                write_photo(sources / f"12mp-{i}-{kind}.jpg", PHOTO_12MP, 100 + i, preview=preview)
                for i in range(n24)
            ]
            return big, [p for pair in zip(big, mid, strict=True) for p in pair]

        # Camera JPEGs carry an embedded preview; the same photos exported by an editor do not.
        self.big, self.mixed = photos(preview=True)
        self.big_export, self.mixed_export = photos(preview=False)
        labels, origin = benchmark_labels(a.labels)
        self.labels = labels
        self.labels_file = self.work / f"labels-{len(labels)}.txt"
        self.labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
        self.results["inputs"] = {
            "labels": len(labels),
            "labels_from": origin,
            "photos": {p.name: p.stat().st_size for p in self.mixed + self.mixed_export},
        }

    # -- the target rows (1)-(6) on the first size --
    def target_rows(self, size: str) -> None:
        a = self.args
        folder = checkpoint(self.work, size)
        cache = self.work / f"cache-{size}"
        shutil.rmtree(cache, ignore_errors=True)
        env = self.env_for(cache)
        one = photo_copies(self.work / "photos-one", self.big[:1], 1)

        self.log(f"{size}: cold start (empty text cache, {len(self.labels)} labels)")
        cold = run_cli(tag_args(one, "quick", folder, self.labels_file), env)
        self.log(f"{size}: warm start")
        warm = run_cli(tag_args(one, "quick", folder, self.labels_file), env)
        self.log(f"{size}: throughput, {a.images} camera photos")
        photos = photo_copies(self.work / "photos-mixed", self.mixed, a.images)
        meter = LoadMeter()
        tagged = run_cli(tag_args(photos, "quick", folder, self.labels_file), env)
        tagged_others = meter.others()
        per_image = seconds_per_image(warm, tagged)
        batch = tagged.batch
        self.warm = warm
        self.log(f"{size}: throughput, {a.images} exported photos (no embedded preview)")
        one_export = photo_copies(self.work / "photos-one", self.big_export[:1], 1)
        warm_export = run_cli(tag_args(one_export, "quick", folder, self.labels_file), env)
        exported = photo_copies(self.work / "photos-mixed", self.mixed_export, a.images)
        meter = LoadMeter()
        tagged_export = run_cli(tag_args(exported, "quick", folder, self.labels_file), env)
        export_others = meter.others()
        export_per_image = seconds_per_image(warm_export, tagged_export)

        measured = self.in_process(folder, cache, batch)
        ceiling, weights = measured["ceiling"], measured["weights"]
        ceiling_others = measured["ceiling_others"]
        full_ms, max_side = measured["full_ms"], measured["max_side"]
        quick_ms, decode_only_ms = measured["quick_ms"], measured["decode_only_ms"]
        export_ms, export_decode_ms = measured["export_ms"], measured["export_decode_ms"]

        self.log(f"{size}: transformers pipeline, 1 photo x {len(self.labels)} labels")
        pipe_s, pipe_note, pipe_rss = pipeline_seconds(
            folder,
            self.big[0],
            self.labels_file,
            len(self.labels),
            a.pipeline_labels or len(self.labels),
            env,
        )

        self.log("--help")
        helps = help_seconds(a.repeats)

        rate = 1 / per_image
        dims = SIZE_NAMES[size]
        cold_text = cold.records[0]["model"]["text_ms"] / 1000
        warm_text = warm.records[0]["model"]["text_ms"] / 1000
        export_rate = 1 / export_per_image

        def breakdown(run: CliRun) -> str:
            return (
                f"per image in worker threads: decode {run.mean_timing('decode_ms'):.0f} ms,"
                f" prepare {run.mean_timing('prepare_ms'):.0f} ms; model "
                f"{run.mean_timing('model_ms'):.0f} ms"
            )

        self.rows += [
            Row(
                "1",
                f"`visual-buffet tag --quality quick`, {len(self.labels):,} labels, warm "
                f"cache, {dims}: (wall time of {a.images} photos - wall time of the 1-photo "
                f"warm start (4b)) / {a.images - 1}; 24 MP and 12 MP camera JPEGs",
                f"{rate:.2f} images/s ({per_image:.3f} s/image; {breakdown(tagged)}; other "
                f"processes used {_pct(tagged_others)} of the CPU meanwhile)",
                ">= 0.9 x (2)",
                f"{_status(rate >= 0.9 * ceiling)} ({rate / ceiling:.2f} x)",
            ),
            Row(
                "1x",
                "as (1), on the same photos exported without an embedded preview (the whole "
                "24 MP JPEG is Huffman-decoded, at 1/8 scale); its own 1-photo warm start",
                f"{export_rate:.2f} images/s ({export_per_image:.3f} s/image; "
                f"{breakdown(tagged_export)}; other processes used {_pct(export_others)} of "
                "the CPU meanwhile)",
                ">= 0.9 x (2)",
                f"{_status(export_rate >= 0.9 * ceiling)} ({export_rate / ceiling:.2f} x)",
            ),
            Row(
                "2",
                f"bare vision tower, pre-processed tensors, batch {batch} (the ceiling)",
                f"{ceiling:.2f} images/s (other processes used {_pct(ceiling_others)} of the "
                "CPU meanwhile)",
                "",
                "",
            ),
            Row(
                "3",
                f'transformers `pipeline("zero-shot-image-classification")`, same '
                f"checkpoint, one 24 MP photo x {len(self.labels):,} labels",
                f"{pipe_s:.2f} s/image = {pipe_s / per_image:,.0f} x (1)'s time per image "
                f"({pipe_note}; peak RSS {_gb(pipe_rss)})",
                ">= 100 x",
                _status(pipe_s / per_image >= 100),
            ),
            Row(
                "4a",
                f"cold start: 1 photo, text cache empty, {len(self.labels):,} labels",
                f"{cold.wall_s:.2f} s (text embeddings {cold_text:.2f} s)",
                "",
                "",
            ),
            Row(
                "4b",
                "warm start: same command, text cache present",
                f"{warm.wall_s:.2f} s (text embeddings {warm_text:.3f} s); cold/warm = "
                f"{cold.wall_s / warm.wall_s:.1f} x",
                ">= 10 x faster",
                _status(cold.wall_s >= 10 * warm.wall_s),
            ),
            Row("5a", "24 MP JPEG, full decode (`load_image(path)`)", f"{full_ms:.0f} ms"),
            Row(
                "5b",
                f"24 MP camera JPEG, quick: `load_image(path, max_side={max_side})` + plugin "
                "prepare (decodes the embedded preview)",
                f"{quick_ms:.0f} ms = {quick_ms / full_ms:.0%} of (5a) (decode "
                f"alone {decode_only_ms:.0f} ms)",
                "<= 25 % of (5a)",
                _status(quick_ms <= 0.25 * full_ms),
            ),
            Row(
                "5x",
                "as (5b), the same photo exported without a preview (main image at 1/8 scale)",
                f"{export_ms:.0f} ms = {export_ms / full_ms:.0%} of (5a) (decode "
                f"alone {export_decode_ms:.0f} ms)",
                "<= 25 % of (5a)",
                _status(export_ms <= 0.25 * full_ms),
            ),
            Row(
                "6a",
                "`visual-buffet --help` wall time (median of "
                f"{len(helps)}, min {min(helps):.2f} s)",
                f"{statistics.median(helps):.2f} s",
                "< 0.5 s",
                _status(statistics.median(helps) < 0.5),
            ),
            Row(
                "6b",
                f"peak RSS of the tagging run of {a.images} photos in (1)",
                f"{_gb(tagged.peak_rss)} = "
                + (
                    f"{tagged.peak_rss / weights:.2f} x the weights ({_gb(weights)} fp32)"
                    if tagged.peak_rss
                    else "n/a"
                ),
                "< 1.5 x weights",
                _status(tagged.peak_rss < 1.5 * weights) if tagged.peak_rss else "n/a",
            ),
        ]
        self.cpu_batch = batch
        self.results["targets"] = {
            "size": size,
            "batch": batch,
            "tag_images_per_s": rate,
            "tag_images_per_s_exported": export_rate,
            "vision_images_per_s": ceiling,
            "pipeline_s": pipe_s,
            "pipeline_note": pipe_note,
            "pipeline_peak_rss": pipe_rss,
            "cold_s": cold.wall_s,
            "warm_s": warm.wall_s,
            "cold_text_s": cold_text,
            "full_decode_ms": full_ms,
            "quick_prepare_ms": quick_ms,
            "quick_decode_ms": decode_only_ms,
            "quick_prepare_ms_exported": export_ms,
            "quick_decode_ms_exported": export_decode_ms,
            "help_s": helps,
            "peak_rss": tagged.peak_rss,
            "weight_bytes": weights,
            # For comparison only: time per photo from record arrivals after the first batch,
            # inside the one run (flattered by the decode threads' head start).
            "in_run_seconds_per_image": (tagged.arrivals[-1] - tagged.arrivals[batch - 1])
            / max(1, len(tagged.arrivals) - batch),
            "breakdown_ms": {
                k: tagged.mean_timing(k) for k in ("decode_ms", "prepare_ms", "model_ms")
            },
        }

    def in_process(self, folder: Path, cache: Path, batch: int) -> dict[str, Any]:
        """Decode timings (5) and the vision tower (2), with the plugin's own loader."""
        from visual_buffet.images import load_image
        from visual_buffet_siglip.plugin import SiglipPlugin

        a = self.args
        self.log("in-process plugin: decode timings, vision tower")
        os.environ["VISUAL_BUFFET_CACHE_DIR"] = str(cache)  # the text cache the CLI wrote
        plugin = SiglipPlugin(
            {"model": str(folder), "quality": "quick", "custom_vocabulary": str(self.labels_file)}
        )
        plugin.load()
        max_side = plugin.max_image_side()
        big, export = self.big[0], self.big_export[0]
        load_image(big)  # the files into the page cache
        load_image(export)
        full_ms = median_ms(lambda: load_image(big), a.repeats)

        def quick(path: Path) -> Any:
            return plugin.prepare(load_image(path, max_side=max_side))

        quick_ms = median_ms(lambda: quick(big), a.repeats)
        decode_only_ms = median_ms(lambda: load_image(big, max_side=max_side), a.repeats)
        export_ms = median_ms(lambda: quick(export), a.repeats)
        export_decode_ms = median_ms(lambda: load_image(export, max_side=max_side), a.repeats)
        pool = [
            plugin.prepare(load_image(p, max_side=max_side)).inputs["pixel_values"]
            for p in self.mixed
        ]
        model = plugin._loaded.model
        meter = LoadMeter()
        ceiling = vision_images_per_second(model, pool, batch, a.images, CEILING_REPEATS)
        ceiling_others = meter.others()
        for b in BATCH_SWEEP:
            self.log(f"vision tower, batch {b}")
            meter = LoadMeter()
            rate = vision_images_per_second(model, pool, b, max(2 * b, a.sweep_images))
            self.batch_rows.append({"batch": b, "images_per_s": rate, "others": meter.others()})
        weights = plugin._loaded.weight_bytes
        plugin.close()
        return {
            "ceiling": ceiling,
            "ceiling_others": ceiling_others,
            "weights": weights,
            "full_ms": full_ms,
            "quick_ms": quick_ms,
            "decode_only_ms": decode_only_ms,
            "export_ms": export_ms,
            "export_decode_ms": export_decode_ms,
            "max_side": max_side,
        }

    # -- time per image of each quality level --
    def quality_levels(
        self,
        name: str,
        folder: Path | None,
        variant: str | None,
        vocabulary: Path | None,
        cache: Path,
        warm: CliRun | None = None,
        scale: int = 1,
    ) -> None:
        """Seconds per 24 MP photo of each level, with start-up taken out.

        quick: ``(wall(n photos) - wall(1 photo)) / (n - 1)``, against ``warm`` (a one-photo
        quick run of the same 24 MP photo). Start-up = ``wall(1 photo) - quick's time per
        photo``; the other levels: ``(wall(n photos) - start-up) / n``.
        """
        a = self.args
        env = self.env_for(cache)
        side = input_side(folder if folder is not None else demo_model_dir())
        if warm is None:
            one = photo_copies(self.work / "photos-one", self.big[:1], 1)
            self.log(f"{name}: one photo (fills the text cache), then one photo warm")
            run_cli(tag_args(one, "quick", folder, vocabulary, variant), env)
            warm = run_cli(tag_args(one, "quick", folder, vocabulary, variant), env)
        startup = None
        for quality in QUALITY_LEVELS:  # quick first: start-up comes from it
            measured = a.quality_images * scale
            count = quality_run_length(quality, side, self.cpu_batch, measured, a.quality_batches)
            if startup is None:
                count = max(count, 2)
            self.log(f"{name}: quality {quality}, {count} x 24 MP")
            files = photo_copies(self.work / "photos-24mp", self.big, count)
            meter = LoadMeter()
            run = run_cli(tag_args(files, quality, folder, vocabulary, variant), env)
            if startup is None:
                seconds = seconds_per_image(warm, run)
                startup = warm.wall_s - seconds
            else:
                seconds = (run.wall_s - startup) / count
            self.quality_rows.append(
                {
                    "model": name,
                    "quality": quality,
                    "photos": count,
                    "views": run.views,
                    "seconds": seconds,
                    "decode_ms": run.mean_timing("decode_ms"),
                    "prepare_ms": run.mean_timing("prepare_ms"),
                    "model_ms": run.mean_timing("model_ms"),
                    "others": meter.others(),
                }
            )

    # -- other sizes: ceiling and throughput only --
    def other_size(self, size: str) -> None:
        a = self.args
        folder = checkpoint(self.work, size)
        cache = self.work / f"cache-{size}"
        shutil.rmtree(cache, ignore_errors=True)  # the first run must start cold
        env = self.env_for(cache)
        one = photo_copies(self.work / "photos-one", self.big[:1], 1)
        labels = self.labels[: a.other_labels]
        labels_file = self.work / f"labels-{len(labels)}.txt"
        labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
        self.log(f"{size}: first run (fills the text cache: {len(labels)} labels)")
        first = run_cli(tag_args(one, "quick", folder, labels_file), env)
        self.log(f"{size}: warm start, 1 photo")
        warm = run_cli(tag_args(one, "quick", folder, labels_file), env)
        count = max(2 * self.cpu_batch, a.images // 3)
        self.log(f"{size}: throughput, {count} photos")
        photos = photo_copies(self.work / "photos-mixed", self.mixed, count)
        tagged = run_cli(tag_args(photos, "quick", folder, labels_file), env)
        per_image = seconds_per_image(warm, tagged)

        from visual_buffet.images import load_image
        from visual_buffet_siglip.plugin import SiglipPlugin

        os.environ["VISUAL_BUFFET_CACHE_DIR"] = str(cache)
        plugin = SiglipPlugin(
            {"model": str(folder), "quality": "quick", "custom_vocabulary": str(labels_file)}
        )
        plugin.load()
        max_side = plugin.max_image_side()
        pool = [
            plugin.prepare(load_image(p, max_side=max_side)).inputs["pixel_values"]
            for p in self.mixed
        ]
        rates = {}
        for b in sorted({1, tagged.batch}):
            self.log(f"{size}: vision tower, batch {b}")
            rates[b] = vision_images_per_second(plugin._loaded.model, pool, b, max(b, 4))
        weights = plugin._loaded.weight_bytes
        plugin.close()
        del plugin, pool
        dims = SIZE_NAMES[size]
        self.extra_rows += [
            Row(
                f"{size}-1",
                f"{dims}: `tag --quality quick`, {len(labels):,} labels, warm "
                f"cache, (wall of {count} photos - wall of 1 photo) / {count - 1}",
                f"{1 / per_image:.2f} images/s ({per_image:.2f} s/image)",
            ),
            *(
                Row(f"{size}-2", f"{dims}: bare vision tower, batch {b}", f"{r:.2f} images/s")
                for b, r in rates.items()
            ),
            Row(
                f"{size}-4",
                f"{dims}: first run, 1 photo, text cache empty, {len(labels):,} labels",
                f"{first.wall_s:.1f} s (text embeddings "
                f"{first.records[0]['model']['text_ms'] / 1000:.1f} s); warm start "
                f"{warm.wall_s:.1f} s",
            ),
            Row(
                f"{size}-6",
                f"{dims}: peak RSS of the tagging run of {count} photos",
                f"{_gb(tagged.peak_rss)} (weights {_gb(weights)} fp32)",
            ),
        ]
        self.results[size] = {
            "tag_images_per_s": 1 / per_image,
            "vision_images_per_s": rates,
            "first_run_s": first.wall_s,
            "peak_rss": tagged.peak_rss,
            "weight_bytes": weights,
        }


def render(
    bench: Bench, info: dict[str, Any], load: dict[str, Any], command: str, when: str
) -> str:
    """The Markdown report."""
    from visual_buffet_siglip.runtime import CPU_BATCH_SIZE

    inputs = bench.results["inputs"]
    others = load["others_cpu_share"]
    lines = [
        f"## Visual Buffet benchmark, {when}",
        "",
        f"- Machine: {info['cpu']}, {info['cores']} logical cores, {info['memory_gb']} GB RAM; "
        f"{info['system']}",
        f"- Software: Python {info['python']}, torch {info['torch']} ({info['torch_threads']} "
        f"threads), transformers {info['transformers']}, Pillow {info['pillow']}",
        f"- Load: load average {load['load_before'][0]:.2f} before, {load['load_after'][0]:.2f}"
        " after; other processes used "
        + ("n/a" if others is None else f"{others:.0%}")
        + " of the CPU during the run "
        f"({load['elapsed_s'] / 60:.1f} min)",
        f"- Command: `{command}`",
        f"- Inputs: random-weight SigLIP v1 checkpoints (float32, sdpa); {inputs['labels']:,}"
        f" labels, {inputs['labels_from']}; synthetic photo JPEGs (q90; `camera`: with a "
        "1080-px embedded preview as cameras write them, `export`: the same photo without, as "
        "an editor exports it): "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in inputs["photos"].items()),
        "",
        "| # | measurement | result | target | status |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.key} | {r.what} | {r.result} | {r.target} | {r.status} |"
        for r in bench.rows + bench.extra_rows
    ]
    best = max(bench.batch_rows, key=lambda r: r["images_per_s"])
    lines += [
        "",
        f"Bare vision tower by batch size ({bench.results['targets']['size']}; the "
        f"plugin's CPU default, `CPU_BATCH_SIZE`, is {CPU_BATCH_SIZE}):",
        "",
        "| batch | images/s | ms/image | other processes' CPU share meanwhile |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['batch']}{' (best)' if r is best else ''} | {r['images_per_s']:.2f} | "
        f"{1000 / r['images_per_s']:.0f} | {_pct(r['others'])} |"
        for r in bench.batch_rows
    ]
    lines += [
        "",
        "Time per 24 MP photo (6000x4000 JPEG) by quality level, start-up taken out (quick: "
        "(wall of n photos - wall of 1) / (n - 1); start-up = wall of 1 - that; other levels: "
        "(wall of n photos - start-up) / n):",
        "",
        "| model | quality | n | views/photo | s/photo | decode ms | prepare ms | model ms "
        "| others' CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bench.quality_rows:
        if "skipped" in r:
            lines.append(f"| {r['model']} | all | | | skipped: {r['skipped']} | | | | |")
            continue
        # Below 5 ms a photo the difference of two wall times is within their noise (it even
        # came out negative for the demo model at quick); bench.json keeps the raw figure.
        seconds = "< 0.01" if r["seconds"] < 0.005 else f"{r['seconds']:.2f}"
        lines.append(
            f"| {r['model']} | {r['quality']} | {r['photos']} | {r['views']:.0f} | "
            f"{seconds} | {r['decode_ms']:.0f} | {r['prepare_ms']:.0f} | "
            f"{r['model_ms']:.0f} | {_pct(r['others'])} |"
        )
    lines += [
        "",
        "decode and prepare (per photo, summed over its views) run in worker threads beside "
        "the model, on the same cores; model ms is the photo's share of its batches' forward "
        "time.",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m visual_buffet_siglip.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="write bench.md and bench.json here")
    parser.add_argument(
        "--work",
        type=Path,
        help="keep checkpoints and photos here and reuse them (default: a "
        "temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--images",
        type=int,
        default=48,
        help="photos in the throughput run (1) (default 48)",
    )
    parser.add_argument("--labels", type=int, default=1000, help="labels (default 1000)")
    parser.add_argument(
        "--sizes",
        default="base,so400m",
        help="checkpoint sizes, comma-separated; the first gets rows (1)-(6) "
        "and the quality levels (default base,so400m)",
    )
    parser.add_argument(
        "--other-labels",
        type=int,
        default=100,
        help="labels for sizes after the first (default 100: beyond filling "
        "the text cache once, labels cost one views x labels product)",
    )
    parser.add_argument(
        "--pipeline-labels",
        type=int,
        default=0,
        help="time the transformers pipeline with this many labels and "
        "extrapolate (default: all labels, measured)",
    )
    parser.add_argument(
        "--quality-images",
        type=int,
        default=2,
        help="at least this many 24 MP photos per quality level (default 2)",
    )
    parser.add_argument(
        "--sweep-images",
        type=int,
        default=16,
        help="images per batch size in the vision-tower sweep (default 16)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="repeats of the decode and --help timings (default 5)",
    )
    parser.add_argument(
        "--quick-run",
        action="store_true",
        help="tiny checkpoint and few photos: a smoke test (< 60 s)",
    )
    args = parser.parse_args(argv)
    if args.quick_run:
        args.sizes, args.images, args.sweep_images, args.repeats = "tiny", 16, 8, 3
        args.quality_images = 1
    args.quality_batches = 1 if args.quick_run else 2  # full batches of views per level
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.sizes if s not in SIZE_NAMES]
    if unknown or not args.sizes:
        parser.error(f"--sizes: unknown {unknown}; use some of {', '.join(SIZE_NAMES)}")
    if args.images < 2 or args.labels < 2:
        parser.error("--images and --labels must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "visual_buffet_siglip.bench", *argv_list])
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meter = LoadMeter()
    work = args.work or Path(tempfile.mkdtemp(prefix="vb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    bench = Bench(args, work)
    try:
        bench.prepare_inputs()
        first, *others = args.sizes
        bench.target_rows(first)
        demo = demo_model_dir()
        if args.quick_run:
            bench.quality_rows.append({"model": "demo", "skipped": "not run by --quick-run"})
        elif (demo / "config.json").is_file():
            # The demo model is tiny: decoding dominates, so more photos for a stable figure.
            bench.quality_levels("demo", None, "demo", None, work / "cache-demo", scale=4)
        else:
            bench.quality_rows.append({"model": "demo", "skipped": f"no demo model at {demo} yet"})
        bench.quality_levels(
            first,
            checkpoint(work, first),
            None,
            bench.labels_file,
            work / f"cache-{first}",
            warm=bench.warm,
        )
        for size in others:
            bench.other_size(size)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    load = meter.report()
    report = render(bench, info, load, command, when)
    print(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench.md").write_text(report, encoding="utf-8")
        results = {
            "when": when,
            "command": command,
            "machine": info,
            "load": load,
            "rows": [vars(r) for r in bench.rows + bench.extra_rows],
            "batch_sweep": bench.batch_rows,
            "quality": bench.quality_rows,
            **bench.results,
        }
        (args.out / "bench.json").write_text(
            json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
