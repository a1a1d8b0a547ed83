"""Result records and the writers for ``--format table|json|jsonl``.

The record format is documented in ``docs/output.md`` and published as
``visual_buffet/schemas/result.schema.json``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import sys
import tempfile
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

SUFFIX_FORMATS: dict[str, OutputFormat] = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""``-o`` suffixes that name a format; any other suffix (``.txt``...) means ``table``."""


class OutputError(Exception):
    """The results cannot be written (bad ``-o`` path, full disk...): not a plugin's failure.

    The tagging run stops at once instead of recording the error for every image left.
    """


class OutputClosed(OutputError):
    """The reader went away (``visual-buffet tag ... | head -1``): stop quietly, like Unix tools."""


def output_format(fmt: str | None, path: Path | None) -> OutputFormat:
    """``--format``, or the format ``-o``'s suffix names when ``--format`` is not given.

    An explicit ``--format`` that contradicts a ``.json`` / ``.jsonl`` suffix raises
    :class:`OutputError`: a table in ``tags.json`` is a trap for whoever reads it next.
    """
    implied = SUFFIX_FORMATS.get(path.suffix.lower()) if path is not None else None
    if fmt is None:
        return implied or "table"
    if fmt not in ("table", "json", "jsonl"):
        raise OutputError(f"--format {fmt!r} is not valid. Allowed: table, json, jsonl.")
    if implied is not None and implied != fmt:
        raise OutputError(
            f"--format {fmt} does not match -o {path}: a {path.suffix} file holds {implied}. "  # type: ignore[union-attr]
            f"Leave out --format (the suffix chooses it), or name the file for {fmt} "
            f"({'tags.txt' if fmt == 'table' else 'tags.' + fmt})."
        )
    return fmt  # type: ignore[return-value]


def check_output_path(path: Path, fmt: OutputFormat, *, overwrite: bool) -> None:
    """Refuse an ``-o`` path that cannot take the results, before any model loads.

    Raises :class:`OutputError` naming the path when its folder is missing, when it is a
    folder, when it cannot be written (``json`` and ``table`` also need the folder writable:
    they write a temporary file beside it and rename it), or when it already holds results
    and ``overwrite`` is false (a rerun must not silently lose an earlier run's). An empty
    existing file or a device (``/dev/stdout``) is fine.

    Writability is tried, not guessed from permission bits (root passes those everywhere; a
    read-only mount or an immutable folder does not show in them): a temporary file is made
    and removed in the folder, an existing file is opened for appending without writing.
    Nothing is left behind.
    """
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"-o {path}: is a folder; give a file name, e.g. {path / 'tags.jsonl'}.")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"-o {path}: the folder {folder} {what}; create it first.")
    if not path.exists() or fmt != "jsonl":
        problem = _cannot_create_in(folder)
        if problem is not None:
            raise OutputError(
                f"-o {path}: the folder {folder} is not writable ({problem}); choose another place."
            )
    if path.is_file():
        problem = _cannot_append_to(path)
        if problem is not None:
            raise OutputError(f"-o {path}: the file is not writable ({problem}); choose another.")
        if path.stat().st_size > 0 and not overwrite:
            raise OutputError(
                f"-o {path}: the file already exists. Pass --overwrite to replace it, "
                "or choose another file name."
            )


def _cannot_create_in(folder: Path) -> str | None:
    try:
        fd, name = tempfile.mkstemp(prefix=".visual-buffet-check-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def _cannot_append_to(path: Path) -> str | None:
    try:
        with open(path, "ab"):  # opening changes neither the content nor the mtime
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _write_failed(path: Path | None, exc: OSError) -> OutputError:
    """An I/O error of a writer as the :class:`OutputError` to stop on."""
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return OutputClosed(f"{path or 'stdout'}: the reader closed the pipe")
    where = path or "stdout"
    reason = exc.strerror or str(exc)
    hint = " Free some space and run again." if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return OutputError(f"cannot write {where}: {reason}.{hint}")


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
    """One line per finished image, written at once: an interrupted run keeps what it did.

    The file is created at the first record, so a run that stops before tagging anything
    (a plugin that cannot load, a bad setting) leaves an existing file as it was. Whether an
    existing file may be replaced at all is decided before the run (:func:`check_output_path`).
    Lines go to the file unbuffered; a write that fails (a full disk) is cut back to the last
    complete line, so the file never ends in half a record.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._good = 0  # bytes of complete lines in the file

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            if self._path is None:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                self._write_line(line.encode("utf-8"))
        except OSError as exc:
            raise _write_failed(self._path, exc) from exc

    def _write_line(self, data: bytes) -> None:
        if self._file is None:
            assert self._path is not None
            self._file = open(self._path, "wb", buffering=0)  # noqa: SIM115
        view = memoryview(data)
        try:
            while view:
                view = view[self._file.write(view) or 0 :]
        except OSError:
            with contextlib.suppress(OSError):  # a device (/dev/full) cannot be truncated
                os.ftruncate(self._file.fileno(), self._good)
            raise
        self._good += len(data)

    def close(self, summary: dict[str, Any]) -> None:
        if self._path is None:
            return
        try:
            if self._file is None:  # a run without images still leaves an (empty) file
                self._file = open(self._path, "wb", buffering=0)  # noqa: SIM115
            self._file.close()
        except OSError as exc:
            raise _write_failed(self._path, exc) from exc

    def abort(self) -> None:
        """Stopped by an error: every line written so far is complete; keep them."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()


class JsonWriter:
    """One JSON document, written atomically when the run ends (never half a file).

    An interrupted run ends too (``close`` with ``summary["interrupted"]``): the document then
    holds the images finished so far.
    """

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
        try:
            if self._path is None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                with atomic_open(self._path) as handle:
                    handle.write(text)
        except OSError as exc:
            raise _write_failed(self._path, exc) from exc

    def abort(self) -> None:
        """Stopped by an error: leave any existing file untouched."""


class _TerminalConsole(Console):
    """rich's Console, but a closed pipe is :class:`OutputClosed` (rich would exit with 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise OutputClosed("stdout: the reader closed the pipe")


class TableWriter:
    """A readable table per image; to a file, plain text written atomically at the end."""

    def __init__(self, path: Path | None, console: Console | None = None) -> None:
        self._path = path
        self._buffer = io.StringIO() if path is not None else None
        if self._buffer is not None:
            self._console = Console(file=self._buffer, width=100, color_system=None)
        else:
            self._console = console or _TerminalConsole()

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._print_record(record)
        except OSError as exc:  # the terminal or a pipe; a file is only written at close
            raise _write_failed(None, exc) from exc

    def _print_record(self, record: dict[str, Any]) -> None:
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
                row.append(describe_view(tag.get("found_in")))
            table.add_row(*row)
        self._console.print(table)
        self._console.print()

    def close(self, summary: dict[str, Any]) -> None:
        if self._path is not None and self._buffer is not None:
            try:
                with atomic_open(self._path) as handle:
                    handle.write(self._buffer.getvalue())
            except OSError as exc:
                raise _write_failed(self._path, exc) from exc

    def abort(self) -> None:
        """Stopped by an error: leave any existing file untouched."""


def _escape(text: str) -> str:
    """Show ``text`` as is: file names and messages may hold ``[`` (rich markup)."""
    return escape(text)


def describe_view(view: dict[str, Any] | None) -> str:
    """Where a tag was found, in words: ``whole photo`` or ``detail (x1,y1)-(x2,y2)``.

    The box is in the photo's own pixels. The pass name is left out: it names a quality
    pass, not a size the whole photo was seen at (every whole view is fed at the model's
    input size), so ``@ 480`` next to ``@ 1080`` only misled.
    """
    if view is None:
        return ""
    if view["view"] == "whole":
        return "whole photo"
    left, top, right, bottom = view["box"]
    return f"detail ({left},{top})-({right},{bottom})"


def make_writer(fmt: OutputFormat, path: Path | None, console: Console | None) -> ResultWriter:
    """Return the writer for ``--format`` and ``-o``."""
    if fmt == "json":
        return JsonWriter(path)
    if fmt == "jsonl":
        return JsonlWriter(path)
    return TableWriter(path, console)
