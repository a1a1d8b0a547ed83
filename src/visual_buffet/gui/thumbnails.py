"""Thumbnails and screen-size renditions, decoded once and kept in the cache dir.

A rendition is keyed by the image's real path, size and modification time and the longest
side asked for, so an edited photo gets a new one and an unchanged photo is never decoded
again: later requests are a file read. Decoding goes through
:func:`visual_buffet.images.load_image` (EXIF orientation, RAW and HEIC where installed,
embedded previews, the decompression-bomb limit), the same as tagging.
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

from visual_buffet.atomic import atomic_write_bytes
from visual_buffet.paths import cache_dir

SIZES = {"thumb": 320, "view": 1600}
"""Longest side of each rendition: library grid thumbnails and the photo page's image."""


class Renditions:
    """Makes and finds cached JPEG renditions. Safe to call from several threads."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir("thumbnails")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.decoded = 0
        """How many images this instance decoded (tests check that a cached one is not)."""

    def path_for(self, image: Path, size: str) -> Path:
        """The cache file of ``image`` at ``size`` (it may not exist yet)."""
        stat = image.stat()
        key = f"{image}\0{stat.st_size}\0{stat.st_mtime_ns}\0{SIZES[size]}"
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.folder / digest[:2] / f"{digest}.jpg"

    def get(self, image: Path, size: str) -> Path:
        """Return the cached rendition, making it first if there is none.

        Raises :class:`visual_buffet.images.ImageLoadError` for a file that cannot be decoded.
        """
        target = self.path_for(image, size)
        if target.exists():
            return target
        with self._guard:
            lock = self._locks.setdefault(str(target), threading.Lock())
        with lock:  # two requests for one new thumbnail decode it once
            if not target.exists():
                atomic_write_bytes(target, self._render(image, SIZES[size]))
        return target

    def _render(self, image: Path, side: int) -> bytes:
        from PIL import Image

        from visual_buffet.images import load_image

        loaded = load_image(image, max_side=side)
        picture = loaded.image
        picture.thumbnail((side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, "JPEG", quality=85, optimize=True)
        self.decoded += 1
        return buffer.getvalue()
