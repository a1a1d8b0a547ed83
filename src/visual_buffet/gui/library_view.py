"""What the GUI asks of the library store, in one place (the store's read API, adapted).

Each method is a call into :mod:`visual_buffet.library` (paging, tag filter, latest records)
or :class:`visual_buffet.library.search.LibrarySearch` (ranked text search, the same as
``visual-buffet search``); the GUI turns the answers into JSON for the page. Nothing is
copied: the store is the one copy. Only the search's embedding matrix is kept between
queries, as ``LibrarySearch`` is meant to be, and dropped after each tag run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

TOP_TAGS = 5
"""Tags shown under a thumbnail."""


class LibraryView:
    """Read-only questions the pages ask.

    Args:
        open_store: Returns the open :class:`~visual_buffet.library.store.LibraryStore`.
        search_plugin: Returns the plugin instance to search with (kept warm by the server)
            and a key that changes when the store may hold new embeddings.
    """

    class SearchError(ValueError):
        """The search could not run (nothing stored yet, a plugin that cannot embed text)."""

    def __init__(
        self,
        open_store: Callable[[], Any],
        search_plugin: Callable[[], tuple[Any, Any]],
    ) -> None:
        self._open_store = open_store
        self._search_plugin = search_plugin
        self._search: Any = None
        self._search_key: Any = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Any:
        return self._open_store()

    def page(self, offset: int, limit: int, tag: str | None) -> tuple[int, list[dict[str, Any]]]:
        """``(total, items)``: one page of stored images, newest first, optionally by tag.

        The store pages oldest first by id (stable while runs add images), so page ``offset``
        of the newest-first list is the matching slice from the end, reversed.
        """
        store = self.store
        total = store.count_images(tag=tag)
        count = max(0, min(limit, total - offset))
        if count == 0:
            return total, []
        images = store.list_images(offset=total - offset - count, limit=count, tag=tag)
        return total, [self._item(image) for image in reversed(images)]

    def _item(self, image: Any, **extra: Any) -> dict[str, Any]:
        records = self.store.latest_records(image.id)
        tags = sorted(
            (t for record in records.values() for t in record.get("tags", [])),
            key=lambda t: -t["confidence"],
        )
        top: list[dict[str, Any]] = []
        for tag in tags:  # one chip per label, even when two plugins found it
            if all(t["label"] != tag["label"] for t in top):
                top.append({"label": tag["label"], "confidence": tag["confidence"]})
            if len(top) == TOP_TAGS:
                break
        return {"path": image.path, "tags": top, **extra}

    def records(self, path: str) -> list[dict[str, Any]]:
        """The latest record of the image at ``path``, one per plugin (output records)."""
        image = self.store.image_at(path)
        if image is None:
            return []
        records = list(self.store.latest_records(image.id).values())
        for record in records:
            if "image" not in record and image.width and image.height:
                record["image"] = {"width": image.width, "height": image.height}
        return records

    def is_stored(self, path: str) -> bool:
        """Whether the store holds an image last seen at exactly ``path``."""
        return self.store.image_at(path) is not None

    def search(self, text: str, limit: int) -> list[dict[str, Any]]:
        """Stored images ranked by the plugin's score for ``text``, best first."""
        from visual_buffet.library.search import LibrarySearch, SearchError

        try:
            with self._lock:
                plugin, key = self._search_plugin()
                if self._search is None or self._search_key != (id(plugin), key):
                    self._search = LibrarySearch(self.store, plugin)
                    self._search_key = (id(plugin), key)
                hits = self._search.text(text, limit)
        except SearchError as exc:
            raise self.SearchError(str(exc)) from None
        results = []
        for hit in hits:
            image = self.store.image(hit.image_id)
            if image is None:  # forgotten since the matrix was read
                continue
            item = self._item(image, score=float(hit.score), found_in=hit.found_in)
            item["path"] = hit.file
            results.append(item)
        return results
