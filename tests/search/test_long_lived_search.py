"""A LibrarySearch kept between queries (the GUI's) sees images stored after it was made."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_a_kept_search_sees_new_and_forgotten_images(tiny_v1, tmp_path) -> None:
    from visual_buffet.library import ResultItem, fingerprint, open_library
    from visual_buffet.library.resume import store_identities
    from visual_buffet.library.search import LibrarySearch
    from visual_buffet.plugin_api import ImageEmbeddings, View
    from visual_buffet_siglip import SiglipPlugin

    plugin = SiglipPlugin({"model": str(tiny_v1), "quality": "quick"})
    result_id, embedding_id = store_identities(plugin)
    rng = np.random.default_rng(1)

    def put(store, index: int):
        photo = tmp_path / f"p{index}.png"
        Image.new("RGB", (64, 48), (index * 40, 10, 10)).save(photo)
        vector = rng.standard_normal((1, 32)).astype(np.float32)
        vector /= np.linalg.norm(vector)
        embeddings = ImageEmbeddings([View("1080", 64, "whole", (0, 0, 64, 48))], vector, {})
        record = {"file": str(photo), "plugin": "siglip", "tags": [], "model": {}}
        store.put_result(
            ResultItem(fingerprint(photo), "siglip", result_id, record, embeddings, embedding_id)
        )
        return photo

    with open_library(tmp_path / "library.sqlite3") as store:
        first = [put(store, i) for i in range(3)]
        search = LibrarySearch(store, plugin)
        hits = search.like(first[1])
        assert len(hits) == 3 and hits[0].file == str(first[1]) and hits[0].score > 0.9999
        matrix = search.matrix
        assert search.like(first[0])[0].file == str(first[0])
        assert search.matrix is matrix  # nothing changed: not read again

        added = put(store, 3)
        hits = search.like(added)
        assert len(hits) == 4 and hits[0].file == str(added)
        store.forget([first[2]])
        assert {h.file for h in search.like(added)} == {str(p) for p in (*first[:2], added)}
