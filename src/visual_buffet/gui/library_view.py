"""What the GUI asks of the library store, in one place (the store's read API, adapted).

Each method is one call into :mod:`visual_buffet.library`; the GUI turns the answers into
JSON for the page. Nothing is cached here: the store is the one copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TOP_TAGS = 5
"""Tags shown under a thumbnail."""


class LibraryView:
    """Read-only questions the pages ask, answered by the store ``open_store()`` returns."""

    class SearchError(ValueError):
        """The search could not run (no embeddings yet, a plugin that cannot embed text)."""

    def __init__(self, open_store: Callable[[], Any]) -> None:
        self._open_store = open_store

    @property
    def store(self) -> Any:
        return self._open_store()

    def page(self, offset: int, limit: int, tag: str | None) -> tuple[int, list[dict[str, Any]]]:
        """``(total, items)``: one page of stored images, newest first, optionally by tag."""
        raise NotImplementedError

    def records(self, path: str) -> list[dict[str, Any]]:
        """The latest record of the image at ``path`` per plugin (output-record dicts)."""
        raise NotImplementedError

    def is_stored(self, path: str) -> bool:
        """Whether the store holds an image at exactly ``path``."""
        raise NotImplementedError

    def search(self, text: str, limit: int) -> list[dict[str, Any]]:
        """Stored images ranked by how well they match ``text``, best first."""
        raise NotImplementedError
