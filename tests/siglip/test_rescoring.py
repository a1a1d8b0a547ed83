"""Contract v2: stored view embeddings re-scored equal a live run; identities without a model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.siglip.conftest import KINDS, make_plugin, tag_file, write_vocab
from visual_buffet_siglip import SiglipPlugin

LABELS = ["cat", "dog", "red car", "ceiling fan", "mountain lake", "a bowl of soup", "tree"]
OTHER = ["bicycle", "red car", "snow", "a bowl of soup"]


@pytest.fixture(scope="module")
def wide_photo(tmp_path_factory):
    """1600x1200: quality high gives a whole view and 1080 px windows (several views)."""
    from PIL import Image

    y, x = np.mgrid[0:1200, 0:1600]
    pixels = np.stack([x % 256, y % 256, (x // 9 + y // 7) % 256], axis=-1).astype(np.uint8)
    pixels[100:400, 1200:1500] = 255 - pixels[100:400, 1200:1500]
    path = tmp_path_factory.mktemp("wide") / "wide.jpg"
    Image.fromarray(pixels).save(path, quality=90)
    return path


def _tags(result):
    return [(t.label, t.confidence, t.found_in) for t in result.tags]


def _assert_same(got, expected):
    assert [(label, view) for label, _, view in got] == [(label, v) for label, _, v in expected]
    for (_, a, _), (_, b, _) in zip(got, expected, strict=True):
        assert a == pytest.approx(b, abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_rescored_tags_equal_a_live_run(kind, checkpoints, wide_photo, tmp_path) -> None:
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    other = write_vocab(tmp_path / "other.txt", OTHER)
    base = {"model": str(checkpoints[kind]), "quality": "high", "custom_vocabulary": vocab}
    live = tag_file(
        make_plugin(checkpoints[kind], **{**base, "threshold": 0.0, "max_tags": 0}), wide_photo
    )
    stored = live.embeddings
    assert stored is not None and stored.vectors.dtype == np.float32
    assert stored.vectors.shape[0] == len(stored.views) == live.model["views"] > 1
    assert np.allclose(np.linalg.norm(stored.vectors, axis=1), 1.0, atol=1e-5)

    # Same settings: the very same tags from the stored embeddings, no vision forward.
    same = SiglipPlugin({**base, "threshold": 0.0, "max_tags": 0})
    _assert_same(_tags(same.rescore([stored])[0]), _tags(live))
    assert same._loaded is None  # text embeddings came from the cache the live run filled

    # Another threshold, limit and vocabulary: equal to a fresh run with those settings.
    for changed in (
        {"threshold": 0.45, "max_tags": 0},
        {"threshold": 0.0, "max_tags": 3},
        {"threshold": 0.0, "max_tags": 0, "custom_vocabulary": other},
        {"threshold": 0.0, "max_tags": 0, "max_candidates": 4},
    ):
        settings = {**base, **changed}
        fresh = tag_file(make_plugin(checkpoints[kind], **settings), wide_photo)
        rescored = SiglipPlugin(settings).rescore([stored])[0]
        _assert_same(_tags(rescored), _tags(fresh))
        assert rescored.embeddings is None  # nothing new to store


def test_identities_need_no_model_and_follow_the_settings(checkpoints, tmp_path) -> None:
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    base = {"model": str(checkpoints["v1"]), "custom_vocabulary": vocab}
    plugin = SiglipPlugin(base)
    before = (plugin.embedding_identity(), plugin.result_identity())
    assert plugin._loaded is None
    plugin.load()
    assert (plugin.embedding_identity(), plugin.result_identity()) == before

    def ids(**changed):
        p = SiglipPlugin({**base, **changed})
        return p.embedding_identity(), p.result_identity()

    assert ids() == before
    assert ids(batch_size=1) == before  # speed only
    for changed in ({"threshold": 0.3}, {"max_tags": 2}, {"max_candidates": 3}):
        embedding, result = ids(**changed)
        assert embedding == before[0] and result != before[1], changed
    for changed in ({"quality": "high"}, {"dtype": "bfloat16"}, {"model": str(checkpoints["v2"])}):
        embedding, result = ids(**changed)
        assert embedding != before[0] and result != before[1], changed
    # Editing the vocabulary file changes the result identity (same path).
    write_vocab(vocab, [*LABELS, "zebra"])
    assert ids()[1] != before[1]


def test_hub_ids_are_identified_by_the_cached_commit(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    plugin = SiglipPlugin({"variant": "base"})
    assert plugin.embedding_identity()["revision"] == "not-cached"
    refs = tmp_path / "hub" / "models--google--siglip-base-patch16-224" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("0123abcd\n")
    identity = SiglipPlugin({"variant": "base"}).embedding_identity()
    assert identity["model"] == "google/siglip-base-patch16-224"
    assert identity["revision"] == "0123abcd"


def test_a_query_text_scores_like_the_tag(checkpoints, wide_photo, tmp_path) -> None:
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    plugin = make_plugin(
        checkpoints["v2"], quality="high", threshold=0.0, max_tags=0, custom_vocabulary=vocab
    )
    live = tag_file(plugin, wide_photo)
    stored = live.embeddings
    searcher = SiglipPlugin({"model": str(checkpoints["v2"])})
    query = searcher.encode_text(["Red_Car"], stored.scoring)  # normalised like a label
    scores = searcher.score_embeddings(query, stored.vectors, stored.scoring)
    assert scores.shape == (len(stored.views), 1)
    expected = next(t for t in live.tags if t.label == "red car")
    assert float(scores.max()) == pytest.approx(expected.confidence, abs=1e-6)
    assert stored.views[int(scores[:, 0].argmax())] == expected.found_in


def test_images_scored_together_equal_each_scored_alone() -> None:
    """Re-scoring stacks the views of many images into blocks (one matrix product per
    block); every image keeps the labels, order, views and confidences it gets alone."""
    from visual_buffet_siglip.scoring import normalise, score_image, score_images

    rng = np.random.default_rng(3)
    text = normalise(rng.standard_normal((300, 32)))
    images = [normalise(rng.standard_normal((int(n), 32))) for n in rng.integers(1, 12, 40)]
    for block_rows in (1, 7, 64, 10_000):  # a block per image, blocks across images, one
        together = score_images(images, text, 12.0, -1.5, 0.2, 25, block_rows=block_rows)
        assert len(together) == len(images)
        for views, got in zip(images, together, strict=True):
            alone = score_image(views, text, 12.0, -1.5, 0.2, 25)
            assert got.labels.tolist() == alone.labels.tolist()
            assert got.views.tolist() == alone.views.tolist()
            np.testing.assert_allclose(got.confidences, alone.confidences, rtol=0, atol=1e-6)
    assert any(len(s.labels) for s in together) and score_images([], text, 1, 0, 0, 0) == []
