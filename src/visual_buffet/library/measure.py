"""Measure the library store: bytes per photo at each quality level, and float16's error.

``python -m visual_buffet.library.measure`` stores synthetic SigLIP results (real view counts
of a 12 MP photo from the quality planner, real embedding sizes, 50 tags with views) in a
temporary store through :meth:`LibraryStore.put_result`, and prints the store file's size
divided by the photos. It also measures how far float16 storage would move SigLIP scores
(docs/library.md quotes both). Nothing is downloaded; takes a few seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import numpy as np

from visual_buffet.library.fingerprint import FileStat, Fingerprint
from visual_buffet.library.store import ResultItem, open_library
from visual_buffet.plugin_api import ImageEmbeddings

MODELS = {  # embedding dim, input side (windows are never smaller than the input)
    "base (768-d, 224 px)": (768, 224),
    "so400m (1152-d, 384 px)": (1152, 384),
    "giant (1536-d, 384 px)": (1536, 384),
}
PHOTO = (4032, 3024)  # a 12 MP phone photo


def bytes_per_photo(dim: int, views: list, photos: int, tags: int = 50) -> float:
    """Store ``photos`` synthetic results with these views; return file bytes per photo."""
    rng = np.random.default_rng(0)
    labels = [f"label number {i}" for i in range(1000)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "measure.sqlite3"
        with open_library(path) as store:
            identity = {"plugin": "siglip", "measure": dim}
            for index in range(photos):
                vectors = rng.normal(size=(len(views), dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                record = {
                    "file": f"/photos/2024/holiday/IMG_{index:05d}.jpg",
                    "plugin": "siglip",
                    "tags": [
                        {
                            "label": label,
                            "confidence": round(random.random() * 0.1, 6),
                            "found_in": random.choice(views).to_dict(),
                        }
                        for label in random.sample(labels, tags)
                    ],
                    "model": {"id": "google/siglip-so400m-patch14-384", "views": len(views)},
                    "settings": {"quality": "standard", "threshold": 0.01, "max_tags": 50},
                    "timings": {"decode_ms": 30.1, "prepare_ms": 12.5, "model_ms": 410.2},
                    "error": None,
                    "image": {"width": PHOTO[0], "height": PHOTO[1]},
                }
                fingerprint = Fingerprint(
                    FileStat(record["file"], 3_000_000 + index, 1_700_000_000_000_000_000),
                    f"sha256:{index:064x}",
                )
                scoring = {"scale": 112.0, "bias": -16.5, "text_key": {"model": "m", "r": "x"}}
                store.put_result(
                    ResultItem(
                        fingerprint,
                        "siglip",
                        identity,
                        record,
                        ImageEmbeddings(views, vectors, scoring),
                        identity,
                    )
                )
            store.vacuum()
            return store.file_bytes() / photos


def float16_error(weight: float = 0.12) -> float:
    """Largest change of a SigLIP base score (scale exp(4.71), bias -12.66) when view
    embeddings are rounded to float16, over 64 views x 1,000 labels."""
    from visual_buffet_siglip.scoring import normalise, probabilities

    rng = np.random.default_rng(0)
    text = normalise(rng.normal(size=(1000, 768)))
    views = normalise(text[:64] * weight + normalise(rng.normal(size=(64, 768))))
    scale, bias = float(np.exp(4.71)), -12.66
    exact = probabilities(views, text, scale, bias)
    half = probabilities(views.astype(np.float16).astype(np.float32), text, scale, bias)
    return float(np.abs(half - exact).max())


def main(argv: list[str] | None = None) -> None:
    from visual_buffet_siglip.views import QUALITY_LEVELS, plan_views

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300, help="Photos stored per cell.")
    parser.add_argument("--json", action="store_true", help="Print JSON.")
    args = parser.parse_args(argv)
    random.seed(0)
    rows = {}
    for model, (dim, side) in MODELS.items():
        for level in QUALITY_LEVELS:
            views = [p.view for p in plan_views(level, PHOTO, min_window=side)]
            size = bytes_per_photo(dim, views, args.photos)
            rows[f"{model} / {level}"] = {"views": len(views), "bytes_per_photo": round(size)}
    result = {"photo": list(PHOTO), "rows": rows, "float16_max_score_error": float16_error()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'model / quality':<36} {'views':>5} {'KB per photo':>13}")
    for name, row in rows.items():
        print(f"{name:<36} {row['views']:>5} {row['bytes_per_photo'] / 1000:>13.1f}")
    print(f"float16 storage: largest score change {result['float16_max_score_error']:.2e}")


if __name__ == "__main__":
    main()
