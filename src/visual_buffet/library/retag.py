"""Re-tag stored images from their stored view embeddings: no image file, no vision model.

``visual-buffet retag`` and the GUI call :class:`Retag`: it selects the images a plugin
stored embeddings for under its current embedding identity (the model and the settings that
decide the views), optionally only those stored at some paths (a file, or everything under
a folder: the files may be gone or on a drive that is not connected), asks the plugin for
tags with its *current* threshold, limit and vocabulary (:meth:`Plugin.rescore`), hands each
record (``"tags_from": "embeddings"``) to the sinks, and writes it back to the store under
the current result identity, so a later ``tag`` of the same files with the same settings
emits it from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet.library.embedding_matrix import StoreKeys, store_keys
from visual_buffet.library.fingerprint import FileStat, Fingerprint
from visual_buffet.library.reading import rescored_record
from visual_buffet.library.store import ResultItem

if TYPE_CHECKING:
    from visual_buffet.library.store import LibraryStore
    from visual_buffet.output import ResultWriter
    from visual_buffet.plugin_api import Plugin

BATCH = 256
"""Images re-scored and written back per store transaction."""


class RetagError(Exception):
    """Nothing can be re-tagged as asked; the message names the cause and the fix."""


@dataclass
class RetagSummary:
    """What a re-tag did: images re-tagged, paths that selected nothing, seconds."""

    images: int = 0
    unmatched: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cancelled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "tagged": self.images,
            "failed": 0,
            "tags_from": {"model": 0, "store": 0, "embeddings": self.images},
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class Selected:
    """A stored image to re-tag, the stored path its record names, and that path's stored
    fingerprint (the store's write API keys a result by it; the file is not read)."""

    image_id: int
    file: str
    fingerprint: Fingerprint


def select_images(
    store: LibraryStore, plugin: str, identity_digest: str, targets: Sequence[Path | str]
) -> tuple[list[Selected], list[str]]:
    """The images with embeddings under the identity, stored at or under ``targets`` (all
    when empty), sorted by path; and the targets that selected nothing.

    A target is matched against stored paths only (made absolute, not resolved: a link or a
    drive that is gone still matches what was stored). An image stored at several paths is
    named by the first selected one, or by its most recently seen path when all are selected.
    """
    join = (
        "FROM paths AS p JOIN embeddings AS e ON e.image_id = p.image_id "
        "AND e.plugin = ? AND e.identity = ? JOIN images AS i ON i.id = p.image_id"
    )
    columns = "p.image_id, p.path, p.size, p.mtime_ns, i.content_hash"
    chosen: dict[int, Selected] = {}
    unmatched = []
    with store._read() as db:
        if not targets:
            rows = db.execute(
                f"SELECT {columns} {join} ORDER BY p.seen_at DESC, p.path",
                (plugin, identity_digest),
            ).fetchall()
            for row in rows:
                chosen.setdefault(row[0], _selected(row))
        for target in targets:
            absolute = str(Path(target).expanduser().absolute())
            prefix = absolute.rstrip("/") + "/"
            rows = db.execute(
                f"SELECT {columns} {join} WHERE p.path = ? OR substr(p.path, 1, ?) = ? "
                "ORDER BY p.path",
                (plugin, identity_digest, absolute, len(prefix), prefix),
            ).fetchall()
            if not rows:
                unmatched.append(str(target))
            for row in rows:
                chosen.setdefault(row[0], _selected(row))
    return sorted(chosen.values(), key=lambda s: s.file), unmatched


def _selected(row: tuple) -> Selected:
    image_id, path, size, mtime_ns, content_hash = row
    return Selected(image_id, path, Fingerprint(FileStat(path, size, mtime_ns), content_hash))


class Retag:
    """One re-tag of stored images with a constructed plugin's current settings.

    Args:
        store: The library store.
        plugin: The plugin, constructed with the settings to tag with (not necessarily
            loaded: it loads its model only if its text side needs it, e.g. new labels).
        plain_settings: The same settings as plain values (they go into every record).
        targets: Stored paths (files or folder prefixes) to re-tag; empty: every image.
        sinks: Record sinks (``write`` / ``close`` / ``abort``), e.g. the output writer.
        on_record: Called after each record (progress).
        cancel: Returns True to stop after the current batch.
        use_previews: The host setting the images were tagged with (part of the store's
            keys; the other value is used when only that one is stored).
    """

    def __init__(
        self,
        store: LibraryStore,
        plugin: Plugin,
        plain_settings: dict[str, Any],
        targets: Sequence[Path | str] = (),
        sinks: Sequence[ResultWriter] = (),
        on_record: Callable[[dict[str, Any]], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        use_previews: bool = True,
    ) -> None:
        if not getattr(plugin, "provides_embeddings", False):
            raise RetagError(
                f"plugin {plugin.name} does not store embeddings, so it cannot re-tag "
                "without its model; run `visual-buffet tag` instead."
            )
        self.store = store
        self.plugin = plugin
        self.plain = plain_settings
        self.targets = list(targets)
        self.sinks = list(sinks)
        self.on_record = on_record
        self.cancel = cancel or (lambda: False)
        self.use_previews = use_previews
        self._keys: StoreKeys | None = None

    @property
    def keys(self) -> StoreKeys:
        """The store's result and embedding keys for the plugin's current settings."""
        if self._keys is None:
            from visual_buffet.plugin_api import PluginError

            try:
                self._keys = store_keys(self.store, self.plugin, self.use_previews)
            except PluginError as exc:  # a model or vocabulary the settings name is missing
                raise RetagError(str(exc)) from None
        return self._keys

    def select(self) -> tuple[list[Selected], list[str]]:
        """The images this re-tag will cover; :class:`RetagError` when there are none."""
        from visual_buffet.library.embedding_matrix import missing_embeddings_message

        keys = self.keys
        selected, unmatched = select_images(self.store, self.plugin.name, keys.digest, self.targets)
        if not selected:
            if self.store.embedding_sets(self.plugin.name) and self.targets:
                where = ", ".join(unmatched)
                raise RetagError(
                    f"no image stored at or under {where} has {self.plugin.name} embeddings "
                    "for these settings. Paths are matched as they were stored (absolute); "
                    "`visual-buffet library stats` shows the store."
                )
            raise RetagError(
                missing_embeddings_message(self.store, self.plugin.name, keys.embedding)
            )
        return selected, unmatched

    def run(self, selected: list[Selected] | None = None) -> RetagSummary:
        """Re-tag the selected images (:meth:`select` when not given), batch by batch."""
        start = time.perf_counter()
        summary = RetagSummary()
        if selected is None:
            selected, summary.unmatched = self.select()
        keys = self.keys
        try:
            for first in range(0, len(selected), BATCH):
                if self.cancel():
                    summary.cancelled = True
                    break
                batch = selected[first : first + BATCH]
                stored = [
                    self.store.stored_embeddings(s.image_id, self.plugin.name, keys.digest)
                    for s in batch
                ]
                results = iter(self.plugin.rescore([s.embeddings for s in stored if s]))
                records, items = [], []
                for item, embeddings in zip(batch, stored, strict=True):
                    if embeddings is None:  # forgotten by another process meanwhile
                        continue
                    record = rescored_record(
                        embeddings, item.file, self.plugin.name, self.plain, next(results)
                    )
                    records.append(record)
                    items.append(
                        ResultItem(item.fingerprint, self.plugin.name, keys.result, record)
                    )
                # One transaction per batch; then a `tag` with these settings emits them.
                self.store.put_results(items)
                for record in records:
                    for sink in self.sinks:
                        sink.write(record)
                    summary.images += 1
                    if self.on_record is not None:
                        self.on_record(record)
        except BaseException:
            for sink in self.sinks:
                sink.abort()
            raise
        summary.elapsed_s = time.perf_counter() - start
        if summary.cancelled:
            for sink in self.sinks:
                sink.abort()
        else:
            for sink in self.sinks:
                sink.close(summary.as_dict())
        return summary
