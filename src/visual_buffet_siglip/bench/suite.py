"""The benchmark itself: every measurement in order, collected as table rows and raw results."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visual_buffet_siglip.bench.inputs import (
    PHOTO_12MP,
    PHOTO_24MP,
    SIZE_NAMES,
    benchmark_labels,
    checkpoint,
    photo_copies,
    write_photo,
)
from visual_buffet_siglip.bench.machine import LoadMeter, percent
from visual_buffet_siglip.bench.measure import (
    CEILING_REPEATS,
    median_ms,
    pipeline_seconds,
    vision_images_per_second,
)
from visual_buffet_siglip.bench.runs import (
    MAX_RUN_PHOTOS,
    CliRun,
    fastest_run,
    help_seconds,
    long_enough_run,
    run_cli,
    seconds_per_image,
    tag_args,
)

BATCH_SWEEP = (1, 4, 8, 16)


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
            "VISUAL_BUFFET_DATA_DIR": str(work / "data"),  # never the user's library store
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
        warm = fastest_run(tag_args(one, "quick", folder, self.labels_file), env, a.warm_starts)

        def throughput(sources: list[Path], startup: CliRun) -> tuple[CliRun, float | None]:
            """The quick run of (1) on ``a.images`` copies of ``sources`` (more where they
            take under ``MIN_MEASURED_S`` beyond ``startup``), and others' CPU share."""
            meter = LoadMeter()
            run = self.long_enough_run(
                functools.partial(
                    self.tag_copies, "photos-mixed", sources, "quick", folder, self.labels_file, env
                ),
                a.images,
                startup.wall_s,
            )
            return run, meter.others()

        self.log(f"{size}: throughput, {a.images} camera photos")
        tagged, tagged_others = throughput(self.mixed, warm)
        per_image = seconds_per_image(warm, tagged)
        batch = tagged.batch
        self.warm = warm
        self.log(f"{size}: throughput, {a.images} exported photos (no embedded preview)")
        one_export = photo_copies(self.work / "photos-one", self.big_export[:1], 1)
        warm_export = fastest_run(
            tag_args(one_export, "quick", folder, self.labels_file), env, a.warm_starts
        )
        tagged_export, export_others = throughput(self.mixed_export, warm_export)
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
                f"cache, {dims}: (wall time of {len(tagged.records)} photos - wall time of the "
                f"1-photo warm start (4b)) / {len(tagged.records) - 1}; 24 MP and 12 MP camera "
                "JPEGs",
                f"{rate:.2f} images/s ({per_image:.3f} s/image; {breakdown(tagged)}; other "
                f"processes used {percent(tagged_others)} of the CPU meanwhile)",
                ">= 0.9 x (2)",
                f"{_status(rate >= 0.9 * ceiling)} ({rate / ceiling:.2f} x)",
            ),
            Row(
                "1x",
                "as (1), on the same photos exported without an embedded preview (the whole "
                "24 MP JPEG is Huffman-decoded, at 1/8 scale); its own 1-photo warm start",
                f"{export_rate:.2f} images/s ({export_per_image:.3f} s/image; "
                f"{breakdown(tagged_export)}; other processes used {percent(export_others)} of "
                "the CPU meanwhile)",
                ">= 0.9 x (2)",
                f"{_status(export_rate >= 0.9 * ceiling)} ({export_rate / ceiling:.2f} x)",
            ),
            Row(
                "2",
                f"bare vision tower, pre-processed tensors, batch {batch} (the ceiling)",
                f"{ceiling:.2f} images/s (other processes used {percent(ceiling_others)} of the "
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
                f"warm start: same command, text cache present (fastest of {a.warm_starts})",
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
                f"peak RSS of the tagging run of {len(tagged.records)} photos in (1)",
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
            # inside the one run (flattered by the decode threads' head start); None when
            # the run had no second batch (--images at most the batch size).
            "in_run_seconds_per_image": (
                (tagged.arrivals[-1] - tagged.arrivals[batch - 1]) / (len(tagged.arrivals) - batch)
                if len(tagged.arrivals) > batch
                else None
            ),
            "breakdown_ms": {
                k: tagged.mean_timing(k) for k in ("decode_ms", "prepare_ms", "model_ms")
            },
        }

    def loaded_plugin(self, folder: Path, cache: Path, labels_file: Path) -> tuple[Any, list]:
        """The plugin loaded in this process on the text cache the CLI wrote, and the mixed
        photos prepared as its quick pass does (pixel tensors for the bare vision tower)."""
        from visual_buffet.images import load_image
        from visual_buffet_siglip.plugin import SiglipPlugin

        os.environ["VISUAL_BUFFET_CACHE_DIR"] = str(cache)
        plugin = SiglipPlugin(  # PyTorch: rows (2) time its bare vision tower
            {
                "model": str(folder),
                "quality": "quick",
                "custom_vocabulary": str(labels_file),
                "runtime": "torch",
            }
        )
        plugin.load()
        max_side = plugin.max_image_side()
        pool = [
            plugin.prepare(load_image(p, max_side=max_side)).inputs["pixel_values"]
            for p in self.mixed
        ]
        return plugin, pool

    def in_process(self, folder: Path, cache: Path, batch: int) -> dict[str, Any]:
        """Decode timings (5) and the vision tower (2), with the plugin's own loader."""
        from visual_buffet.images import load_image

        a = self.args
        self.log("in-process plugin: decode timings, vision tower")
        plugin, pool = self.loaded_plugin(folder, cache, self.labels_file)
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

    def long_enough_run(
        self, run_with: Callable[[int], CliRun], count: int, startup_s: float
    ) -> CliRun:
        """``runs.long_enough_run``; ``--quick-run`` (a smoke test: nothing it prints is a
        measurement) runs ``count`` once."""
        most = count if self.args.quick_run else MAX_RUN_PHOTOS
        return long_enough_run(run_with, count, startup_s, self.log, most)

    def tag_copies(
        self,
        into: str,
        sources: list[Path],
        quality: str,
        folder: Path | None,
        vocabulary: Path | None,
        env: dict[str, str],
        count: int,
        variant: str | None = None,
    ) -> CliRun:
        """``tag`` on ``count`` copies of ``sources`` in the work folder ``into`` (the other
        arguments: ``tag_args``); ``long_enough_run`` passes ``count``."""
        files = photo_copies(self.work / into, sources, count)
        return run_cli(tag_args(files, quality, folder, vocabulary, variant), env)
