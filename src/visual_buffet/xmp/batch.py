"""Many sidecars at once: what ``visual-buffet xmp write`` and ``xmp remove`` run.

The CLI, the GUI and scripts call these; one image's failure is reported through
``on_error`` and the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from visual_buffet.xmp.sidecar import (
    SidecarError,
    SidecarLocator,
    XmpSettings,
    remove_image,
    write_record,
)


@dataclass
class BatchSummary:
    """Counts of one batch."""

    images: int = 0
    written: int = 0
    """Sidecars created or updated."""
    created: int = 0
    removed_keywords: int = 0
    deleted: int = 0
    """Sidecars deleted by a removal (this project had created them; nothing else was left)."""
    untouched: int = 0
    """Images with nothing to do: no tags and no sidecar, or nothing of ours to remove."""
    failed: int = 0


def write_records(
    records: Iterable[dict[str, Any]],
    settings: XmpSettings,
    on_error: Callable[[str], None],
    *,
    date: datetime | None = None,
) -> BatchSummary:
    """Merge each successful record into its image's sidecar."""
    summary = BatchSummary()
    locator = SidecarLocator(settings.naming)
    date = date or datetime.now(UTC)
    for record in records:
        if record.get("error") is not None:
            continue
        summary.images += 1
        try:
            result = write_record(record, locator, settings.keywords, date=date)
        except SidecarError as exc:
            summary.failed += 1
            on_error(str(exc))
            continue
        if result.sidecar is None:
            summary.untouched += 1
        else:
            summary.written += 1
            summary.created += result.created
    return summary


def remove_from_images(
    images: Iterable[Path], naming: str, on_error: Callable[[str], None]
) -> BatchSummary:
    """Take back this project's keywords from the sidecars of ``images``."""
    summary = BatchSummary()
    locator = SidecarLocator(naming)  # type: ignore[arg-type]
    for image in images:
        summary.images += 1
        try:
            result = remove_image(Path(image), locator)
        except SidecarError as exc:
            summary.failed += 1
            on_error(str(exc))
            continue
        if result.sidecar is None:
            summary.untouched += 1
            continue
        summary.removed_keywords += result.removed
        if result.deleted:
            summary.deleted += 1
        else:
            summary.written += 1
    return summary


def library_records(
    store: Any, images: Iterable[Path] | None, on_warning: Callable[[str], None]
) -> Iterator[dict[str, Any]]:
    """The latest stored record of each plugin for ``images`` (all stored images when None).

    ``store`` is a :class:`visual_buffet.library.LibraryStore` (its read API:
    ``image_at``, ``list_images``, ``latest_records``). Each record's ``file`` is set to where
    the image is now (the path given, or the path it was last seen at), since the sidecar
    goes beside it.
    """
    if images is not None:
        for image in images:
            stored = store.image_at(image)
            if stored is None:
                on_warning(
                    f"{image}: not in the library store {store.path}; tag it first "
                    "(`visual-buffet tag`), or give --from FILE."
                )
                continue
            for record in store.latest_records(stored.id).values():
                yield {**record, "file": str(image)}
        return
    offset, page = 0, 500
    while batch := store.list_images(offset=offset, limit=page):
        offset += len(batch)
        for stored in batch:
            here = next((p for p in stored.paths if Path(p).is_file()), None)
            if here is None:
                on_warning(f"{stored.path}: no longer there; its sidecar is not written.")
                continue
            for record in store.latest_records(stored.id).values():
                yield {**record, "file": here}


class ResultsFileError(ValueError):
    """A results file cannot be read as ``--format json`` or ``jsonl`` output."""


def read_results_file(path: Path) -> list[dict[str, Any]]:
    """The records of a ``visual-buffet tag --format json|jsonl`` output file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsFileError(f"cannot read results file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ResultsFileError(f"results file {path} is not UTF-8 text.") from None
    stripped = text.lstrip()
    if stripped.startswith("{") and '"results"' in stripped[:2000]:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultsFileError(f"results file {path} is not valid JSON ({exc}).") from None
        return [_checked(r, path, i + 1) for i, r in enumerate(document.get("results", []))]
    return list(_jsonl(text, path))


def _jsonl(text: str, path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ResultsFileError(
                f"results file {path}, line {number}: not JSON ({exc.msg}). Give the output "
                "of `visual-buffet tag --format jsonl` or `--format json`."
            ) from None
        yield _checked(record, path, number)


def _checked(record: Any, path: Path, where: int) -> dict[str, Any]:
    if not isinstance(record, dict) or "file" not in record or "tags" not in record:
        raise ResultsFileError(
            f"results file {path}, record {where}: not a tagging result (no file / tags)."
        )
    return record
