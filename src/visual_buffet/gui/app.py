"""The GUI's web application: pages, settings, tag runs with live progress, uploads.

:func:`create_app` builds a Starlette app behind :class:`~visual_buffet.gui.security.Guard`.
The browser side is plain HTML, CSS and JavaScript in ``gui/static`` (no build step); the
library, photo and search endpoints are in :mod:`visual_buffet.gui.library_routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from visual_buffet.config import ConfigError
from visual_buffet.gui import panels
from visual_buffet.gui.jobs import RunRefused, TagRuns
from visual_buffet.gui.security import FileGate, Guard, new_token
from visual_buffet.gui.thumbnails import Renditions

STATIC = Path(str(resources.files("visual_buffet.gui").joinpath("static")))
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024
"""Largest upload (all dropped files of one request together), in bytes."""


@dataclass
class GuiState:
    """Everything one GUI server holds: its tokens, the chosen folders, runs, renditions."""

    config_path: Path
    library_path: Path | None = None
    token: str = field(default_factory=new_token)
    csrf_token: str = field(default_factory=new_token)
    gate: FileGate = field(default_factory=FileGate)
    renditions: Renditions = field(default_factory=Renditions)
    max_upload: int = DEFAULT_MAX_UPLOAD
    upload_dir: Path | None = None
    runs: TagRuns | None = None
    _store: Any = None
    _store_lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> Any:
        """The library store (opened once, on first use; it is thread-safe)."""
        with self._store_lock:
            if self._store is None:
                from visual_buffet.library import open_library

                self._store = open_library(self.library_path)
            return self._store

    def search_plugin(self) -> tuple[Any, int]:
        """The plugin searches use (kept warm by the runs) and the count of finished runs."""
        from visual_buffet.gui.library_view import LibraryView

        assert self.runs is not None
        try:
            return self.runs.search_plugin()
        except RunRefused as exc:
            raise LibraryView.SearchError(str(exc)) from None


def _json_error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    state: GuiState, *, hosts: set[str], cookie_name: str = "visual_buffet_token"
) -> Guard:
    """The ASGI app for ``state``, answering only requests to ``hosts`` (``name:port``)."""
    from visual_buffet.gui.library_routes import library_routes

    if state.runs is None:
        state.runs = TagRuns(state.config_path, state.store, state.gate.add_root)
    runs = state.runs
    index_html = (STATIC / "index.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        html = index_html.replace("{{csrf_token}}", state.csrf_token)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def plugins_list(request: Request) -> Response:
        return JSONResponse({"plugins": await asyncio.to_thread(panels.plugin_list)})

    async def settings_get(request: Request) -> Response:
        name = request.path_params["plugin"]
        try:
            return JSONResponse(await asyncio.to_thread(panels.panel, name, state.config_path))
        except KeyError:
            return _json_error(f"no plugin named {name!r} is installed.", 404)

    async def settings_save(request: Request) -> Response:
        name = request.path_params["plugin"]
        body = await _json_body(request)
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return _json_error('expected {"values": {"setting": "text", ...}}.')
        try:
            written = await asyncio.to_thread(panels.save, name, values, state.config_path)
        except ConfigError as exc:
            return _json_error(str(exc))
        return JSONResponse({"saved": written, "config_path": str(state.config_path)})

    async def tag_start(request: Request) -> Response:
        body = await _json_body(request)
        body = body if isinstance(body, dict) else {}
        xmp = body.get("xmp")
        try:
            # Off the event loop: a big folder takes a while to scan.
            run_id = await asyncio.to_thread(
                runs.start,
                str(body.get("folder", "")),
                recursive=bool(body.get("recursive", True)),
                xmp=xmp if isinstance(xmp, bool) else None,
            )
        except RunRefused as exc:
            return _json_error(str(exc), 409 if exc.busy else 400)
        after = await asyncio.to_thread(_first_event_of, runs, run_id)
        return JSONResponse({"run": run_id, "after": after})

    async def tag_cancel(request: Request) -> Response:
        return JSONResponse({"cancelled": runs.cancel()})

    async def tag_status(request: Request) -> Response:
        # A page opened during a run follows it from its first event (not older runs').
        running = runs.running
        after = (
            await asyncio.to_thread(_first_event_of, runs, runs.run_id)
            if running
            else len(runs.events)
        )
        return JSONResponse(
            {
                "running": running,
                "run": runs.run_id,
                "after": after,
                "xmp": await asyncio.to_thread(runs.xmp_default),
            }
        )

    async def tag_events(request: Request) -> Response:
        start = request.headers.get("last-event-id") or request.query_params.get("after", "0")
        try:
            position = int(start) + (1 if request.headers.get("last-event-id") else 0)
        except ValueError:
            return _json_error("after must be an event number.")

        async def stream():  # type: ignore[no-untyped-def]
            nonlocal position
            last_beat = time.monotonic()
            while True:
                if await request.is_disconnected():
                    return
                batch = runs.events[position:]
                for event in batch:
                    yield f"id: {event['id']}\ndata: {json.dumps(event)}\n\n"
                    position += 1
                    if event["type"] == "end":
                        return  # the run is over; the page closes its EventSource too
                if time.monotonic() - last_beat > 15:  # keep proxies and the browser patient
                    yield ": keep-alive\n\n"
                    last_beat = time.monotonic()
                await asyncio.sleep(0.1)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def upload(request: Request) -> Response:
        return await _upload(request, state, runs)

    routes = [
        Route("/", index),
        Route("/api/plugins", plugins_list),
        Route("/api/settings/{plugin}", settings_get, methods=["GET"]),
        Route("/api/settings/{plugin}", settings_save, methods=["POST"]),
        Route("/api/tag", tag_start, methods=["POST"]),
        Route("/api/tag/cancel", tag_cancel, methods=["POST"]),
        Route("/api/tag/status", tag_status),
        Route("/api/tag/events", tag_events),
        Route("/api/upload", upload, methods=["POST"]),
        *library_routes(state),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        await asyncio.to_thread(runs.close)  # stop a run, free the warm model

    from visual_buffet.library import LibraryError

    async def library_error(request: Request, exc: Exception) -> Response:
        # A store that cannot be opened or written: its message names the file and the fix.
        return _json_error(str(exc), 503)

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={LibraryError: library_error}
    )
    return Guard(
        app,
        hosts=hosts,
        token=state.token,
        csrf_token=state.csrf_token,
        cookie_name=cookie_name,
    )


def _first_event_of(runs: TagRuns, run_id: int) -> int:
    """Index of the first event of run ``run_id`` (the page follows from there)."""
    for _ in range(50):
        for event in runs.events:
            if event.get("run") == run_id:
                return int(event["id"])
        time.sleep(0.01)
    return len(runs.events)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


async def _upload(request: Request, state: GuiState, runs: TagRuns) -> Response:
    """Save dropped files into a new folder of the upload dir and tag that folder.

    The size bound holds for the whole request: a declared ``Content-Length`` over it is
    refused before reading, and a body that grows past it while streaming is dropped.
    """
    limit = state.max_upload
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return _json_error("uploads need a Content-Length.", 411)
    if int(declared) > limit:
        return _json_error(f"upload too large: {int(declared)} bytes; at most {limit}.", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _json_error(f"upload too large: over {limit} bytes.", 413)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # form() parses the bytes already read
    form = await request.form(max_files=10_000)
    from visual_buffet.images import IMAGE_SUFFIXES

    base = state.upload_dir or _default_upload_dir()
    folder = base / time.strftime("%Y%m%d-%H%M%S")
    saved = 0
    for _, item in form.multi_items():
        if isinstance(item, str) or not item.filename:
            continue
        name = Path(item.filename.replace("\\", "/")).name  # never a path: only a file name
        if not name or name.startswith(".") or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(await item.read())
        saved += 1
    await form.close()
    if not saved:
        return _json_error("none of the dropped files is an image this tool reads.")
    try:
        run_id = await asyncio.to_thread(runs.start, str(folder), recursive=False)
    except RunRefused as exc:
        return _json_error(str(exc), 409 if exc.busy else 400)
    return JSONResponse(
        {
            "run": run_id,
            "after": await asyncio.to_thread(_first_event_of, runs, run_id),
            "folder": str(folder),
            "files": saved,
        }
    )


def _default_upload_dir() -> Path:
    """Dropped photos are kept (the library refers to them): in the data dir, not a cache."""
    from visual_buffet.paths import data_dir

    return data_dir("uploads")
