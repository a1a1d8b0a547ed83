"""Search a library store: by text, by image similarity, and near-duplicate pairs.

All three run on the stored view embeddings of one plugin and embedding identity (the
model and the settings that decide the views), held as one matrix
(:class:`~visual_buffet.library.embedding_matrix.EmbeddingMatrix`): brute force, exact, no
index. A text query is scored by the plugin itself (:meth:`Plugin.encode_text` and
:meth:`Plugin.score_embeddings`), so an image's score for a text is the confidence a tag of
that label would get (SigLIP: the same normalisation, template, padding and sigmoid), the
highest over the image's views. Image similarity and duplicates are cosines of the
L2-normalised vectors.

The CLI (``visual-buffet search``) and the GUI call the same :class:`LibrarySearch`; it keeps
the matrix in memory, so queries after the first cost one matrix-vector product each (and
two index lookups that notice when the store's rows changed, e.g. after a tagging run).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from visual_buffet.library.embedding_matrix import EmbeddingMatrix, load_matrix
from visual_buffet.library.ranking import similar_pairs, top_images

if TYPE_CHECKING:
    from visual_buffet.library.store import LibraryStore
    from visual_buffet.plugin_api import Plugin

DEFAULT_LIMIT = 20
DEFAULT_MIN_SIMILARITY = 0.95
"""Cosine of two whole-image embeddings above which ``search --duplicates`` lists a pair.

Copies, re-encoded JPEGs and resized versions of a photo score above it with SigLIP; two
photos of the same scene taken a moment apart usually score 0.85-0.95."""


class SearchError(Exception):
    """A search that cannot run as asked; the message names the cause and the fix."""


@dataclass(frozen=True)
class SearchHit:
    """One stored image in a ranking.

    Attributes:
        file: The image's stored path.
        score: Text search: the plugin's confidence for the text (a tag's score). Image
            search: the cosine of the query image and the best view.
        found_in: The view that gave the score (``View.to_dict()``).
        image_id: The store's id of the image.
    """

    file: str
    score: float
    found_in: dict[str, Any]
    image_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "score": round(self.score, 6), "found_in": self.found_in}


@dataclass(frozen=True)
class DuplicatePair:
    """Two stored images whose whole-image embeddings have cosine ``similarity``."""

    first: str
    second: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "similarity": round(self.similarity, 6),
        }


class LibrarySearch:
    """The stored embeddings of one plugin's current embedding identity, searchable.

    ``plugin`` is constructed with the settings to search under (model, quality...), and
    ``use_previews`` is the host setting the images were decoded with (both are part of the
    identity the store keys embeddings by; the other ``use_previews`` value is used when
    only that one is stored). The plugin is
    loaded only when a query needs its model (a text not in the text-embedding cache, an
    image not in the store). The matrix is read from the store on first use and kept.
    """

    def __init__(self, store: LibraryStore, plugin: Plugin, use_previews: bool = True) -> None:
        if not getattr(plugin, "provides_embeddings", False):
            raise SearchError(
                f"plugin {plugin.name} does not store embeddings, so its images cannot be "
                "searched; search with a plugin that does (siglip)."
            )
        self.store = store
        self.plugin = plugin
        self.use_previews = use_previews
        self._matrix: EmbeddingMatrix | None = None
        self._changes: tuple[int, int] | None = None

    @property
    def matrix(self) -> EmbeddingMatrix:
        """The stored embeddings (read once, again after :meth:`refresh` saw them change);
        :class:`SearchError` when there are none."""
        if self._matrix is None:
            from visual_buffet.plugin_api import PluginError

            try:
                self._matrix = load_matrix(self.store, self.plugin, self.use_previews)
            except PluginError as exc:  # the settings name a model that cannot be found
                raise SearchError(str(exc)) from None
        return self._matrix

    def refresh(self) -> None:
        """Drop the matrix if the store's rows for it changed (a run added or re-embedded
        images, some were forgotten): the next query reads it again. Two index lookups."""
        from visual_buffet.library.embedding_matrix import matrix_signature

        if self._matrix is None:
            return
        with self.store._read() as db:
            # Free first check: commits by other connections change data_version, this
            # connection's own writes total_changes. Only then count the rows (25 ms at
            # 100,000 images), since a commit may not have touched these embeddings.
            changes = (db.execute("PRAGMA data_version").fetchone()[0], db.total_changes)
            if changes == self._changes:
                return
            self._changes = changes
            now = matrix_signature(db, self.plugin.name, self._matrix.identity)
        if now != self._matrix.signature:
            self._matrix = None

    # -- queries --------------------------------------------------------------------------
    def text(self, query: str, limit: int | None = DEFAULT_LIMIT) -> list[SearchHit]:
        """Stored images ranked by the plugin's score for ``query``, best first."""
        if not query.strip():
            raise SearchError("the search text is empty; describe what to find, e.g. 'a dog'.")
        self.refresh()
        matrix = self.matrix
        texts = self._encode_query(query, matrix.scoring)
        scores = self.plugin.score_embeddings(texts, matrix.vectors, matrix.scoring)[:, 0]
        return self._hits(np.asarray(scores, dtype=np.float32), limit)

    def like(self, image: Path, limit: int | None = DEFAULT_LIMIT) -> list[SearchHit]:
        """Stored images ranked by the cosine of ``image``'s whole-image embedding and their
        best view. ``image`` is looked up in the store first; else the plugin embeds it."""
        self.refresh()
        matrix = self.matrix
        vector = self.image_vector(image)
        return self._hits(matrix.vectors @ vector, limit)

    def image_vector(self, image: Path) -> np.ndarray:
        """The whole-image embedding of ``image``: stored, or computed by the plugin."""
        from visual_buffet.library.embedding_matrix import stored_vectors

        stored = stored_vectors(self.store, self.plugin, image, self.matrix.identity)
        if stored is None:
            stored = _embed_with_model(self.plugin, image)
        views, vectors = stored
        whole = next((i for i, view in enumerate(views) if view.get("view") == "whole"), 0)
        return np.ascontiguousarray(vectors[whole], dtype=np.float32)

    def duplicates(self, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Iterator[DuplicatePair]:
        """Pairs of stored images whose whole-image embeddings have at least this cosine.

        Files stored under several paths with the same content come first (similarity 1).
        Memory stays bounded: blocks of rows, never an images x images matrix.
        """
        self.refresh()
        matrix = self.matrix
        for first, second in matrix.same_content_paths():
            yield DuplicatePair(first, second, 1.0)
        whole = matrix.vectors[matrix.whole_rows]
        for pair in similar_pairs(whole, min_similarity):
            yield DuplicatePair(
                matrix.path_of(pair.first), matrix.path_of(pair.second), pair.similarity
            )

    # -- helpers --------------------------------------------------------------------------
    def _encode_query(self, query: str, scoring: dict[str, Any]) -> np.ndarray:
        from visual_buffet.plugin_api import PluginError

        try:
            # SigLIP tries its text-embedding cache under the stored key before any model.
            texts = self.plugin.encode_text([query], scoring=scoring)
        except PluginError as exc:
            raise SearchError(
                f"the search text must be encoded by {self.plugin.name}'s model, which could "
                f"not load: {exc}"
            ) from None
        return np.asarray(texts, dtype=np.float32)

    def _hits(self, view_scores: np.ndarray, limit: int | None) -> list[SearchHit]:
        matrix = self.matrix
        ranked = top_images(view_scores, matrix.starts, limit)
        views = matrix.views_of([r.image for r in ranked])
        return [
            SearchHit(
                file=matrix.path_of(r.image),
                score=r.score,
                found_in=views[r.image][r.view_row - int(matrix.starts[r.image])],
                image_id=int(matrix.image_ids[r.image]),
            )
            for r in ranked
        ]


def _embed_with_model(plugin: Plugin, image: Path) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Views and embeddings of an image that is not stored: one live pass of the plugin."""
    from visual_buffet.images import ImageLoadError, load_image
    from visual_buffet.plugin_api import PluginError

    try:
        plugin.load()
        loaded = load_image(image, max_side=plugin.max_image_side())
        result = next(iter(plugin.tag_stream([plugin.prepare(loaded)])))
    except PluginError as exc:
        raise SearchError(
            f"{image} is not in the library, so {plugin.name}'s model must embed it, and it "
            f"could not load: {exc}"
        ) from None
    except ImageLoadError as exc:
        raise SearchError(str(exc)) from None
    if result.embeddings is None:
        raise SearchError(f"plugin {plugin.name} gave no embedding for {image}.")
    views = [view.to_dict() for view in result.embeddings.views]
    return views, np.asarray(result.embeddings.vectors, dtype=np.float32)
