"""Measurements in this process or a child: the vision tower, medians, the transformers pipeline."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from visual_buffet_siglip.bench.runs import BenchError, wait_peak_rss
from visual_buffet_siglip.vocabulary import TEMPLATE

HYPOTHESIS_TEMPLATE = TEMPLATE.replace("{label}", "{}")  # the pipeline's placeholder syntax
CEILING_REPEATS = 3
"""Timings of the vision tower (2); the best is the ceiling."""


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

    from visual_buffet_siglip.loading import quiet_transformers

    quiet_transformers()
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
        "import sys; from visual_buffet_siglip.bench.measure import pipeline_child; "
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
        peak = wait_peak_rss(proc)
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
