"""Library, search and photo endpoints: read-only views of the library store.

The GUI keeps no copy of anything: pages, the tag filter, each photo's record and search
results come from :mod:`visual_buffet.library` (``library_view.LibraryView`` adapts its read
API). Image bytes are read only through the :class:`~visual_buffet.gui.security.FileGate`
and served as cached renditions (:mod:`visual_buffet.gui.thumbnails`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from visual_buffet.gui.security import FileRefused

if TYPE_CHECKING:
    from visual_buffet.gui.app import GuiState

MAX_PAGE = 200
"""Most photos one library or search request returns (the page asks for 60)."""


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        value = default
    return max(low, min(high, value))


def library_routes(state: GuiState) -> list[Route]:
    """The routes, bound to ``state`` (its store, file gate and renditions)."""
    from visual_buffet.gui.library_view import LibraryView

    view = LibraryView(state.store, state.search_plugin)

    def allowed(raw: str) -> Path:
        """The real path of a stored image the user may see (FileRefused otherwise)."""
        if not raw:
            raise FileRefused("no path given.")
        try:
            return state.gate.check(raw)
        except FileRefused as exc:
            # Photos in the library were chosen by the user when they were tagged (here or
            # with the CLI): their own folder counts as chosen, links out of it do not.
            if not exc.outside or not view.is_stored(raw):
                raise
            return state.gate.check(raw, also=[Path(raw).parent])

    async def library(request: Request) -> Response:
        offset = _int(request, "offset", 0, 0, 10**9)
        limit = _int(request, "limit", 60, 1, MAX_PAGE)
        tag = request.query_params.get("tag") or None
        total, items = await run_in_threadpool(view.page, offset, limit, tag)
        return JSONResponse({"total": total, "offset": offset, "items": items})

    async def search(request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        if not text:
            return _error("type something to search for.", 400)
        limit = _int(request, "limit", 60, 1, MAX_PAGE)
        try:
            results = await run_in_threadpool(view.search, text, limit)
        except view.SearchError as exc:
            return _error(str(exc), 400)
        return JSONResponse({"query": text, "results": results})

    async def photo(request: Request) -> Response:
        raw = request.query_params.get("path", "")
        try:
            real = allowed(raw)
        except FileRefused as exc:
            return _error(str(exc), 403)
        except FileNotFoundError:
            return _error(f"{raw}: no such file.", 404)
        records = await run_in_threadpool(view.records, raw)
        size = _size(records) or await run_in_threadpool(_image_size, real)
        return JSONResponse(
            {
                "path": raw,
                "name": Path(raw).name,
                "width": size[0],
                "height": size[1],
                "records": records,
                "sidecar": await run_in_threadpool(_sidecar, Path(raw)),
            }
        )

    def rendition(size: str):  # type: ignore[no-untyped-def]
        async def serve(request: Request) -> Response:
            from visual_buffet.images import ImageLoadError

            raw = request.query_params.get("path", "")
            try:
                real = allowed(raw)
                cached = await run_in_threadpool(state.renditions.get, real, size)
            except FileRefused as exc:
                return _error(str(exc), 403)
            except FileNotFoundError:
                return _error(f"{raw}: no such file.", 404)
            except ImageLoadError as exc:
                return _error(str(exc), 415)
            # The URL names the photo, not its version: the browser revalidates (ETag, 304)
            # so an edited photo's new rendition shows.
            return FileResponse(
                cached, media_type="image/jpeg", headers={"cache-control": "private, no-cache"}
            )

        return serve

    return [
        Route("/api/library", library),
        Route("/api/search", search),
        Route("/api/photo", photo),
        Route("/api/thumb", rendition("thumb")),
        Route("/api/image", rendition("view")),
    ]


def _size(records: list[dict[str, Any]]) -> tuple[int, int] | None:
    for record in records:
        image = record.get("image")
        if image:
            return int(image["width"]), int(image["height"])
    return None


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).size


def _sidecar(image: Path) -> dict[str, Any] | None:
    """The XMP sidecar beside ``image`` (``IMG.jpg.xmp`` or ``IMG.xmp``) and its keywords."""
    from visual_buffet.xmp.sidecar import SidecarLocator

    found = SidecarLocator().candidates(image)
    if not found:
        return None
    sidecar = found[0]
    info: dict[str, Any] = {"path": str(sidecar), "keywords": None, "runs": None}
    try:
        from visual_buffet.xmp.merge import take_state
        from visual_buffet.xmp.packet import XmpPacket, rdf_value

        packet = XmpPacket(sidecar.read_bytes())
        for desc in packet.descriptions():
            for child in desc:
                if child.tag == DC_SUBJECT:
                    value = rdf_value(child)
                    info["keywords"] = [str(v) for v in value] if isinstance(value, list) else None
        info["runs"] = len(take_state(packet).runs)  # this tool's runs recorded in it
    except Exception:  # a sidecar this tool cannot parse is still shown as present
        pass
    return info


DC_SUBJECT = "{http://purl.org/dc/elements/1.1/}subject"
