"""The store's read API, for the CLI (``library stats``), the GUI, XMP and search.

Mixed into :class:`~visual_buffet.library.store.LibraryStore`; every method takes the store's
lock for its query only, so readers in other threads or processes never wait for a run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet.library.vectors import from_blob, views_from_json
from visual_buffet.plugin_api import ImageEmbeddings, ImageTags

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


@dataclass(frozen=True)
class StoredImage:
    """An image of the store: its id, content hash, size and the paths it was seen at."""

    id: int
    content_hash: str
    size: int
    width: int | None
    height: int | None
    paths: list[str] = field(default_factory=list)
    last_seen: float = 0.0

    @property
    def path(self) -> str:
        """The path it was seen at most recently."""
        return self.paths[0] if self.paths else ""


@dataclass(frozen=True)
class StoredEmbeddings:
    """One image's stored view embeddings for a plugin and embedding identity."""

    image_id: int
    embeddings: ImageEmbeddings
    model: dict[str, Any]
    width: int | None = None
    height: int | None = None


def rescored_record(
    stored: StoredEmbeddings,
    file: str,
    plugin: str,
    settings: dict[str, Any],
    result: ImageTags,
) -> dict[str, Any]:
    """The output record of an image re-scored from ``stored`` (``"tags_from": "embeddings"``).

    ``model`` is the stored model metadata (the model that made the embeddings) without the
    stored run's own timings (``*_ms``: loading or exporting the model happened in that run,
    not in this one), updated with what the re-score reports (views, vocabulary, text
    cache); ``image`` is the stored size.
    """
    from visual_buffet.output import success_record

    kept = {key: value for key, value in stored.model.items() if not key.endswith("_ms")}
    result.model = {**kept, **result.model}
    size = (stored.width, stored.height) if stored.width and stored.height else None
    record = success_record(file, plugin, result, settings, size, {})
    record["tags_from"] = "embeddings"
    return record


@dataclass(frozen=True)
class EmbeddingSet:
    """The embeddings a plugin stored under one identity: how many images, which model."""

    plugin: str
    digest: str
    identity: Any
    images: int
    dim: int


_IMAGE_COLUMNS = "i.id, i.content_hash, i.size, i.width, i.height, i.last_seen"


class StoreReader:
    """Read queries of a store (see the module docstring)."""

    path: Path
    schema_version: int

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def file_bytes(self) -> int: ...

    # -- images ------------------------------------------------------------------------------
    def count_images(self, *, plugin: str | None = None, tag: str | None = None) -> int:
        """Stored images (with a result of ``plugin``; currently tagged ``tag``)."""
        where, args = _filters(plugin, tag)
        with self._read() as db:
            return db.execute(f"SELECT COUNT(*) FROM images AS i {where}", args).fetchone()[0]

    def list_images(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        plugin: str | None = None,
        tag: str | None = None,
    ) -> list[StoredImage]:
        """A page of stored images, oldest first (stable paging by id), with their paths."""
        where, args = _filters(plugin, tag)
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images AS i {where} ORDER BY i.id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            return [self._image(db, row) for row in rows]

    def image(self, image_id: int) -> StoredImage | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images AS i WHERE i.id = ?", (image_id,)
            ).fetchone()
            return self._image(db, row) if row else None

    def image_at(self, path: Path | str) -> StoredImage | None:
        """The image last stored at ``path`` (made absolute), whatever the file holds now."""
        absolute = str(Path(path).expanduser().absolute())
        with self._read() as db:
            row = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM paths AS p JOIN images AS i ON i.id = p.image_id "
                "WHERE p.path = ?",
                (absolute,),
            ).fetchone()
            return self._image(db, row) if row else None

    @staticmethod
    def _image(db: sqlite3.Connection, row: tuple) -> StoredImage:
        paths = [
            r[0]
            for r in db.execute(
                "SELECT path FROM paths WHERE image_id = ? ORDER BY seen_at DESC", (row[0],)
            )
        ]
        return StoredImage(row[0], row[1], row[2], row[3], row[4], paths, row[5])

    # -- records -----------------------------------------------------------------------------
    def latest_record(self, image_id: int, plugin: str) -> dict[str, Any] | None:
        """The most recent record stored for this image and plugin (an output record)."""
        with self._read() as db:
            row = db.execute(
                "SELECT record FROM results WHERE image_id = ? AND plugin = ? "
                "ORDER BY created_at DESC LIMIT 1",
                (image_id, plugin),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def latest_records(self, image_id: int) -> dict[str, dict[str, Any]]:
        """Plugin name -> the most recent record of this image."""
        with self._read() as db:
            plugins = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT plugin FROM results WHERE image_id = ? ORDER BY plugin",
                    (image_id,),
                )
            ]
        return {p: record for p in plugins if (record := self.latest_record(image_id, p))}

    def tag_counts(self, *, plugin: str | None = None, limit: int = 100) -> list[tuple[str, int]]:
        """The most frequent current tags, (label, images), most frequent first."""
        query = "SELECT label, COUNT(*) AS n FROM tags"
        args: list[Any] = []
        if plugin:
            query += " WHERE plugin = ?"
            args.append(plugin)
        query += " GROUP BY label ORDER BY n DESC, label LIMIT ?"
        with self._read() as db:
            return [(r[0], r[1]) for r in db.execute(query, [*args, limit])]

    # -- embeddings --------------------------------------------------------------------------
    def embedding_sets(self, plugin: str | None = None) -> list[EmbeddingSet]:
        """The embedding identities stored (per plugin), most images first."""
        query = (
            "SELECT e.plugin, e.identity, d.canonical, COUNT(*), MAX(e.dim) FROM embeddings AS e "
            "JOIN identities AS d ON d.digest = e.identity"
        )
        args: list[Any] = []
        if plugin:
            query += " WHERE e.plugin = ?"
            args.append(plugin)
        query += " GROUP BY e.plugin, e.identity ORDER BY COUNT(*) DESC"
        with self._read() as db:
            return [
                EmbeddingSet(r[0], r[1], json.loads(r[2]), r[3], r[4])
                for r in db.execute(query, args)
            ]

    def stored_embeddings(
        self, image_id: int, plugin: str, identity: Any
    ) -> StoredEmbeddings | None:
        """This image's view embeddings for a plugin and embedding identity (dict or digest)."""
        digest = _digest(identity)
        with self._read() as db:
            row = db.execute(
                f"SELECT {_EMBEDDING_COLUMNS} WHERE e.image_id = ? AND e.plugin = ? "
                "AND e.identity = ?",
                (image_id, plugin, digest),
            ).fetchone()
        return _embeddings(row) if row else None

    def iter_embeddings(
        self, plugin: str, identity: Any, *, batch: int = 2000
    ) -> Iterator[StoredEmbeddings]:
        """Every image's embeddings for a plugin and identity (dict or digest), by image id.

        Read in pages of ``batch`` images, so memory stays bounded however large the store.
        """
        digest = _digest(identity)
        after = -1
        while True:
            with self._read() as db:
                rows = db.execute(
                    f"SELECT {_EMBEDDING_COLUMNS} WHERE e.plugin = ? AND e.identity = ? "
                    "AND e.image_id > ? ORDER BY e.image_id LIMIT ?",
                    (plugin, digest, after, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _embeddings(row)
            after = rows[-1][0]

    # -- statistics --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """What the store holds and how big it is (``visual-buffet library stats --json``)."""
        with self._read() as db:
            one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
            plugins: dict[str, dict[str, Any]] = {}
            for plugin, images, records in db.execute(
                "SELECT plugin, COUNT(DISTINCT image_id), COUNT(*) FROM results GROUP BY plugin"
            ):
                plugins[plugin] = {"images": images, "records": records}
            for plugin, images, nbytes in db.execute(
                "SELECT plugin, COUNT(*), SUM(LENGTH(views) + LENGTH(vectors)) "
                "FROM embeddings GROUP BY plugin"
            ):
                entry = plugins.setdefault(plugin, {"images": 0, "records": 0})
                entry["embedded_images"] = images
                entry["embedding_bytes"] = nbytes
            images = one("SELECT COUNT(*) FROM images")
            paths = one("SELECT COUNT(*) FROM paths")
        size = self.file_bytes()
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "images": images,
            "paths": paths,
            "plugins": plugins,
            "bytes": size,
            "bytes_per_image": round(size / images) if images else 0,
        }


_EMBEDDING_COLUMNS = (
    "e.image_id, e.dtype, e.dim, e.views, e.vectors, e.scoring, e.model, i.width, i.height "
    "FROM embeddings AS e JOIN images AS i ON i.id = e.image_id"
)


def _embeddings(row: tuple) -> StoredEmbeddings:
    image_id, dtype, dim, views, blob, scoring, model, width, height = row
    embeddings = ImageEmbeddings(
        views_from_json(views), from_blob(blob, dtype, dim), json.loads(scoring)
    )
    return StoredEmbeddings(image_id, embeddings, json.loads(model), width, height)


def _digest(identity: Any) -> str:
    if isinstance(identity, str):
        return identity
    from visual_buffet.library.store import identity_digest

    return identity_digest(identity)[0]


def _filters(plugin: str | None, tag: str | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if tag:
        # The images holding the tag, found through tags_by_label: a correlated EXISTS per
        # image scanned the whole images table (90 ms for a late page of 100,000 images,
        # 10 ms this way, whatever the page).
        clauses.append(
            "i.id IN (SELECT t.image_id FROM tags AS t WHERE t.label = ?"
            + (" AND t.plugin = ?)" if plugin else ")")
        )
        args.append(tag)
        if plugin:
            args.append(plugin)
    elif plugin:
        clauses.append(
            "EXISTS (SELECT 1 FROM results AS r WHERE r.image_id = i.id AND r.plugin = ?)"
        )
        args.append(plugin)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
