"""Evaluate the demo model on held-out procedural images, scored exactly as at inference.

    python -m visual_buffet_siglip.demo.evaluate [--model DIR] [--count 400]
    python -m visual_buffet_siglip.demo.evaluate --quality standard --long-side 2000,3000

The first form scores each image on one whole-image forward; ``--quality`` scores it through
the SigLIP plugin instead (its quality passes, windows and merge, images decoded as the CLI
decodes them), which is what matters on photo-sized images (``--long-side``).

Held-out images come from seeds ``numpy.random.default_rng([EVAL_STREAM, set, index])``;
training draws from ``[TRAIN_STREAM=0, ...]``, so no evaluation image was ever trained on.
Scoring follows the product's recipe: prompt ``"This is a photo of {tag}."`` lower-cased,
``padding="max_length"``, ``max_length=64``, ``input_ids`` only, and
``sigmoid(exp(logit_scale) * cos(image, text) + logit_bias)`` per tag, thresholded at 0.01.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from visual_buffet_siglip.demo.shapes import (
    COLOURS,
    DEMO_TAGS,
    SHAPES,
    random_image_size,
    render_scene,
    tags_for,
)
from visual_buffet_siglip.letterbox import processor_pixels
from visual_buffet_siglip.loading import quiet_transformers
from visual_buffet_siglip.variants import DEMO_VOCABULARY_FILE, demo_model_dir
from visual_buffet_siglip.views import QUALITY_LEVELS

MODEL_DIR = demo_model_dir()
TEMPLATE = "This is a photo of {label}."
MAX_TEXT_LENGTH = 64
DEFAULT_THRESHOLD = 0.01
EVAL_STREAM = 1
EVAL_LONG_SIDE = (256, 768)


@dataclass(frozen=True)
class HeldOutSet:
    """A family of held-out images: how many objects, how big, what image shape."""

    name: str
    index: int  # second element of the seed: keeps sets disjoint from each other
    n_objects: tuple[int, ...]
    rel_size: tuple[float, float]
    square: bool = False
    description: str = ""


HELD_OUT_SETS: dict[str, HeldOutSet] = {
    s.name: s
    for s in (
        HeldOutSet("single", 1, (1,), (0.08, 0.70), description="1 object, 8-70% of the side"),
        HeldOutSet("single-large", 5, (1,), (0.20, 0.70), description="1 object, 20-70%"),
        HeldOutSet("multi", 2, (2, 3), (0.08, 0.45), description="2-3 objects, 8-45%"),
        HeldOutSet("size-10", 3, (1,), (0.10, 0.10), True, "1 object, 10%, square image"),
        HeldOutSet("size-04", 4, (1,), (0.04, 0.04), True, "1 object, 4%, square image"),
    )
}


def prompt_input_ids(tokenizer, labels: Sequence[str]):
    """Token ids of the labels' prompts, as the SigLIP recipe (and the product) builds them."""
    prompts = [TEMPLATE.format(label=label.replace("_", " ")).lower() for label in labels]
    return tokenizer(
        prompts,
        padding="max_length",
        max_length=MAX_TEXT_LENGTH,
        truncation=True,
        return_tensors="pt",
    )["input_ids"]


def load_demo_model(model_dir: Path = MODEL_DIR):
    """(model, processor) from a saved demo checkpoint, offline, float32, eval mode."""
    from transformers import AutoProcessor, SiglipModel

    processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    model = SiglipModel.from_pretrained(model_dir, local_files_only=True, dtype="float32")
    return model.eval(), processor


def image_text_cosines(
    model,
    processor,
    images: Sequence[Image.Image],
    labels: Sequence[str] = DEMO_TAGS,
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """``cos(image, text)`` of every image and label prompt, shape (len(images), len(labels))."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    with torch.inference_mode():
        ids = prompt_input_ids(processor.tokenizer, labels).to(device)
        text = F.normalize(model.get_text_features(input_ids=ids).pooler_output, dim=-1)
        rows = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            # letterboxed first if the checkpoint asks for it, as the plugin's views are
            pixels = processor_pixels(processor.image_processor, batch).to(device)
            image = F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
            rows.append(image @ text.T)
    return torch.cat(rows).cpu().numpy()


def score_images(model, processor, images: Sequence[Image.Image], **kwargs) -> np.ndarray:
    """Scores in [0, 1]: ``sigmoid(exp(logit_scale) * cos(image, text) + logit_bias)``."""
    cosines = image_text_cosines(model, processor, images, **kwargs).astype(np.float64)
    scale, bias = float(model.logit_scale.detach().exp()), float(model.logit_bias.detach())
    return 1.0 / (1.0 + np.exp(-(cosines * scale + bias)))


def held_out_scene(
    set_name: str, index: int, *, long_side: tuple[int, int] = EVAL_LONG_SIDE
) -> tuple[Image.Image, set[str]]:
    """Image ``index`` of a held-out set and the tags it deserves."""
    spec = HELD_OUT_SETS[set_name]
    rng = np.random.default_rng([EVAL_STREAM, spec.index, index])
    if spec.square:
        side = int(rng.integers(long_side[0], long_side[1] + 1))
        size = (side, side)
    else:
        size = random_image_size(rng, long_side)
    n_objects = int(rng.choice(spec.n_objects))
    image, specs = render_scene(rng, size, n_objects, *spec.rel_size)
    return image, tags_for(specs)


def held_out_scenes(
    set_name: str, count: int, *, long_side: tuple[int, int] = EVAL_LONG_SIDE
) -> tuple[list[Image.Image], list[set[str]]]:
    """`count` images of a held-out set and the tags each deserves."""
    pairs = [held_out_scene(set_name, index, long_side=long_side) for index in range(count)]
    return [image for image, _ in pairs], [truth for _, truth in pairs]


def plugin_scores(
    model_dir: Path,
    set_name: str,
    count: int,
    quality: str,
    *,
    long_side: tuple[int, int] = EVAL_LONG_SIDE,
) -> tuple[np.ndarray, list[set[str]]]:
    """Scores of a held-out set through the SigLIP plugin at ``quality``, and the truths.

    Each image is saved as a JPEG (quality 92) and loaded with the host's loader, as the
    CLI does; images are rendered one at a time, so photo-sized sets fit in memory.
    """
    import tempfile

    from visual_buffet.images import load_image
    from visual_buffet_siglip.plugin import SiglipPlugin

    plugin = SiglipPlugin(
        {
            "model": str(model_dir),
            "custom_vocabulary": str(model_dir / DEMO_VOCABULARY_FILE),
            "quality": quality,
            "threshold": 0.0,
            "max_tags": 0,
        }
    )
    plugin.load()
    truths: list[set[str]] = []
    scores = np.zeros((count, len(DEMO_TAGS)))
    with tempfile.TemporaryDirectory() as folder:

        def prepared():
            for index in range(count):
                image, truth = held_out_scene(set_name, index, long_side=long_side)
                truths.append(truth)
                path = Path(folder) / f"{index}.jpg"
                image.save(path, quality=92)
                yield plugin.prepare(load_image(path, max_side=plugin.max_image_side()))

        try:
            for row, result in enumerate(plugin.tag_stream(prepared())):
                for tag in result.tags:
                    scores[row, DEMO_TAGS.index(tag.label)] = tag.confidence
        finally:
            plugin.close()
    return scores, truths


def tag_metrics(
    scores: np.ndarray,
    truths: Sequence[set[str]],
    labels: Sequence[str] = DEMO_TAGS,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, dict[str, float]]:
    """Precision and recall of colour tags and of shape tags, plus score statistics."""
    truth = np.array([[label in tags for label in labels] for tags in truths], dtype=bool)
    predicted = scores >= threshold
    report: dict[str, dict[str, float]] = {}
    for group, names in (("colour", tuple(COLOURS)), ("shape", SHAPES)):
        columns = [i for i, label in enumerate(labels) if label in names]
        t, p = truth[:, columns], predicted[:, columns]
        s = scores[:, columns]
        true_positives = int((t & p).sum())
        report[group] = {
            "precision": true_positives / max(1, int(p.sum())),
            "recall": true_positives / max(1, int(t.sum())),
            "positives": int(t.sum()),
            "median_positive_score": float(np.median(s[t])) if t.any() else float("nan"),
            "p99_negative_score": float(np.percentile(s[~t], 99)) if (~t).any() else float("nan"),
        }
    return report


def precision_recall(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """``tag_metrics`` flattened to the four figures: ``colour_precision`` ... ``shape_recall``."""
    return {
        f"{group}_{name}": metrics[group][name]
        for group in ("colour", "shape")
        for name in ("precision", "recall")
    }


def evaluate(
    model_dir: Path = MODEL_DIR,
    count: int = 400,
    threshold: float = DEFAULT_THRESHOLD,
    sets: Sequence[str] = tuple(HELD_OUT_SETS),
    *,
    quality: str | None = None,
    long_side: tuple[int, int] = EVAL_LONG_SIDE,
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per held-out set; see ``tag_metrics``.

    ``quality``: score through the SigLIP plugin at that level (``plugin_scores``) instead
    of one whole-image forward per image.
    """
    results = {}
    if quality is not None:
        for name in sets:
            scores, truths = plugin_scores(model_dir, name, count, quality, long_side=long_side)
            results[name] = tag_metrics(scores, truths, threshold=threshold)
        return results
    model, processor = load_demo_model(model_dir)
    for name in sets:
        images, truths = held_out_scenes(name, count, long_side=long_side)
        results[name] = tag_metrics(
            score_images(model, processor, images), truths, threshold=threshold
        )
    return results


def markdown_table(results: dict[str, dict[str, dict[str, float]]], count: int) -> str:
    """The evaluation as a Markdown table (what docs/demo-model.md shows)."""
    lines = [
        "| held-out set | images | tags | precision | recall | median positive score "
        "| 99th pct negative score |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, groups in results.items():
        description = HELD_OUT_SETS[name].description
        for group, m in groups.items():
            lines.append(
                f"| {name} ({description}) | {count} | {group} | {m['precision']:.3f} "
                f"| {m['recall']:.3f} | {m['median_positive_score']:.3f} "
                f"| {m['p99_negative_score']:.4f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate the demo model on held-out images.")
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--count", type=int, default=400, help="images per held-out set")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--sets", default=",".join(HELD_OUT_SETS), help="held-out sets, comma-separated"
    )
    parser.add_argument(
        "--quality",
        choices=QUALITY_LEVELS,
        help="score through the SigLIP plugin at this quality level (passes, windows, merge)",
    )
    parser.add_argument(
        "--long-side",
        default=",".join(map(str, EVAL_LONG_SIDE)),
        help="range of the images' longer side in px, MIN,MAX (default %(default)s)",
    )
    args = parser.parse_args(argv)
    quiet_transformers()
    sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = sorted(set(sets) - set(HELD_OUT_SETS))
    if unknown:
        parser.error(f"--sets: unknown {', '.join(unknown)} (known: {', '.join(HELD_OUT_SETS)})")
    try:
        low, high = (int(v) for v in args.long_side.split(","))
    except ValueError:
        parser.error(f"--long-side: expected MIN,MAX in px, e.g. 2000,3000, not {args.long_side}")
    started = time.perf_counter()
    results = evaluate(
        args.model,
        args.count,
        args.threshold,
        sets,
        quality=args.quality,
        long_side=(low, high),
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        how = f"quality {args.quality} through the plugin" if args.quality else "whole image"
        print(f"threshold {args.threshold}, model {args.model}, {how}, longer side {low}-{high} px")
        print(markdown_table(results, args.count))
        print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
