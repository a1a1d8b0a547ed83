"""The Markdown report of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from visual_buffet_siglip.bench.machine import percent

if TYPE_CHECKING:
    from visual_buffet_siglip.bench.suite import Bench


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
        f"{1000 / r['images_per_s']:.0f} | {percent(r['others'])} |"
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
            f"{r['model_ms']:.0f} | {percent(r['others'])} |"
        )
    lines += [
        "",
        "decode and prepare (per photo, summed over its views) run in worker threads beside "
        "the model, on the same cores; model ms is the photo's share of its batches' forward "
        "time.",
    ]
    return "\n".join(lines) + "\n"
