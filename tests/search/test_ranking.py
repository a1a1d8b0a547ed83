"""The numpy core of search and duplicates: best view per image, top images, chunked pairs."""

from __future__ import annotations

import numpy as np

from visual_buffet.library.ranking import similar_pairs, top_images


def test_best_view_per_image_and_ties_in_stored_order():
    # three images: 2 views, 1 view, 3 views
    starts = np.array([0, 2, 3])
    scores = np.array([0.1, 0.7, 0.7, 0.2, 0.9, 0.3], dtype=np.float32)
    ranked = top_images(scores, starts, None)
    assert [(r.image, r.view_row) for r in ranked] == [(2, 4), (0, 1), (1, 2)]
    assert ranked[0].score == np.float32(0.9)
    limited = top_images(scores, starts, 2)
    assert [r.image for r in limited] == [2, 0]  # 0 and 1 tie at 0.7: the first stored wins


def test_top_images_with_a_limit_equals_the_full_sort():
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 5, 500)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    scores = rng.random(int(counts.sum())).astype(np.float32)
    full = top_images(scores, starts, None)
    assert [r.image for r in top_images(scores, starts, 17)] == [r.image for r in full[:17]]
    for r in full[:50]:
        assert scores[r.view_row] == r.score


def test_similar_pairs_in_small_blocks_equal_the_full_matrix():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((60, 8)).astype(np.float32)
    vectors[17] = vectors[3] + 0.01  # near-duplicates
    vectors[40] = vectors[3]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    full = vectors @ vectors.T
    expected = {(i, j) for i in range(60) for j in range(i + 1, 60) if full[i, j] >= 0.8}
    assert {(3, 17), (3, 40), (17, 40)} <= expected
    for chunk in (4 * 60, 4 * 60 * 7, 1 << 20):  # one row, 7 rows, everything per block
        pairs = list(similar_pairs(vectors, 0.8, chunk_bytes=chunk))
        assert {(p.first, p.second) for p in pairs} == expected
        assert len(pairs) == len(expected)
        for p in pairs:
            assert abs(p.similarity - full[p.first, p.second]) < 1e-6
