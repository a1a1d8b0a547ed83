"""All stored view embeddings of one plugin and embedding identity, as one float32 matrix.

Read with one query over the ``embeddings`` table (its ``(plugin, identity)`` index), each
image's blob (views x dim float32, the views of one image contiguous) copied straight into
a preallocated matrix: memory is the matrix itself (rows x dim x 4 bytes: 100,000 photos at
quality quick with 768-dim embeddings are 307 MB) plus one blob at a time, never a second
copy. Paths and view metadata are read only for the images a query returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from visual_buffet.library.store import LibraryStore
    from visual_buffet.plugin_api import Plugin

FETCH_ROWS = 512
"""Rows fetched from SQLite at a time while filling the matrix."""


@dataclass
class EmbeddingMatrix:
    """Stored view embeddings, the rows of one image contiguous.

    Attributes:
        store: The store (paths and views of returned images are read from it on demand).
        plugin: The plugin name.
        identity: The embedding identity digest the rows belong to.
        image_ids: (images,) the store's image ids, in the order of the rows.
        starts: (images,) the first row of each image in ``vectors``.
        vectors: (rows, dim) float32, L2-normalised.
        scoring: The stored scoring info (equal for one identity: same model and settings).
    """

    store: Any
    plugin: str
    identity: str
    image_ids: np.ndarray
    starts: np.ndarray
    vectors: np.ndarray
    scoring: dict[str, Any]
    signature: tuple[int, int] = (0, 0)
    _paths: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def whole_rows(self) -> np.ndarray:
        """The first row of every image: its whole-image view (plugins list it first)."""
        return self.starts

    def path_of(self, image: int) -> str:
        """The stored path of image number ``image`` (the most recently seen one)."""
        image_id = int(self.image_ids[image])
        if image_id not in self._paths:
            with self.store._read() as db:
                row = db.execute(
                    "SELECT path FROM paths WHERE image_id = ? ORDER BY seen_at DESC, path LIMIT 1",
                    (image_id,),
                ).fetchone()
            self._paths[image_id] = row[0] if row else f"(image {image_id}: no path left)"
        return self._paths[image_id]

    def views_of(self, images: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The views (``View.to_dict()``, in row order) of some images, by image number."""
        out = {}
        with self.store._read() as db:
            for image in images:
                row = db.execute(
                    "SELECT views FROM embeddings WHERE image_id = ? AND plugin = ? "
                    "AND identity = ?",
                    (int(self.image_ids[image]), self.plugin, self.identity),
                ).fetchone()
                out[image] = json.loads(row[0])
        return out

    def same_content_paths(self) -> list[tuple[str, str]]:
        """Pairs of paths holding the same file content (copies): one stored image each."""
        with self.store._read() as db:
            rows = db.execute(
                """
                SELECT p.image_id, p.path FROM paths AS p JOIN embeddings AS e
                  ON e.image_id = p.image_id AND e.plugin = ? AND e.identity = ?
                WHERE p.image_id IN
                  (SELECT image_id FROM paths GROUP BY image_id HAVING COUNT(*) > 1)
                ORDER BY p.image_id, p.path
                """,
                (self.plugin, self.identity),
            ).fetchall()
        by_image: dict[int, list[str]] = {}
        for image_id, path in rows:
            by_image.setdefault(image_id, []).append(path)
        return [(paths[0], other) for paths in by_image.values() for other in paths[1:]]


def matrix_signature(db: Any, plugin: str, identity: str) -> tuple[int, int]:
    """(rows, highest rowid) of an identity's embeddings: changes when images are added,
    re-embedded (``INSERT OR REPLACE`` gives the row a new rowid) or forgotten. Two index
    lookups, so a long-lived search (the GUI's) can check it before every query."""
    count, top = db.execute(
        "SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM embeddings "
        "WHERE plugin = ? AND identity = ?",
        (plugin, identity),
    ).fetchone()
    return int(count), int(top)


def read_matrix(store: Any, db: Any, plugin: str, identity: str) -> EmbeddingMatrix | None:
    """The matrix of ``plugin``'s embeddings under ``identity`` (a digest) read through the
    store's connection ``db``; None when there are none."""
    signature = matrix_signature(db, plugin, identity)
    count, total_bytes, dim = db.execute(
        "SELECT COUNT(*), SUM(LENGTH(vectors)), MAX(dim) FROM embeddings "
        "WHERE plugin = ? AND identity = ?",
        (plugin, identity),
    ).fetchone()
    if not count:
        return None
    dtypes = [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT dtype FROM embeddings WHERE plugin = ? AND identity = ?",
            (plugin, identity),
        )
    ]
    if dtypes != ["float32"]:
        raise ValueError(f"stored embeddings of dtype {dtypes} are not supported here")
    vectors = np.empty((total_bytes // (4 * dim), dim), dtype=np.float32)
    image_ids = np.empty(count, dtype=np.int64)
    starts = np.empty(count, dtype=np.int64)
    cursor = db.execute(
        # No ORDER BY: sorting 3 KB rows takes a temporary B-tree (1.4 s instead of 0.6 s
        # for 100,000 rows); the index order is as good for a ranking.
        "SELECT image_id, vectors FROM embeddings WHERE plugin = ? AND identity = ?",
        (plugin, identity),
    )
    row_at = image = 0
    while batch := cursor.fetchmany(FETCH_ROWS):
        for image_id, blob in batch:
            block = np.frombuffer(blob, dtype="<f4").reshape(-1, dim)
            image_ids[image], starts[image] = image_id, row_at
            vectors[row_at : row_at + len(block)] = block
            row_at += len(block)
            image += 1
    (scoring,) = db.execute(
        "SELECT scoring FROM embeddings WHERE plugin = ? AND identity = ? LIMIT 1",
        (plugin, identity),
    ).fetchone()
    return EmbeddingMatrix(
        store, plugin, identity, image_ids, starts, vectors, json.loads(scoring), signature
    )


@dataclass(frozen=True)
class StoreKeys:
    """How the store keys a plugin's rows for one host setting (``use_previews``)."""

    result: Any
    embedding: Any
    digest: str  # the ``identity`` column of the embeddings

    @property
    def use_previews(self) -> bool:
        return bool(self.embedding["host"]["use_previews"])


def store_keys(store: LibraryStore, plugin: Plugin, use_previews: bool = True) -> StoreKeys:
    """The store's keys for ``plugin``'s current settings: with ``use_previews`` as given
    when the store holds embeddings under it, else with the other value when it holds those
    (a photo decoded from its preview or not is the same photo to search), else as given."""
    from visual_buffet.library.resume import host_identity, store_identities
    from visual_buffet.library.store import identity_digest

    candidates = []
    for value in (use_previews, not use_previews):
        result, embedding = store_identities(plugin, host_identity(value))
        keys = StoreKeys(result, embedding, identity_digest(embedding)[0])
        with store._read() as db:
            found = db.execute(
                "SELECT 1 FROM embeddings WHERE plugin = ? AND identity = ? LIMIT 1",
                (plugin.name, keys.digest),
            ).fetchone()
        if found:
            return keys
        candidates.append(keys)
    return candidates[0]


def load_matrix(store: LibraryStore, plugin: Plugin, use_previews: bool = True) -> EmbeddingMatrix:
    """The matrix for ``plugin``'s current embedding identity; a
    :class:`~visual_buffet.library.search.SearchError` naming what is stored when it has none."""
    keys = store_keys(store, plugin, use_previews)
    with store._read() as db:
        matrix = read_matrix(store, db, plugin.name, keys.digest)
    if matrix is None:
        from visual_buffet.library.search import SearchError

        raise SearchError(missing_embeddings_message(store, plugin.name, keys.embedding))
    return matrix


def missing_embeddings_message(store: LibraryStore, plugin: str, identity: Any) -> str:
    """Why there is nothing to search or re-tag, and which settings would find something."""
    sets = store.embedding_sets(plugin)
    if not sets:
        return (
            f"the library store {store.path} holds no {plugin} embeddings yet: tag photos "
            f"first (visual-buffet tag PHOTOS --plugin {plugin}), or pass --library PATH."
        )
    lines = [
        f"the library store {store.path} holds no {plugin} embeddings for these settings "
        f"({describe_identity(identity)}). It holds:"
    ]
    for found in sets:
        lines.append(f"  {found.images} image(s): {describe_identity(found.identity, identity)}")
    lines.append("Pass the settings you tagged with (e.g. --variant, --quality, --set model=...).")
    return "\n".join(lines)


def describe_identity(identity: Any, compared_to: Any = None) -> str:
    """An embedding identity in a line: model and the settings that decide the views; with
    ``compared_to``, only what differs from it."""
    flat = _flatten(identity if isinstance(identity, dict) else {})
    other = _flatten(compared_to) if isinstance(compared_to, dict) else None
    parts = [
        f"{key}={value}"
        for key, value in flat.items()
        if key not in ("format",)
        and value is not None
        and (other is None or other.get(key) != value)
    ]
    return ", ".join(parts) or "the same settings, another plugin version"


def _flatten(identity: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in identity.items():
        if isinstance(value, dict):
            out.update(_flatten(value))
        else:
            out[key] = value
    return out


def stored_vectors(
    store: LibraryStore, plugin: Plugin, image: Path, digest: str
) -> tuple[list[dict[str, Any]], np.ndarray] | None:
    """Views and vectors stored for the file at ``image`` (by path, else by content), or None."""
    stored_image = store.image_at(image)
    if stored_image is None and Path(image).is_file():
        from visual_buffet.library.fingerprint import content_hash

        image_id = store.image_for_hash(content_hash(image))
    else:
        image_id = stored_image.id if stored_image else None
    if image_id is None:
        return None
    stored = store.stored_embeddings(image_id, plugin.name, digest)
    if stored is None:
        return None
    views = [view.to_dict() for view in stored.embeddings.views]
    return views, np.asarray(stored.embeddings.vectors, dtype=np.float32)
