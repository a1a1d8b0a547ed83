"""The library store: every result and view embedding kept in one SQLite file, as it finishes.

One :class:`LibraryStore` wraps one connection (standard-library :mod:`sqlite3`) in WAL mode
with ``synchronous=FULL``: a committed image survives a crash or a power cut, a run killed
mid-transaction loses only that transaction, and readers never block the writer. Every write
is one short ``BEGIN IMMEDIATE`` transaction (one image, or a batch of re-scored images), so
two runs on one store take turns (``busy_timeout``) instead of failing or corrupting it.

Writes take plain values (a :class:`~visual_buffet.library.fingerprint.Fingerprint`, a
plugin name, identities, an output record, :class:`~visual_buffet.plugin_api.ImageEmbeddings`)
so a distributed run (e.g. a Ray Data job whose actors return records and embeddings) can
feed :meth:`LibraryStore.put_results` from its driver. The read API is in
:mod:`visual_buffet.library.reading`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet import paths as user_paths
from visual_buffet.library import schema
from visual_buffet.library.reading import StoreReader
from visual_buffet.library.vectors import to_blob, views_to_json
from visual_buffet.output import OutputError

if TYPE_CHECKING:
    from visual_buffet.library.fingerprint import FileStat, Fingerprint
    from visual_buffet.plugin_api import ImageEmbeddings

BUSY_TIMEOUT_S = 60.0
"""How long a write waits for another process's transaction on the same store."""


class LibraryError(OutputError):
    """The library store cannot be used (path, permissions, newer schema, full disk...).

    The message names the store and the fix. An :class:`~visual_buffet.output.OutputError`:
    a tagging run stops at once instead of recording it as every image's failure.
    """


def identity_digest(identity: Any) -> tuple[str, str]:
    """(digest, canonical JSON) of an identity: sorted keys, so equal identities match."""
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32], canonical


@dataclass
class ResultItem:
    """One finished image for :meth:`LibraryStore.put_results`.

    ``record`` is the output record (``file``, ``tags``, ``model``, ``timings``...; its
    ``tags_from`` is not stored). ``embeddings`` and ``embedding_identity`` go together.
    """

    fingerprint: Fingerprint
    plugin: str
    result_identity: Any
    record: dict[str, Any]
    embeddings: ImageEmbeddings | None = None
    embedding_identity: Any = None


def open_library(path: Path | str | None = None, *, readonly: bool = False) -> LibraryStore:
    """Open (creating and migrating when needed) the store at ``path``, default
    :func:`visual_buffet.paths.library_path`. ``readonly`` opens an existing store without
    writing to it (``library stats``). Raises :class:`LibraryError` naming the path and fix.
    """
    path = Path(path).expanduser() if path is not None else user_paths.library_path()
    fix = (
        "choose another file with --library PATH (or VISUAL_BUFFET_LIBRARY), "
        "or run with --no-library"
    )
    if path.is_dir():
        raise LibraryError(
            f"library store {path} is a folder; give a file path such as "
            f"{path / user_paths.LIBRARY_FILE} ({fix})."
        )
    if readonly and not path.exists():
        raise LibraryError(
            f"there is no library store at {path} yet: `visual-buffet tag` creates it "
            "(or pass --library PATH to an existing store)."
        )
    try:
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"{path.absolute().as_uri()}?mode={'ro' if readonly else 'rwc'}"
        db = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise LibraryError(f"cannot open the library store {path}: {exc}. Fix: {fix}.") from None
    try:
        return LibraryStore(db, path, readonly=readonly)
    except schema.SchemaTooNew as exc:
        db.close()
        raise LibraryError(
            f"the library store {path} was written by a newer Visual Buffet (schema version "
            f"{exc.version}; this version reads up to {schema.SCHEMA_VERSION}). Upgrade "
            f"visual-buffet, or {fix}."
        ) from None
    except sqlite3.DatabaseError as exc:
        db.close()
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            problem = f"cannot be written ({text}): check its permissions and free space"
        elif "not a database" in text:
            problem = "is not a Visual Buffet library store (not an SQLite database)"
        else:
            problem = f"cannot be used ({text})"
        raise LibraryError(f"the library store {path} {problem}. Fix: {fix}.") from None


class LibraryStore(StoreReader):
    """One open store. Thread-safe: one lock serialises this connection's use."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._db = db
        self._lock = threading.RLock()
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        if readonly:
            version = schema.applied_version(db)
            if version > schema.SCHEMA_VERSION:
                raise schema.SchemaTooNew(version)
            self.schema_version = version
            return
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise sqlite3.OperationalError("unable to open the store in WAL mode")
        db.execute("PRAGMA synchronous = FULL")  # a committed image survives a power cut
        self.schema_version = schema.migrate(db)

    # -- connection ------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LibraryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; an error (a full disk...) rolls it back."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise LibraryError(
                    f"cannot write the library store {self.path}: {exc}. What finished before "
                    "is kept. Fix: free space or permissions, or run with --no-library."
                ) from None

    # -- lookups for a run ---------------------------------------------------------------------
    def image_for_stat(self, stat: FileStat) -> int | None:
        """The image stored for this path when its size and mtime are unchanged."""
        with self._read() as db:
            row = db.execute(
                "SELECT image_id FROM paths WHERE path = ? AND size = ? AND mtime_ns = ?",
                (stat.path, stat.size, stat.mtime_ns),
            ).fetchone()
        return row[0] if row else None

    def stat_lookup(self, stat: FileStat) -> tuple[int, str] | None:
        """(image id, content hash) for a path whose size and mtime are unchanged."""
        with self._read() as db:
            row = db.execute(
                "SELECT p.image_id, i.content_hash FROM paths AS p "
                "JOIN images AS i ON i.id = p.image_id "
                "WHERE p.path = ? AND p.size = ? AND p.mtime_ns = ?",
                (stat.path, stat.size, stat.mtime_ns),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def image_for_hash(self, content_hash: str) -> int | None:
        with self._read() as db:
            row = db.execute(
                "SELECT id FROM images WHERE content_hash = ?", (content_hash,)
            ).fetchone()
        return row[0] if row else None

    def stored_result(self, image_id: int, plugin: str, identity: Any) -> dict[str, Any] | None:
        """The record stored for this image, plugin and result identity (or its digest)."""
        digest = identity if isinstance(identity, str) else identity_digest(identity)[0]
        with self._read() as db:
            row = db.execute(
                "SELECT record FROM results WHERE image_id = ? AND plugin = ? AND identity = ?",
                (image_id, plugin, digest),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, table: str, image_id: int, plugin: str, digest: str) -> bool:
        """Whether ``results`` or ``embeddings`` holds a row for this image, plugin and
        identity digest (without reading it: a run plans a million images this way)."""
        if table not in ("results", "embeddings"):
            raise ValueError(table)
        with self._read() as db:
            row = db.execute(
                f"SELECT 1 FROM {table} WHERE image_id = ? AND plugin = ? AND identity = ?",
                (image_id, plugin, digest),
            ).fetchone()
        return row is not None

    # -- writes --------------------------------------------------------------------------------
    def put_result(self, item: ResultItem) -> int:
        """Store one finished image in its own transaction; returns the image id."""
        return self.put_results([item])[0]

    def put_results(self, items: Iterable[ResultItem]) -> list[int]:
        """Store finished images in one transaction (all or none); returns their image ids."""
        ids = []
        with self._write() as db:
            for item in items:
                ids.append(self._put(db, item))
        return ids

    def bind_paths(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Record where already-stored images were seen (a renamed or moved file)."""
        with self._write() as db:
            for fingerprint in fingerprints:
                self._upsert_path(db, fingerprint, self._upsert_image(db, fingerprint, None))

    def _put(self, db: sqlite3.Connection, item: ResultItem) -> int:
        now = time.time()
        image_id = self._upsert_image(db, item.fingerprint, item.record.get("image"))
        self._upsert_path(db, item.fingerprint, image_id)
        digest = self._identity(db, "result", item.plugin, item.result_identity)
        record = {k: v for k, v in item.record.items() if k != "tags_from"}
        db.execute(
            "INSERT OR REPLACE INTO results (image_id, plugin, identity, record, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (image_id, item.plugin, digest, json.dumps(record, ensure_ascii=False), now),
        )
        schema.replace_tags(db, image_id, item.plugin, record.get("tags", []))
        if item.embeddings is not None and item.embedding_identity is not None:
            digest = self._identity(db, "embedding", item.plugin, item.embedding_identity)
            blob, dtype, dim = to_blob(item.embeddings.vectors)
            db.execute(
                "INSERT OR REPLACE INTO embeddings (image_id, plugin, identity, dtype, dim, "
                "views, vectors, scoring, model, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    image_id,
                    item.plugin,
                    digest,
                    dtype,
                    dim,
                    views_to_json(item.embeddings.views),
                    blob,
                    json.dumps(item.embeddings.scoring, sort_keys=True),
                    json.dumps(record.get("model", {}), ensure_ascii=False),
                    now,
                ),
            )
        return image_id

    @staticmethod
    def _upsert_image(
        db: sqlite3.Connection, fingerprint: Fingerprint, size: dict[str, Any] | None
    ) -> int:
        now = time.time()
        width = size.get("width") if size else None
        height = size.get("height") if size else None
        return db.execute(
            "INSERT INTO images (content_hash, size, width, height, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (content_hash) DO UPDATE SET "
            "last_seen = excluded.last_seen, width = COALESCE(excluded.width, width), "
            "height = COALESCE(excluded.height, height) RETURNING id",
            (fingerprint.content_hash, fingerprint.stat.size, width, height, now, now),
        ).fetchone()[0]

    @staticmethod
    def _upsert_path(db: sqlite3.Connection, fingerprint: Fingerprint, image_id: int) -> None:
        stat = fingerprint.stat
        db.execute(
            "INSERT INTO paths (path, image_id, size, mtime_ns, seen_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET image_id = excluded.image_id, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, seen_at = excluded.seen_at",
            (stat.path, image_id, stat.size, stat.mtime_ns, time.time()),
        )

    @staticmethod
    def _identity(db: sqlite3.Connection, kind: str, plugin: str, identity: Any) -> str:
        digest, canonical = identity_digest(identity)
        db.execute(
            "INSERT OR IGNORE INTO identities (digest, kind, plugin, canonical) VALUES (?,?,?,?)",
            (digest, kind, plugin, canonical),
        )
        return digest

    # -- maintenance ---------------------------------------------------------------------------
    def forget(self, targets: Iterable[Path | str]) -> int:
        """Forget the images stored at these paths (files, or folders: everything under them),
        with all their results, embeddings and other paths. Returns how many were forgotten."""
        ids: set[int] = set()
        with self._write() as db:
            for target in targets:
                absolute = str(Path(target).expanduser().absolute())
                prefix = absolute.rstrip("/") + "/"
                rows = db.execute(
                    "SELECT image_id FROM paths WHERE path = ? OR substr(path, 1, ?) = ?",
                    (absolute, len(prefix), prefix),
                ).fetchall()
                ids.update(row[0] for row in rows)
            db.executemany("DELETE FROM images WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def vacuum(self) -> dict[str, int]:
        """Drop images no path leads to any more and unused identities, then compact the file.

        Returns the file size before and after, in bytes, and the images dropped.
        """
        before = self.file_bytes()
        with self._write() as db:
            dropped = db.execute(
                "DELETE FROM images WHERE id NOT IN (SELECT image_id FROM paths)"
            ).rowcount
            db.execute(
                "DELETE FROM identities WHERE digest NOT IN (SELECT identity FROM results) "
                "AND digest NOT IN (SELECT identity FROM embeddings)"
            )
        with self._lock:
            try:
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise LibraryError(f"cannot vacuum the library store {self.path}: {exc}.") from None
        return {"bytes_before": before, "bytes_after": self.file_bytes(), "images_dropped": dropped}

    def file_bytes(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total
