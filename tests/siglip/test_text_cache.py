"""Text embeddings are computed once, cached on disk, verified on read."""

from __future__ import annotations

import logging

import pytest
import torch

from tests.siglip.conftest import make_plugin, tag_file, write_vocab
from visual_buffet import paths
from visual_buffet_siglip import text_cache
from visual_buffet_siglip.text_cache import TextEmbeddingCache, cache_key

LABELS = ["cat", "dog", "boat", "tree"]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "siglip" / "text-embeddings"


@pytest.fixture
def count_encodes(monkeypatch):
    """Labels encoded by the text tower, in either runtime (PyTorch or ONNX Runtime)."""
    from visual_buffet_siglip.onnx_backend import OnnxModel

    calls = []
    real = text_cache.encode_texts
    real_onnx = OnnxModel.encode_texts

    def counting(model, tokenizer, texts, device, chunk=256):
        calls.append(len(texts))
        return real(model, tokenizer, texts, device, chunk)

    def counting_onnx(self, texts, report):
        calls.append(len(texts))
        return real_onnx(self, texts, report)

    monkeypatch.setattr(text_cache, "encode_texts", counting)
    monkeypatch.setattr(OnnxModel, "encode_texts", counting_onnx)
    return calls


def _same_tags(got, want) -> None:
    """The same labels, views and order; confidences to 1e-6. The text embeddings are equal
    (read back bit for bit), but on ONNX Runtime the first run's vision session (made while
    writing the optimised graph, prepacked) and a warm run's first batch (the optimised graph
    opened unpacked) sum in another order: the last float bits of a confidence may differ."""
    assert [(t.label, t.found_in) for t in got] == [(t.label, t.found_in) for t in want]
    assert [t.confidence for t in got] == pytest.approx([t.confidence for t in want], abs=1e-6)


def test_miss_then_hit_gives_identical_scores(
    checkpoints, photo, tmp_path, cache_dir, count_encodes
):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    first = make_plugin(checkpoints["v1"], quality="quick", threshold=0, custom_vocabulary=vocab)
    assert first._run_info["text_cache"] == "miss"
    assert len(list(cache_dir.glob("*.safetensors"))) == 1
    second = make_plugin(checkpoints["v1"], quality="quick", threshold=0, custom_vocabulary=vocab)
    assert second._run_info["text_cache"] == "hit"
    assert count_encodes == [len(LABELS)]  # the text tower ran once, for the first run only
    assert (first._text == second._text).all()  # the cached embeddings, bit for bit
    _same_tags(tag_file(first, photo).tags, tag_file(second, photo).tags)


def test_other_labels_or_checkpoint_are_a_miss(checkpoints, tmp_path, cache_dir, count_encodes):
    vocab = write_vocab(tmp_path / "a.txt", LABELS)
    make_plugin(checkpoints["v1"], custom_vocabulary=vocab)
    make_plugin(checkpoints["v1"], custom_vocabulary=write_vocab(tmp_path / "b.txt", LABELS[:3]))
    make_plugin(checkpoints["v2"], custom_vocabulary=vocab)
    assert count_encodes == [4, 3, 4]
    assert len(list(cache_dir.glob("*.safetensors"))) == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_corrupt_file_is_recomputed(
    damage, checkpoints, photo, tmp_path, cache_dir, count_encodes, caplog
):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    good = tag_file(
        make_plugin(checkpoints["v1"], quality="quick", threshold=0, custom_vocabulary=vocab), photo
    ).tags
    (path,) = cache_dir.glob("*.safetensors")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-5] ^= 0xFF  # inside the tensor bytes: only the checksum can tell
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a safetensors file at all" * 10)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="visual_buffet_siglip.text_cache"):
        plugin = make_plugin(
            checkpoints["v1"], quality="quick", threshold=0, custom_vocabulary=vocab
        )
    assert plugin._run_info["text_cache"] == "miss"
    assert count_encodes == [4, 4]
    assert "recomputing" in caplog.text
    _same_tags(tag_file(plugin, photo).tags, good)
    # ...and the repaired file is trusted again.
    assert make_plugin(checkpoints["v1"], custom_vocabulary=vocab)._run_info["text_cache"] == "hit"


def test_key_mismatch_is_rejected(tmp_path):
    cache = TextEmbeddingCache(tmp_path)
    digest, canonical = cache_key(labels=["a", "b"])
    cache.save(digest, canonical, torch.ones(2, 3))
    assert cache.load(digest, canonical, 2) is not None
    _, other = cache_key(labels=["a", "c"])
    assert cache.load(digest, other, 2) is None  # same file name, other content: rejected
    assert cache.load(digest, canonical, 3) is None  # wrong row count


def test_unwritable_cache_is_not_fatal(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = TextEmbeddingCache(blocker / "sub")  # a folder inside a file cannot be created
    emb, hit = cache.get_or_compute({"labels": ["a"]}, 1, lambda: torch.ones(1, 2))
    assert not hit and emb.shape == (1, 2)
