"""The library store: results and view embeddings of every tagged image, kept on this machine.

``open_library(path | None)`` returns a :class:`LibraryStore` (SQLite, WAL) at ``path`` or the
default :func:`visual_buffet.paths.library_path`. ``docs/library.md`` describes what is kept.
"""

from __future__ import annotations

from visual_buffet.library.fingerprint import FileStat, Fingerprint, fingerprint
from visual_buffet.library.reading import EmbeddingSet, StoredEmbeddings, StoredImage
from visual_buffet.library.store import (
    LibraryError,
    LibraryStore,
    ResultItem,
    identity_digest,
    open_library,
)

__all__ = [
    "EmbeddingSet",
    "FileStat",
    "Fingerprint",
    "LibraryError",
    "LibraryStore",
    "ResultItem",
    "StoredEmbeddings",
    "StoredImage",
    "fingerprint",
    "identity_digest",
    "open_library",
]
