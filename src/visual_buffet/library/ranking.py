"""Ranking stored images from per-view scores, and near-duplicate pairs, in bounded memory.

Everything here is plain numpy over an :class:`~visual_buffet.library.embedding_matrix.
EmbeddingMatrix`-shaped layout: the views of all images are the rows of one matrix, the views
of one image contiguous, ``starts[i]`` the first row of image ``i``. Scores come from the
plugin (its own scoring of a text or an image against those rows); this module only picks
the best view per image and the best images, and never builds an images x images matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DUPLICATE_CHUNK_BYTES = 64 * 1024 * 1024
"""Most bytes of one block of similarities while looking for duplicates (rows x images x 4)."""


@dataclass(frozen=True)
class RankedImage:
    """One image in a ranking: its index, its best score and the row of the view that gave it."""

    image: int
    score: float
    view_row: int


def best_per_image(view_scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The highest score of each image over its views (``starts``: first row of each image)."""
    if len(starts) == 0:
        return np.empty(0, dtype=view_scores.dtype)
    return np.maximum.reduceat(view_scores, starts)


def top_images(view_scores: np.ndarray, starts: np.ndarray, limit: int | None) -> list[RankedImage]:
    """The ``limit`` best images (all when None or 0), best first, each with its best view.

    Ties keep the stored order (the lower index first), so a ranking is reproducible.
    """
    image_scores = best_per_image(view_scores, starts)
    count = len(image_scores)
    if not limit or limit >= count:
        chosen = np.arange(count)
    else:
        # argpartition finds the best `limit` in O(n); only those are sorted.
        chosen = np.argpartition(-image_scores, limit - 1)[:limit]
    order = chosen[np.lexsort((chosen, -image_scores[chosen]))]
    ends = np.append(starts[1:], len(view_scores))
    ranked = []
    for image in order.tolist():
        first, last = int(starts[image]), int(ends[image])
        row = first + int(np.argmax(view_scores[first:last]))
        ranked.append(RankedImage(image, float(image_scores[image]), row))
    return ranked


@dataclass(frozen=True)
class SimilarPair:
    """Two images (indices into the rows given) whose vectors have cosine ``similarity``."""

    first: int
    second: int
    similarity: float


def similar_pairs(
    vectors: np.ndarray, threshold: float, chunk_bytes: int = DUPLICATE_CHUNK_BYTES
) -> Iterator[SimilarPair]:
    """Pairs ``i < j`` of L2-normalised rows whose cosine is at least ``threshold``.

    Blocks of rows against the rows after them: memory is ``chunk_bytes`` plus the vectors,
    whatever the number of images (100,000 images would need 40 GB as one matrix). Pairs
    come out in row order of their first image.
    """
    count = len(vectors)
    rows_per_block = max(1, chunk_bytes // (4 * max(count, 1)))
    for start in range(0, count, rows_per_block):
        stop = min(count, start + rows_per_block)
        # Only the upper triangle: a block is compared with itself and everything after it.
        block = vectors[start:stop] @ vectors[start:].T
        rows, cols = np.nonzero(block >= threshold)
        cols = cols + start
        keep = cols > rows + start
        for row, col in zip(rows[keep].tolist(), cols[keep].tolist(), strict=True):
            yield SimilarPair(start + row, col, float(block[row, col - start]))
