"""How a tagging run uses the library store for one plugin: what to reuse, re-score or run.

:meth:`PluginSession.plan` sorts the run's files into three groups, with no model loaded:

- ``stored``: the store holds a record of this image for the plugin's current result
  identity: it is emitted as it was, ``"tags_from": "store"``;
- ``rescore``: the store holds the image's view embeddings for the current embedding
  identity (another threshold, limit or vocabulary): the plugin re-scores them,
  ``"tags_from": "embeddings"``;
- ``run``: everything else goes through the model, ``"tags_from": "model"``, and each
  finished image is committed to the store (with its embeddings) before it is emitted.

Files are recognised by the cheap check (path, size, mtime) and else by content hash, hashed
in parallel threads; a renamed or moved file is found by its hash and its new path recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visual_buffet.library.fingerprint import FileStat, Fingerprint, content_hash
from visual_buffet.library.reading import rescored_record
from visual_buffet.library.store import LibraryStore, ResultItem, identity_digest
from visual_buffet.plugin_api import ImageTags, Plugin, PluginError

Record = dict[str, Any]

RESCORE_BATCH = 256
"""Images re-scored, and committed, per batch (one transaction each)."""


@dataclass
class Plan:
    """The files of one plugin's run, sorted by where their tags will come from.

    ``stored`` and ``rescore`` hold (path, image id) only: records and embeddings are read
    as they are emitted, so planning a million stored photos takes little memory.
    """

    stored: list[tuple[Path, int]] = field(default_factory=list)
    rescore: list[tuple[Path, int]] = field(default_factory=list)
    run: list[Path] = field(default_factory=list)


class Fingerprints:
    """Fingerprints of a run's files, computed once and shared by its plugins."""

    def __init__(self, store: LibraryStore, workers: int) -> None:
        self.store = store
        self.workers = workers
        self.known: dict[str, Fingerprint | None] = {}  # str(path) -> None: cannot be read
        self.image_ids: dict[str, int] = {}
        self._rebind: list[Fingerprint] = []

    def compute(self, files: Sequence[Path]) -> None:
        """Stat every file; hash those the cheap check does not recognise (in threads)."""
        todo: list[tuple[str, FileStat]] = []
        for path in files:
            key = str(path)
            if key in self.known:
                continue
            try:
                stat = FileStat.of(path)
            except OSError:
                self.known[key] = None  # the pipeline will record why
                continue
            found = self.store.stat_lookup(stat)
            if found is None:
                todo.append((key, stat))
                continue
            # Same path, size and mtime: the stored image; its bytes are not read again.
            self.image_ids[key], stored_hash = found
            self.known[key] = Fingerprint(stat, stored_hash)
        if not todo:
            return
        with ThreadPoolExecutor(max(1, self.workers), thread_name_prefix="vb-hash") as pool:
            hashes = pool.map(lambda item: _hash_or_none(item[1]), todo)
            for (key, stat), digest in zip(todo, hashes, strict=True):
                if digest is None:
                    self.known[key] = None
                    continue
                fingerprint = Fingerprint(stat, digest)
                self.known[key] = fingerprint
                image_id = self.store.image_for_hash(digest)
                if image_id is not None:  # moved, renamed or copied: remember the new path
                    self.image_ids[key] = image_id
                    self._rebind.append(fingerprint)
        if self._rebind:
            self.store.bind_paths(self._rebind)
            self._rebind = []


def _hash_or_none(stat: FileStat) -> str | None:
    try:
        return content_hash(stat.path)
    except OSError:
        return None


def host_identity(use_previews: bool = True) -> dict[str, Any]:
    """The host settings that change what a plugin sees (its decoded pixels)."""
    return {"use_previews": bool(use_previews)}


def store_identities(plugin: Plugin, host: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(result identity, embedding identity or None) as the store keys a plugin's rows: the
    plugin's own identities with the host's decode settings (:func:`host_identity`, the
    default when ``host`` is None). Cheap and model-free; may raise PluginError (e.g. a
    vocabulary file that cannot be read)."""
    host = host_identity() if host is None else host
    result = {"plugin": plugin.result_identity(), "host": host}
    embedding = None
    if plugin.provides_embeddings:
        embedding = {"plugin": plugin.embedding_identity(), "host": host}
    return result, embedding


class PluginSession:
    """One plugin's use of the store during a run (see the module docstring)."""

    def __init__(
        self,
        store: LibraryStore,
        name: str,
        plugin: Plugin,
        fingerprints: Fingerprints,
        *,
        host: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        self.store = store
        self.host = dict(host or {})
        self.name = name
        self.plugin = plugin
        self.fingerprints = fingerprints
        self.force = force
        self._write_ids: tuple[Any, Any] | None = None
        self._result_digest = ""
        self.vanished: list[Path] = []
        """Planned from the store but gone when read (``library forget`` meanwhile)."""
        self._embedding_digest = ""

    def identities(self) -> tuple[Any, Any]:
        """(result identity, embedding identity or None) as the store keys them."""
        return store_identities(self.plugin, self.host)

    def plan(self, files: Sequence[Path]) -> Plan:
        """Sort ``files`` into stored / rescore / run (identities need no model)."""
        plan = Plan()
        self.fingerprints.compute(files)
        try:
            result_id, embedding_id = self.identities()
        except PluginError:  # e.g. a bad vocabulary file: loading will report it
            plan.run = list(files)
            return plan
        self._result_digest = identity_digest(result_id)[0]
        embedding_digest = identity_digest(embedding_id)[0] if embedding_id else None
        for path in files:
            image_id = self.fingerprints.image_ids.get(str(path))
            if image_id is None or self.force:
                plan.run.append(path)
            elif self.store.has("results", image_id, self.name, self._result_digest):
                plan.stored.append((path, image_id))
            elif embedding_digest and self.store.has(
                "embeddings", image_id, self.name, embedding_digest
            ):
                self._embedding_digest = embedding_digest
                plan.rescore.append((path, image_id))
            else:
                plan.run.append(path)
        return plan

    def stored(self, items: Sequence[tuple[Path, int]]) -> Iterator[Record]:
        """The stored records of planned images, read one at a time, as they were stored."""
        for path, image_id in items:
            record = self.store.stored_result(image_id, self.name, self._result_digest)
            if record is None:  # forgotten by another process meanwhile: tag it again
                self.vanished.append(path)
                continue
            yield {**record, "file": str(path), "tags_from": "store"}

    def rescored(
        self,
        items: Sequence[tuple[Path, int]],
        settings: dict[str, Any],
        on_failure: Callable[[list[Path], Exception], None],
    ) -> Iterator[Record]:
        """Re-score stored embeddings in batches; commit and yield each record.

        A batch the plugin cannot re-score goes to ``on_failure`` (the run sends those files
        through the model instead).
        """
        if not items:
            return
        result_id, _ = self.identities()
        for start in range(0, len(items), RESCORE_BATCH):
            began = time.perf_counter()
            batch = []  # (path, StoredEmbeddings), read a batch at a time
            for path, image_id in items[start : start + RESCORE_BATCH]:
                found = self.store.stored_embeddings(image_id, self.name, self._embedding_digest)
                if found is None:  # forgotten by another process meanwhile: tag it again
                    self.vanished.append(path)
                else:
                    batch.append((path, found))
            if not batch:
                continue
            try:
                results = self.plugin.rescore([stored.embeddings for _, stored in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"rescore returned {len(results)} for {len(batch)}")
            except Exception as exc:
                on_failure([path for path, _ in batch], exc)
                continue
            records = [
                rescored_record(stored, str(path), self.name, settings, result)
                for (path, stored), result in zip(batch, results, strict=True)
            ]
            self.store.put_results(
                ResultItem(self.fingerprints.known[str(path)], self.name, result_id, record)  # type: ignore[arg-type]
                for (path, _), record in zip(batch, records, strict=True)
            )
            per_image = (time.perf_counter() - began) * 1000 / len(batch)
            for record in records:
                record["timings"].setdefault("rescore_ms", round(per_image, 3))
                yield record

    def keep(self, record: Record, result: ImageTags) -> None:
        """Commit a model result (and its embeddings) before it is emitted."""
        fingerprint = self.fingerprints.known.get(record["file"])
        if fingerprint is None:
            return  # the file could not be read when the run began: nothing to key it by
        if self._write_ids is None:  # after load: a Hub revision is now known for sure
            self._write_ids = self.identities()
        result_id, embedding_id = self._write_ids
        self.store.put_result(
            ResultItem(
                fingerprint,
                self.name,
                result_id,
                record,
                result.embeddings if embedding_id is not None else None,
                embedding_id,
            )
        )
