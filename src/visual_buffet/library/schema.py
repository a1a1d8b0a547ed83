"""The library store's SQLite schema and its migrations.

Every change to the schema is a new entry in :data:`MIGRATIONS`, never an edit of an old one:
a store records each migration it applied in the ``migrations`` table, and :func:`migrate`
applies the missing ones in order, each in its own transaction. A store whose newest
migration is above :data:`SCHEMA_VERSION` was written by a newer Visual Buffet and is
refused (:class:`SchemaTooNew`) rather than misread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _v1_core(db: sqlite3.Connection) -> None:
    """Images by content, the paths they were seen at, results and view embeddings."""
    _script(
        db,
        """
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL UNIQUE,   -- "sha256:<hex>" of the file's bytes
            size INTEGER NOT NULL,
            width INTEGER,
            height INTEGER,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        CREATE TABLE paths (
            path TEXT PRIMARY KEY,               -- absolute path where the image was seen
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            size INTEGER NOT NULL,               -- size and mtime_ns: the cheap check
            mtime_ns INTEGER NOT NULL,
            seen_at REAL NOT NULL
        );
        CREATE INDEX paths_by_image ON paths(image_id);
        CREATE TABLE identities (
            digest TEXT PRIMARY KEY,             -- sha256 of the canonical JSON, 32 hex
            kind TEXT NOT NULL,                  -- "result" or "embedding"
            plugin TEXT NOT NULL,
            canonical TEXT NOT NULL              -- the identity itself, for people and tools
        );
        CREATE TABLE results (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            plugin TEXT NOT NULL,
            identity TEXT NOT NULL REFERENCES identities(digest),
            record TEXT NOT NULL,                -- the output record, as JSON
            created_at REAL NOT NULL,
            PRIMARY KEY (image_id, plugin, identity)
        );
        CREATE INDEX results_latest ON results(image_id, plugin, created_at);
        CREATE TABLE embeddings (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            plugin TEXT NOT NULL,
            identity TEXT NOT NULL REFERENCES identities(digest),
            dtype TEXT NOT NULL,                 -- "float32" (little-endian)
            dim INTEGER NOT NULL,
            views TEXT NOT NULL,                 -- JSON list of views, in row order
            vectors BLOB NOT NULL,               -- len(views) x dim values
            scoring TEXT NOT NULL,               -- JSON: what re-scoring needs
            model TEXT NOT NULL,                 -- JSON: the record's model metadata
            created_at REAL NOT NULL,
            PRIMARY KEY (image_id, plugin, identity)
        );
        CREATE INDEX embeddings_by_identity ON embeddings(plugin, identity);
        """,
    )


def _v2_tags(db: sqlite3.Connection) -> None:
    """The current tags of each image and plugin, for listing by tag; filled from records."""
    _script(
        db,
        """
        CREATE TABLE tags (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            plugin TEXT NOT NULL,
            label TEXT NOT NULL,
            confidence REAL NOT NULL,
            PRIMARY KEY (image_id, plugin, label)
        );
        CREATE INDEX tags_by_label ON tags(label, plugin);
        """,
    )
    latest = db.execute(
        """
        SELECT image_id, plugin, record FROM results AS r
        WHERE created_at = (SELECT MAX(created_at) FROM results
                            WHERE image_id = r.image_id AND plugin = r.plugin)
        """
    ).fetchall()
    for image_id, plugin, record in latest:
        replace_tags(db, image_id, plugin, json.loads(record).get("tags", []))


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    for statement in sql.split(";"):
        lines = [line.split("--", 1)[0] for line in statement.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            db.execute(text)


def replace_tags(db: sqlite3.Connection, image_id: int, plugin: str, tags: list[dict]) -> None:
    """Make ``tags`` the current tags of an image for a plugin."""
    db.execute("DELETE FROM tags WHERE image_id = ? AND plugin = ?", (image_id, plugin))
    db.executemany(
        "INSERT OR REPLACE INTO tags (image_id, plugin, label, confidence) VALUES (?, ?, ?, ?)",
        [(image_id, plugin, t["label"], t["confidence"]) for t in tags],
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "images, paths, identities, results, embeddings", _v1_core),
    Migration(2, "tags: current tags per image and plugin", _v2_tags),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
"""The newest schema this version of Visual Buffet reads and writes."""


class SchemaTooNew(Exception):
    """The store was written by a newer Visual Buffet (its schema version is given)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"schema version {version}")
        self.version = version


def applied_version(db: sqlite3.Connection) -> int:
    """The newest migration applied to this store (0 for a new, empty file)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if not exists:
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0]


def migrate(db: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target``; return the version the store is at.

    Each migration runs in one ``BEGIN IMMEDIATE`` transaction, so two processes opening a
    new store at once apply it once (the second waits, then sees it applied).
    """
    current = applied_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(current)
    for migration in MIGRATIONS:
        if migration.version <= current or migration.version > target:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if applied_version(db) >= migration.version:  # another process was first
                db.execute("ROLLBACK")
                continue
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            migration.apply(db)
            db.execute(
                "INSERT INTO migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied_version(db)
