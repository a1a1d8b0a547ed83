"""SigLIP scores from normalised embeddings, in NumPy: one code path for live and stored tags.

A live run (:meth:`SiglipPlugin.tag_stream`) and a re-score from a library store both finish
an image here, from the same float32 view embeddings and text embeddings, so their tags are
equal. The formula is the one SigLIP was trained with, per label and independently::

    probability = sigmoid(exp(logit_scale) * cos(view, text) + logit_bias)

then, per label, the highest probability over the image's views (and which view gave it),
then threshold, a stable sort (highest first, ties in vocabulary order) and the limit.
Importing this module needs NumPy only (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Scored:
    """Labels an image keeps: indices into the vocabulary, their probability and view."""

    labels: np.ndarray  # (k,) int: indices into the vocabulary, best first
    confidences: np.ndarray  # (k,) float32
    views: np.ndarray  # (k,) int: index of the view that gave each confidence


def normalise(vectors: Any) -> np.ndarray:
    """L2-normalise rows as float32 (what the model's features become before the cosine)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norms, np.float32(1e-12))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Logistic function in float32 (exp overflows to inf for very negative logits: 0)."""
    with np.errstate(over="ignore"):
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-logits))).astype(np.float32)


def probabilities(views: np.ndarray, text: np.ndarray, scale: float, bias: float) -> np.ndarray:
    """Sigmoid probabilities (views, labels) of normalised view and text embeddings.

    ``scale`` is ``exp(logit_scale)`` (already exponentiated), ``bias`` the logit bias.
    """
    cos = np.asarray(views, dtype=np.float32) @ np.asarray(text, dtype=np.float32).T
    return sigmoid(cos * np.float32(scale) + np.float32(bias))


def best_over_views(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per label: the highest probability over the views, and the first view that gave it."""
    index = np.argmax(probs, axis=0)
    return probs[index, np.arange(probs.shape[1])], index


def select(best: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """Indices of labels at or above ``threshold``, highest first (stable), at most ``limit``."""
    keep = np.nonzero(best >= np.float32(threshold))[0]
    keep = keep[np.argsort(-best[keep], kind="stable")]
    return keep[:limit] if limit else keep


def score_image(
    views: np.ndarray,
    text: np.ndarray,
    scale: float,
    bias: float,
    threshold: float,
    limit: int,
) -> Scored:
    """The tags of one image from its view embeddings (views, dim) and the text (labels, dim)."""
    best, best_view = best_over_views(probabilities(views, text, scale, bias))
    keep = select(best, threshold, limit)
    return Scored(keep, best[keep], best_view[keep])


def score_images(
    images: Sequence[np.ndarray],
    text: np.ndarray,
    scale: float,
    bias: float,
    threshold: float,
    limit: int,
    block_rows: int = 8192,
) -> list[Scored]:
    """:func:`score_image` for many images that share the text and the scoring values.

    The views of consecutive images are stacked into blocks of about ``block_rows`` rows
    and scored with one matrix product per block (re-scoring 10,000 stored images was
    10,000 separate (1 x dim) products before: 0.4 ms an image); the best view, threshold
    and limit are then taken per image exactly as :func:`score_image` does. Equal to it up
    to the last float bits of the product (a block and a single row may be summed in
    another order by the BLAS).
    """
    results: list[Scored] = []
    start = 0
    while start < len(images):
        stop, rows = start, 0
        while stop < len(images) and (rows == 0 or rows + len(images[stop]) <= block_rows):
            rows += len(images[stop])
            stop += 1
        probs = probabilities(np.concatenate(images[start:stop]), text, scale, bias)
        offset = 0
        for views in images[start:stop]:
            best, best_view = best_over_views(probs[offset : offset + len(views)])
            keep = select(best, threshold, limit)
            results.append(Scored(keep, best[keep], best_view[keep]))
            offset += len(views)
        start = stop
    return results


def stored_probabilities(vectors: np.ndarray, text: np.ndarray, info: Any) -> np.ndarray:
    """:func:`probabilities` with the scale and bias of stored scoring info (a mapping with
    ``scale`` = exp(logit_scale) and ``bias``)."""
    return probabilities(vectors, text, float(info["scale"]), float(info["bias"]))
