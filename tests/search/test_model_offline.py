"""Search and retag when the text needs a model that is not available offline: exit 2 with
the plugin's message, no traceback (the stored embeddings are those of a Hub checkpoint whose
Hugging Face cache entry names a commit but holds no files)."""

from __future__ import annotations

import numpy as np
from PIL import Image

HUB_ID = "google/siglip-base-patch16-224"  # the `base` variant


def _store_hub_embeddings(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    refs = hub / ("models--" + HUB_ID.replace("/", "--")) / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    from visual_buffet.library import ResultItem, fingerprint, open_library
    from visual_buffet.library.resume import store_identities
    from visual_buffet.plugin_api import ImageEmbeddings, View
    from visual_buffet_siglip import SiglipPlugin

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (320, 240), (200, 30, 30)).save(photo)
    plugin = SiglipPlugin({"variant": "base"})
    result_id, embedding_id = store_identities(plugin)
    assert embedding_id["plugin"]["revision"].startswith("0123")  # found in the fake cache
    vector = np.random.default_rng(0).standard_normal((1, 768)).astype(np.float32)
    vector /= np.linalg.norm(vector)
    embeddings = ImageEmbeddings(
        [View("480", 480, "whole", (0, 0, 320, 240))], vector, {"scale": 110.0, "bias": -16.0}
    )
    record = {"file": str(photo), "plugin": "siglip", "tags": [], "model": {}, "settings": {}}
    library = tmp_path / "library.sqlite3"
    with open_library(library) as store:
        store.put_result(
            ResultItem(fingerprint(photo), "siglip", result_id, record, embeddings, embedding_id)
        )
    return library


def test_search_and_retag_say_the_model_is_not_available(vb, tmp_path, monkeypatch) -> None:
    library = _store_hub_embeddings(tmp_path, monkeypatch)
    done = vb("search", "a red square", "--variant", "base", "--library", library)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "must be encoded by siglip's model, which could not load" in message
    assert HUB_ID in message or "offline" in message.lower(), message
    assert "Traceback" not in done.stderr

    vocabulary = tmp_path / "new.txt"
    vocabulary.write_text("red square\nblue circle\n", encoding="utf-8")
    done = vb("retag", "--variant", "base", "--vocabulary", vocabulary, "--library", library)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "need siglip's text model, which could not load" in message, message
    assert "Traceback" not in done.stderr
