"""Benchmark rows r1-r5: PyTorch against ONNX Runtime (float32 and int8), side by side.

For each checkpoint size (base and so400m dims by default) and each of ``torch``,
``onnx`` and ``onnx`` with ``quantization = "8bit"``, in one run, through the real CLI
(``tag ... --set runtime=R [--quantization 8bit]``, one fresh cache folder per combination):

- ``r1`` first run: one photo with empty caches, so it includes the ONNX export (and the
  int8 quantisation) and encoding the labels;
- ``r2`` warm start: the same command again (fastest of ``--warm-starts``), exports and label
  embeddings cached; target: ONNX >= 3 x faster than PyTorch;
- ``r3`` images/s at quality quick: ``(wall(n) - wall(1)) / (n - 1)`` as row (1) of the main
  table; targets: ONNX float32 >= 1.15 x PyTorch, int8 >= 1.6 x;
- ``r4`` peak RSS of that throughput run;
- ``r5`` int8 image-embedding cosine against float32 on the benchmark photos (in-process).

Run alone: ``python -m visual_buffet_siglip.bench.runtime_rows --sizes base,so400m``; the main
benchmark (``python -m visual_buffet_siglip.bench``) adds the same rows.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet_siglip.bench.inputs import SIZE_NAMES, checkpoint, photo_copies
from visual_buffet_siglip.bench.runs import (
    CliRun,
    fastest_run,
    run_cli,
    seconds_per_image,
    tag_args,
)

if TYPE_CHECKING:
    from visual_buffet_siglip.bench.suite import Bench, Row

COMBINATIONS = (("torch", "none"), ("onnx", "none"), ("onnx", "8bit"))
NAMES = {("torch", "none"): "PyTorch", ("onnx", "none"): "ONNX fp32", ("onnx", "8bit"): "ONNX int8"}
TARGETS = {"warm": 3.0, ("onnx", "none"): 1.15, ("onnx", "8bit"): 1.6}


def _args(files: Sequence[Path], folder: Path, labels: Path, runtime: str, quant: str) -> list[str]:
    return [
        *tag_args(files, "quick", folder, labels),
        "--set",
        f"runtime={runtime}",
        "--quantization",
        quant,
        "--no-library",  # a stored result would be emitted without running the model
    ]


def _tag_copies(bench: Bench, args: Any, env: dict[str, str], count: int) -> CliRun:
    files = photo_copies(bench.work / "photos-mixed", bench.mixed, count)
    return run_cli(args(files), env)


def measure(bench: Bench, size: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The CLI runs of every combination for one size."""
    a = bench.args
    folder = checkpoint(bench.work, size)
    labels = bench.labels[: a.other_labels]
    labels_file = bench.work / f"labels-{len(labels)}.txt"
    labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
    one = photo_copies(bench.work / "photos-one", bench.big[:1], 1)
    count = 8 if a.quick_run else max(16, a.images // 3)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for runtime, quant in COMBINATIONS:
        name = NAMES[(runtime, quant)]
        cache = bench.work / f"cache-runtime-{size}-{runtime}-{quant}"
        shutil.rmtree(cache, ignore_errors=True)
        env = bench.env_for(cache)
        args = functools.partial(
            _args, folder=folder, labels=labels_file, runtime=runtime, quant=quant
        )
        bench.log(f"{size} {name}: first run (empty caches)")
        first = run_cli(args(one), env)
        bench.log(f"{size} {name}: warm start")
        warm = fastest_run(args(one), env, a.warm_starts)
        bench.log(f"{size} {name}: throughput, {count} photos")
        copies = functools.partial(_tag_copies, bench, args, env)
        tagged = bench.long_enough_run(copies, count, warm.wall_s)
        model = warm.records[0]["model"]
        assert model.get("runtime", "torch") == runtime, model  # the CLI ran what was asked
        out[(runtime, quant)] = {
            "first_s": first.wall_s,
            "first_export_s": first.records[0]["model"].get("export_ms", 0.0) / 1000,
            "first_text_s": first.records[0]["model"]["text_ms"] / 1000,
            "warm_s": warm.wall_s,
            "per_image_s": seconds_per_image(warm, tagged),
            "photos": len(tagged.records),
            "peak_rss": tagged.peak_rss,
            "cache": cache,
            "threads": model.get("threads"),
        }
    out[("onnx", "8bit")]["cosine"] = int8_cosine(bench, folder, out)
    return out


def int8_cosine(bench: Bench, folder: Path, out: dict[tuple[str, str], dict[str, Any]]) -> float:
    """Lowest int8-vs-fp32 image-embedding cosine over the benchmark photos (whole view)."""
    from PIL import Image

    from visual_buffet_siglip.onnx_backend import load_onnx
    from visual_buffet_siglip.variants import resolve_model

    embeddings = []
    for quant in ("none", "8bit"):
        os.environ["VISUAL_BUFFET_CACHE_DIR"] = str(out[("onnx", quant)]["cache"])
        model = load_onnx(
            resolve_model("so400m", False, str(folder)),
            quantization=quant,
            threads="auto",
            max_num_patches=256,
        )
        views = []
        for path in bench.mixed:
            with Image.open(path) as image:
                image.draft("RGB", (1024, 1024))
                views.append(image.convert("RGB"))
        embeddings.append(model.encode_views(model.preprocessor(views)))
    return float((embeddings[0] * embeddings[1]).sum(axis=1).min())


def _gb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1e9:.2f} GB"


def rows_for(size: str, m: dict[tuple[str, str], dict[str, Any]], labels: int) -> list[Row]:
    """Table rows r1-r5 of one size from :func:`measure`'s figures."""
    from visual_buffet_siglip.bench.suite import Row

    dims = SIZE_NAMES[size]
    torch = m[("torch", "none")]
    rows = []
    first = "; ".join(
        f"{NAMES[k]} {v['first_s']:.1f} s"
        + (f" (export {v['first_export_s']:.1f} s)" if k[0] == "onnx" else "")
        for k, v in m.items()
    )
    rows.append(
        Row(f"{size}-r1", f"{dims}: first run, 1 photo, empty caches, {labels} labels", first)
    )
    for key in (("onnx", "none"), ("onnx", "8bit")):
        ratio = torch["warm_s"] / m[key]["warm_s"]
        rows.append(
            Row(
                f"{size}-r2",
                f"{dims}: warm start, 1 photo: {NAMES[key]} against PyTorch",
                f"{m[key]['warm_s']:.2f} s against {torch['warm_s']:.2f} s = {ratio:.2f} x faster",
                f">= {TARGETS['warm']:.0f} x",
                f"{'PASS' if ratio >= TARGETS['warm'] else 'MISS'}",
            )
        )
    for key in (("onnx", "none"), ("onnx", "8bit")):
        ours, base = 1 / m[key]["per_image_s"], 1 / torch["per_image_s"]
        rows.append(
            Row(
                f"{size}-r3",
                f"{dims}: `tag --quality quick` images/s, {NAMES[key]} against PyTorch "
                f"({m[key]['photos']} / {torch['photos']} photos, {m[key]['threads']} threads)",
                f"{ours:.2f} against {base:.2f} images/s = {ours / base:.2f} x",
                f">= {TARGETS[key]} x",
                f"{'PASS' if ours / base >= TARGETS[key] else 'MISS'}",
            )
        )
    rows.append(
        Row(
            f"{size}-r4",
            f"{dims}: peak RSS of the throughput run",
            "; ".join(f"{NAMES[k]} {_gb(v['peak_rss'])}" for k, v in m.items()),
        )
    )
    rows.append(
        Row(
            f"{size}-r5",
            f"{dims}: ONNX int8 image embedding, lowest cosine to fp32 over the photos",
            f"{m[('onnx', '8bit')]['cosine']:.4f}",
            ">= 0.98",
            "PASS" if m[("onnx", "8bit")]["cosine"] >= 0.98 else "MISS",
        )
    )
    return rows


def runtime_rows(bench: Bench, sizes: Sequence[str]) -> list[Row]:
    """Rows r1-r5 for every size, measured now; raw figures go to ``bench.results``."""
    rows: list[Row] = []
    for size in sizes:
        measured = measure(bench, size)
        labels = len(bench.labels[: bench.args.other_labels])
        rows += rows_for(size, measured, labels)
        bench.results[f"runtimes-{size}"] = {
            NAMES[k]: {n: v for n, v in d.items() if n != "cache"} for k, d in measured.items()
        }
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Only these rows: the main benchmark's options (``--sizes``, ``--other-labels``,
    ``--images``, ``--warm-starts``, ``--work``, ``--out``, ``--quick-run``)."""
    import datetime
    import json
    import shlex
    import tempfile

    from visual_buffet_siglip.bench.cli import parse_args
    from visual_buffet_siglip.bench.machine import LoadMeter, machine_info
    from visual_buffet_siglip.bench.suite import Bench

    args = parse_args(argv)
    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "visual_buffet_siglip.bench.runtime_rows", *argv_list])
    meter = LoadMeter()
    work = args.work or Path(tempfile.mkdtemp(prefix="vb-bench-"))
    bench = Bench(args, work)
    try:
        bench.prepare_inputs()
        rows = runtime_rows(bench, args.sizes)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Command: `{command}` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC)",
        f"Machine: {json.dumps(machine_info(), default=str)}",
        f"Other processes' CPU share during the run: {meter.report()}",
        "",
        "| row | what | result | target | status |",
        "|---|---|---|---|---|",
        *(f"| {r.key} | {r.what} | {r.result} | {r.target} | {r.status} |" for r in rows),
    ]
    print("\n".join(lines))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "runtimes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (args.out / "runtimes.json").write_text(
            json.dumps(bench.results, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
