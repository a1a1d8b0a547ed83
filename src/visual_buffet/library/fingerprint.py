"""Recognising an image file: the cheap check (size + mtime) and the content hash.

A path whose size and modification time (nanoseconds) equal what the store saw is the same
file, and is not read again. Any other file is hashed (SHA-256 of its bytes): a moved or
renamed copy has the hash of an image already stored, an edited file has a new one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStat:
    """What the cheap check compares: the absolute path, size and mtime in nanoseconds."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path | str) -> FileStat:
        """Stat ``path`` (follows links); raises OSError when it cannot."""
        absolute = os.path.abspath(os.fspath(path))
        stat = os.stat(absolute)
        return cls(absolute, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class Fingerprint:
    """A file's stat and its content hash (``sha256:<hex>``)."""

    stat: FileStat
    content_hash: str

    @property
    def path(self) -> str:
        return self.stat.path


def content_hash(path: Path | str) -> str:
    """SHA-256 of the file's bytes, as ``sha256:<hex>`` (hashlib releases the GIL: threads
    hash several files at once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def fingerprint(path: Path | str) -> Fingerprint:
    """Stat and hash ``path``. The stat is taken first: a file edited while it is being hashed
    then fails the cheap check next time and is hashed again."""
    stat = FileStat.of(path)
    return Fingerprint(stat, content_hash(stat.path))
