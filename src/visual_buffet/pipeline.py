"""The streaming tagging pipeline: decode ahead in threads, tag in order, report each image.

Worker threads load (decode, orient, convert, downscale) and :meth:`Plugin.prepare` images a
bounded number of items ahead of the model; the calling thread feeds prepared items to
:meth:`Plugin.tag_stream` and hands a record for every image, in input order, to a callback
as soon as it is done. A file that fails to load or prepare becomes an error record; the run
goes on.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visual_buffet.images import load_image
from visual_buffet.output import OutputError, error_record, success_record
from visual_buffet.plugin_api import ImageTags, Plugin

Record = dict[str, Any]


def default_workers() -> int:
    """Decode threads when ``images.workers = "auto"``: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Item:
    path: Path
    payload: Any = None
    error: BaseException | None = None
    size: tuple[int, int] | None = None
    preview_size: tuple[int, int] | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class RunStats:
    """Counts of one plugin's run over the files."""

    tagged: int = 0
    failed: int = 0


def run_plugin(
    plugin: Plugin,
    files: Sequence[Path],
    *,
    settings: dict[str, Any],
    on_record: Callable[[Record], None],
    on_result: Callable[[Record, ImageTags], None] | None = None,
    workers: int,
    max_pixels: int | None,
    use_previews: bool = True,
) -> RunStats:
    """Tag ``files`` with a loaded ``plugin``; call ``on_record`` once per file, in order.

    ``max_pixels`` and ``use_previews`` go to :func:`~visual_buffet.images.load_image`.
    ``on_result`` (optional) gets each success record with the plugin's :class:`ImageTags`
    (embeddings included) just before ``on_record``: a library store commits it there.
    """
    stats = RunStats()
    max_side = plugin.max_image_side()

    def emit(item: _Item, result: Any = None) -> None:
        if item.error is None and result is not None:
            item.error = _invalid_result(plugin.name, result)
        if item.error is not None:
            stats.failed += 1
            on_record(error_record(str(item.path), plugin.name, item.error, settings))
        else:
            stats.tagged += 1
            record = success_record(
                str(item.path),
                plugin.name,
                result,
                settings,
                item.size,
                item.timings,
                preview_size=item.preview_size,
            )
            if on_result is not None:
                on_result(record, result)
            on_record(record)

    def load_and_prepare(path: Path) -> _Item:
        item = _Item(path)
        try:
            loaded = load_image(
                path, max_side=max_side, max_pixels=max_pixels, use_preview=use_previews
            )
            item.size = loaded.original_size
            item.preview_size = loaded.preview_size
            item.timings["decode_ms"] = loaded.decode_ms
            start = time.perf_counter()
            item.payload = plugin.prepare(loaded)
            item.timings["prepare_ms"] = (time.perf_counter() - start) * 1000
        except Exception as exc:  # one bad file must not stop the run
            item.error = exc
        return item

    pending: deque[_Item] = deque()  # taken from the loaders, not yet emitted, in order
    prefetch = max(4, 2 * plugin.batch_size() + workers)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vb-decode")
    try:
        futures: deque[Future[_Item]] = deque()
        remaining = iter(files)

        def top_up() -> None:
            while len(futures) < prefetch:
                path = next(remaining, None)
                if path is None:
                    return
                futures.append(pool.submit(load_and_prepare, path))

        def source() -> Iterator[Any]:
            top_up()
            while futures:
                item = futures.popleft().result()
                top_up()
                pending.append(item)
                if item.error is None:
                    yield item.payload

        unread: list[Path] = []
        try:
            for result in plugin.tag_stream(source()):
                while pending and pending[0].error is not None:
                    emit(pending.popleft())
                emit(pending.popleft(), result)
            # A tag_stream that ends early would leave images without a record.
            unread = list(remaining)
            if futures or unread or any(item.error is None for item in pending):
                raise RuntimeError("tag_stream returned fewer results than images")
            while pending:
                emit(pending.popleft())
        except OutputError:
            raise  # the results cannot be written: not the plugin's failure, nothing to record
        except Exception as exc:
            # The plugin itself broke (not one image): record it for every image left, in order.
            failure = RuntimeError(f"{plugin.name} failed: {type(exc).__name__}: {exc}")
            leftovers = [
                *pending,
                *(f.result() for f in futures),
                *(_Item(p) for p in [*unread, *remaining]),
            ]
            for item in leftovers:
                item.error = item.error or failure
                emit(item)
            raise PluginRunError(str(failure)) from exc
    finally:
        # A run stopped from outside (cancel, Ctrl-C) drops the decodes not yet started
        # instead of finishing every prefetched image first.
        pool.shutdown(wait=True, cancel_futures=True)
    return stats


def _invalid_result(name: str, result: ImageTags) -> Exception | None:
    """A plugin bug that would make the output break its schema, as an error for this image."""
    for tag in result.tags:
        if not tag.label or not (0.0 <= tag.confidence <= 1.0):  # also false for NaN
            return ValueError(
                f"plugin {name} returned an invalid tag {tag.label!r} with confidence "
                f"{tag.confidence!r} (labels must be non-empty, confidences in [0, 1]); "
                "report this to the plugin's authors"
            )
    return None


class PluginRunError(RuntimeError):
    """A plugin failed as a whole during a run (its unfinished images were recorded as errors)."""
