"""Command line of the benchmark: ``python -m visual_buffet_siglip.bench``."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import visual_buffet_siglip.bench as package
from visual_buffet_siglip.bench.inputs import SIZE_NAMES, checkpoint
from visual_buffet_siglip.bench.machine import LoadMeter, machine_info
from visual_buffet_siglip.bench.quality_rows import quality_levels
from visual_buffet_siglip.bench.report import render
from visual_buffet_siglip.bench.runs import WARM_START_REPEATS
from visual_buffet_siglip.bench.size_rows import other_size_rows
from visual_buffet_siglip.bench.suite import Bench
from visual_buffet_siglip.variants import demo_model_dir


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m visual_buffet_siglip.bench",
        description=(package.__doc__ or "").split("\n\n")[0],
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
        "--warm-starts",
        type=int,
        default=WARM_START_REPEATS,
        help="one-photo warm starts per measurement; the fastest is subtracted from the "
        f"longer runs (default {WARM_START_REPEATS})",
    )
    parser.add_argument(
        "--quick-run",
        action="store_true",
        help="tiny checkpoint and few photos: a smoke test (< 60 s)",
    )
    args = parser.parse_args(argv)
    if args.quick_run:
        args.sizes, args.images, args.sweep_images, args.repeats = "tiny", 16, 8, 3
        args.warm_starts = 1
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
            quality_levels(bench, "demo", None, "demo", None, work / "cache-demo", scale=4)
        else:
            bench.quality_rows.append({"model": "demo", "skipped": f"no demo model at {demo} yet"})
        quality_levels(
            bench,
            first,
            checkpoint(work, first),
            None,
            bench.labels_file,
            work / f"cache-{first}",
            warm=bench.warm,
        )
        for size in others:
            other_size_rows(bench, size)
        # PyTorch against ONNX Runtime fp32 / int8 on every size (rows SIZE-r1 to SIZE-r5)
        from visual_buffet_siglip.bench.runtime_rows import runtime_rows

        bench.extra_rows += runtime_rows(bench, args.sizes)
        # XMP sidecars: no model, the file system and the sidecar code (rows x1-x3)
        from visual_buffet_siglip.bench.xmp_rows import sidecar_rows

        bench.extra_rows += sidecar_rows(work, 200 if args.quick_run else 2000)
        # The library store: rerun, retag, search (rows 7a-7c) on the first size
        from visual_buffet_siglip.bench.library_rows import library_rows

        bench.extra_rows += library_rows(bench, first)
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
