"""The quality-level table: seconds per 24 MP photo at quick, standard, high and max for a
model (the demo model and the first checkpoint size), start-up taken out."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from visual_buffet_siglip.bench.inputs import input_side, photo_copies
from visual_buffet_siglip.bench.machine import LoadMeter
from visual_buffet_siglip.bench.runs import (
    CliRun,
    fastest_run,
    quality_run_length,
    run_cli,
    seconds_per_image,
    tag_args,
)
from visual_buffet_siglip.variants import demo_model_dir
from visual_buffet_siglip.views import QUALITY_LEVELS

if TYPE_CHECKING:
    from visual_buffet_siglip.bench.suite import Bench


def quality_levels(
    bench: Bench,
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
    a = bench.args
    env = bench.env_for(cache)
    side = input_side(folder if folder is not None else demo_model_dir())
    if warm is None:
        one = photo_copies(bench.work / "photos-one", bench.big[:1], 1)
        bench.log(f"{name}: one photo (fills the text cache), then one photo warm")
        run_cli(tag_args(one, "quick", folder, vocabulary, variant), env)
        warm = fastest_run(tag_args(one, "quick", folder, vocabulary, variant), env, a.warm_starts)
    startup = None
    for quality in QUALITY_LEVELS:  # quick first: start-up comes from it
        measured = a.quality_images * scale
        count = quality_run_length(quality, side, bench.cpu_batch, measured, a.quality_batches)
        if startup is None:
            count = max(count, 2)
        bench.log(f"{name}: quality {quality}, {count} x 24 MP")
        meter = LoadMeter()
        run = bench.long_enough_run(
            functools.partial(
                bench.tag_copies,
                "photos-24mp",
                bench.big,
                quality,
                folder,
                vocabulary,
                env,
                variant=variant,
            ),
            count,
            warm.wall_s if startup is None else startup,
        )
        count = len(run.records)
        if startup is None:
            seconds = seconds_per_image(warm, run)
            startup = warm.wall_s - seconds
        else:
            seconds = (run.wall_s - startup) / count
        bench.quality_rows.append(
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
