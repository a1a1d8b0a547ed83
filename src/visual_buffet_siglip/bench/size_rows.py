"""Rows for the other checkpoint sizes (so400m-1 ... so400m-6): throughput, the bare vision
tower at batch 1 and the throughput run's batch, first run and warm start, peak RSS."""

from __future__ import annotations

import functools
import shutil
from typing import TYPE_CHECKING

from visual_buffet_siglip.bench.inputs import SIZE_NAMES, checkpoint, photo_copies
from visual_buffet_siglip.bench.measure import vision_images_per_second
from visual_buffet_siglip.bench.runs import fastest_run, run_cli, seconds_per_image, tag_args
from visual_buffet_siglip.bench.suite import Row, _gb

if TYPE_CHECKING:
    from visual_buffet_siglip.bench.suite import Bench


def other_size_rows(bench: Bench, size: str) -> None:
    """Measure checkpoint ``size`` (not the first) and add its rows to ``bench.extra_rows``
    and its raw figures to ``bench.results[size]``."""
    a = bench.args
    folder = checkpoint(bench.work, size)
    cache = bench.work / f"cache-{size}"
    shutil.rmtree(cache, ignore_errors=True)  # the first run must start cold
    env = bench.env_for(cache)
    one = photo_copies(bench.work / "photos-one", bench.big[:1], 1)
    labels = bench.labels[: a.other_labels]
    labels_file = bench.work / f"labels-{len(labels)}.txt"
    labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
    bench.log(f"{size}: first run (fills the text cache: {len(labels)} labels)")
    first = run_cli(tag_args(one, "quick", folder, labels_file), env)
    bench.log(f"{size}: warm start, 1 photo")
    warm = fastest_run(tag_args(one, "quick", folder, labels_file), env, a.warm_starts)
    count = max(2 * bench.cpu_batch, a.images // 3)
    bench.log(f"{size}: throughput, {count} photos")

    tagged = bench.long_enough_run(
        functools.partial(
            bench.tag_copies, "photos-mixed", bench.mixed, "quick", folder, labels_file, env
        ),
        count,
        warm.wall_s,
    )
    count = len(tagged.records)
    per_image = seconds_per_image(warm, tagged)

    plugin, pool = bench.loaded_plugin(folder, cache, labels_file)
    rates = {}
    for b in sorted({1, tagged.batch}):
        bench.log(f"{size}: vision tower, batch {b}")
        rates[b] = vision_images_per_second(plugin._loaded.model, pool, b, max(b, 4))
    weights = plugin._loaded.weight_bytes
    plugin.close()
    del plugin, pool
    dims = SIZE_NAMES[size]
    bench.extra_rows += [
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
    bench.results[size] = {
        "tag_images_per_s": 1 / per_image,
        "vision_images_per_s": rates,
        "first_run_s": first.wall_s,
        "peak_rss": tagged.peak_rss,
        "weight_bytes": weights,
    }
