"""What a :class:`~visual_buffet_siglip.plugin.SiglipPlugin` does with stored embeddings.

Contract v2 (:mod:`visual_buffet.plugin_api`): identities computed without the model, tags
re-scored from a library store's view embeddings with the current threshold, limit and
vocabulary, and query texts encoded into the same space for search. None of it runs the
vision tower; re-scoring and repeated queries need no torch when the text-embedding cache
holds the labels (under the key the embeddings were stored with).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visual_buffet import paths
from visual_buffet.plugin_api import ImageEmbeddings, ImageTags
from visual_buffet_siglip import identity
from visual_buffet_siglip.vocabulary import prompts

if TYPE_CHECKING:
    import numpy as np

    from visual_buffet_siglip.scoring import Scored
    from visual_buffet_siglip.variants import ModelChoice
    from visual_buffet_siglip.vocabulary import Vocabulary


class StoredEmbeddingsMixin:
    """The v2 hooks of the SigLIP plugin; mixed into :class:`SiglipPlugin` (which provides
    the attributes and methods declared below)."""

    settings: dict[str, Any]
    version: str
    _loaded: Any
    _labels: list[str]
    _vocabulary: Vocabulary
    _text: Any
    _text_key: dict[str, Any]
    _text_cache: str = "hit"  # whether the labels' text embeddings came from the cache

    if TYPE_CHECKING:  # SiglipPlugin's, declared for type checkers only

        def model_choice(self) -> ModelChoice: ...
        def vocabulary(self, choice: ModelChoice) -> Vocabulary: ...
        def load(self) -> None: ...
        def _tags_of(self, stored: ImageEmbeddings, scored: Scored) -> ImageTags: ...

    # -- contract v2: identities, re-scoring, text queries ---------------------------------
    def embedding_identity(self) -> dict[str, Any]:
        """Checkpoint identity + view settings; no model load, no torch (see identity.py)."""
        if self._loaded is not None:  # the revision the loader resolved (also for a download)
            model = {"model": self._text_key["model"], "revision": self._loaded.revision}
        else:
            model = identity.model_identity(self.model_choice())
        return identity.embedding_identity(model, self.settings)

    def result_identity(self) -> dict[str, Any]:
        """Embedding identity + threshold, limit and the exact labels (with their parents)."""
        vocabulary = self._vocabulary if self._loaded else self.vocabulary(self.model_choice())
        result = identity.result_identity(
            self.version, self.embedding_identity(), self.settings, vocabulary.labels
        )
        result["labels"] = vocabulary.sha256()
        return result

    def rescore(self, stored: Sequence[ImageEmbeddings]) -> list[ImageTags]:
        """Tags from stored view embeddings with the current threshold, limit and labels.

        The text embeddings of the labels come from the text-embedding cache under the key
        the embeddings were stored with; only on a miss is the model loaded (its text tower
        runs, never the vision tower). Images stored with the same scoring values are scored
        together (:func:`~visual_buffet_siglip.scoring.score_images`), by the same formula,
        threshold and limit as a live run; each record's ``rescore_ms`` is its share.
        """
        from visual_buffet_siglip.scoring import score_images

        if not self._labels:
            self._vocabulary = self.vocabulary(self.model_choice())
            self._labels = self._vocabulary.labels
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(stored):
            groups.setdefault(json.dumps(item.scoring, sort_keys=True), []).append(index)
        results: list[ImageTags | None] = [None] * len(stored)
        for indices in groups.values():
            start = time.perf_counter()
            info = stored[indices[0]].scoring
            scored = score_images(
                [stored[i].vectors for i in indices],
                self._label_embeddings(info),
                float(info["scale"]),
                float(info["bias"]),
                self.settings["threshold"],
                self.settings["max_tags"],
            )
            share_ms = (time.perf_counter() - start) * 1000 / len(indices)
            about = {
                "vocabulary_size": len(self._labels),
                "vocabulary_sha256": self._vocabulary.sha256(),
                "text_cache": self._text_cache,
            }
            for i, image in zip(indices, scored, strict=True):
                result = self._tags_of(stored[i], image)
                result.model = {**about, "views": len(stored[i].views)}
                result.timings = {"rescore_ms": share_ms}
                results[i] = result
        return [r for r in results if r is not None]

    def encode_text(
        self, texts: Sequence[str], scoring: dict[str, Any] | None = None
    ) -> np.ndarray:
        """Query texts as normalised text embeddings, prepared exactly like labels.

        With ``scoring`` (stored :attr:`ImageEmbeddings.scoring`), the text-embedding cache is
        tried under that model's key first, so a repeated query needs no model.
        """
        from visual_buffet_siglip.vocabulary import normalise_label

        labels = [normalise_label(text) for text in texts]
        return self._embeddings_for(labels, scoring)

    def score_embeddings(self, texts: np.ndarray, vectors: np.ndarray, scoring: Any) -> np.ndarray:
        """``sigmoid(scale * cos + bias)`` (len(vectors), len(texts)): a tag's own score."""
        from visual_buffet_siglip.scoring import stored_probabilities

        return stored_probabilities(vectors, texts, scoring)

    def _label_embeddings(self, stored_scoring: dict[str, Any]) -> np.ndarray:
        key = stored_scoring.get("text_key") or {}
        if self._text is not None and key == self._text_key:
            return self._text
        text = self._embeddings_for(self._labels, stored_scoring)
        self._text, self._text_key = text, dict(key)
        return text

    def _embeddings_for(self, labels: list[str], scoring: dict[str, Any] | None) -> np.ndarray:
        """Text embeddings of ``labels``: the cache under the stored key, else the text tower."""
        from visual_buffet_siglip.text_cache import TextEmbeddingCache, cache_key

        cache = TextEmbeddingCache(paths.cache_dir("siglip", "text-embeddings"))
        key = dict((scoring or {}).get("text_key") or self._text_key)
        if key:
            digest, canonical = cache_key(**key, labels=labels)
            cached = cache.load(digest, canonical, len(labels), numpy=True)
            if cached is not None:
                import numpy as np

                self._text_cache = "hit"
                return np.ascontiguousarray(cached, dtype=np.float32)
        self.load()  # the text tower is needed: load the model (no image goes through it)
        self._text_cache = "miss"
        texts = prompts(labels)
        embeddings, _ = cache.get_or_compute(
            {**self._text_key, "labels": labels},
            len(texts),
            lambda: _encode_prompts(self._loaded, texts),
            numpy=True,
        )
        import numpy as np

        return np.ascontiguousarray(embeddings, dtype=np.float32)


def _encode_prompts(loaded: Any, texts: list[str]) -> np.ndarray:
    """Text embeddings from the loaded runtime: ONNX Runtime's text tower or PyTorch's."""
    if hasattr(loaded, "encode_texts"):  # an onnx_backend.OnnxModel
        return loaded.encode_texts(texts, lambda _: None)
    from visual_buffet_siglip.text_cache import encode_texts

    tokenizer = loaded.processor.tokenizer
    return encode_texts(loaded.model, tokenizer, texts, loaded.device).cpu().numpy()
