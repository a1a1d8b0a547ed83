"""Result records and the writers for ``--format table|json|jsonl``.

The record format is documented in ``docs/output.md`` and published as
``visual_buffet/schemas/result.schema.json``.
"""

from __future__ import annotations

import io
import json
import sys
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from visual_buffet import __version__
from visual_buffet.atomic import atomic_open
from visual_buffet.plugin_api import ImageTags

OutputFormat = Literal["table", "json", "jsonl"]
SCHEMA_VERSION = 1


def result_schema() -> dict[str, Any]:
    """Return the JSON Schema of the output (document and record)."""
    text = resources.files("visual_buffet").joinpath("schemas/result.schema.json").read_text()
    return json.loads(text)


def success_record(
    file: str,
    plugin: str,
    result: ImageTags,
    settings: dict[str, Any],
    image_size: tuple[int, int] | None,
    timings: dict[str, float],
    *,
    preview_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Build the record of a tagged image.

    ``preview_size``: the camera's embedded preview the image was decoded from, if it was.
    """
    record: dict[str, Any] = {
        "file": file,
        "plugin": plugin,
        "tags": [tag.to_dict() for tag in result.tags],
        "model": result.model,
        "settings": {**settings, **result.settings},
        "timings": {k: round(v, 3) for k, v in {**timings, **result.timings}.items()},
        "error": None,
    }
    if image_size is not None:
        record["image"] = {"width": image_size[0], "height": image_size[1]}
        if preview_size is not None:
            record["image"]["preview"] = {"width": preview_size[0], "height": preview_size[1]}
    return record


def error_record(
    file: str, plugin: str, error: BaseException | str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Build the record of an image that could not be tagged."""
    kind = type(error).__name__ if isinstance(error, BaseException) else "Error"
    return {
        "file": file,
        "plugin": plugin,
        "tags": [],
        "model": {},
        "settings": settings,
        "timings": {},
        "error": {"type": kind, "message": str(error)},
    }


class ResultWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self, summary: dict[str, Any]) -> None: ...

    def abort(self) -> None: ...


class JsonlWriter:
    """One line per finished image, flushed at once: an interrupted run keeps what it did.

    The file is created at the first record, so a run that stops before tagging anything
    (a plugin that cannot load, a bad setting) leaves an existing file as it was.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stream: IO[str] | None = None if path is not None else sys.stdout

    def _open(self) -> IO[str]:
        if self._stream is None:
            assert self._path is not None
            self._stream = open(self._path, "w", encoding="utf-8")  # noqa: SIM115
        return self._stream

    def write(self, record: dict[str, Any]) -> None:
        stream = self._open()
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        stream.flush()

    def close(self, summary: dict[str, Any]) -> None:
        if self._path is not None:
            self._open().close()  # a run without images still leaves an (empty) file

    def abort(self) -> None:
        """Interrupted: every line written so far is complete; keep them."""
        if self._path is not None and self._stream is not None:
            self._stream.close()


class JsonWriter:
    """One JSON document, written atomically at the end (never half a file)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self._records.append(record)

    def close(self, summary: dict[str, Any]) -> None:
        document = {
            "schema_version": SCHEMA_VERSION,
            "generator": f"visual-buffet {__version__}",
            "results": self._records,
            "summary": summary,
        }
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if self._path is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            with atomic_open(self._path) as handle:
                handle.write(text)

    def abort(self) -> None:
        """Interrupted: leave any existing file untouched."""


class TableWriter:
    """A readable table per image; to a file, plain text written atomically at the end."""

    def __init__(self, path: Path | None, console: Console | None = None) -> None:
        self._path = path
        self._buffer = io.StringIO() if path is not None else None
        if self._buffer is not None:
            self._console = Console(file=self._buffer, width=100, color_system=None)
        else:
            self._console = console or Console()

    def write(self, record: dict[str, Any]) -> None:
        # The title is its own line: as a table title it would wrap to the table's width.
        source = _escape(record["plugin"])
        preview = record.get("image", {}).get("preview")
        if preview:
            source += f"; from the camera's {preview['width']}x{preview['height']} preview"
        self._console.print(
            f"[bold]{_escape(record['file'])}[/bold]  [dim]({source})[/dim]", soft_wrap=True
        )
        if record["error"] is not None:
            message = _escape(record["error"]["message"])
            self._console.print(f"  [red]error:[/red] {message}\n")
            return
        if not record["tags"]:
            self._console.print("  [dim]no tags above the threshold[/dim]\n")
            return
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("tag")
        table.add_column("confidence", justify="right")
        show_views = any("found_in" in tag for tag in record["tags"])
        if show_views:
            table.add_column("found in")
        for tag in record["tags"]:
            row = [_escape(tag["label"]), f"{tag['confidence']:.4f}"]
            if show_views:
                row.append(_describe_view(tag.get("found_in")))
            table.add_row(*row)
        self._console.print(table)
        self._console.print()

    def close(self, summary: dict[str, Any]) -> None:
        if self._path is not None and self._buffer is not None:
            with atomic_open(self._path) as handle:
                handle.write(self._buffer.getvalue())

    def abort(self) -> None:
        """Interrupted: leave any existing file untouched."""


def _escape(text: str) -> str:
    """Show ``text`` as is: file names and messages may hold ``[`` (rich markup)."""
    return escape(text)


def _describe_view(view: dict[str, Any] | None) -> str:
    if view is None:
        return ""
    if view["view"] == "whole":
        return f"whole image @ {view['pass']}"
    left, top, right, bottom = view["box"]
    return f"window @ {view['pass']} ({left},{top})-({right},{bottom})"


def make_writer(fmt: OutputFormat, path: Path | None, console: Console | None) -> ResultWriter:
    """Return the writer for ``--format`` and ``-o``."""
    if fmt == "json":
        return JsonWriter(path)
    if fmt == "jsonl":
        return JsonlWriter(path)
    return TableWriter(path, console)
