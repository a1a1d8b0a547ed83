"""The one image loader every plugin shares: decode photos, hand out RGB.

Decoding goes through Pillow (JPEG, PNG, WebP, TIFF, BMP, GIF), ``pillow-heif`` for
HEIC/HEIF and ``rawpy`` for camera RAW; the last two are optional extras, imported only
when such a file is met. Everything here is safe to call from several threads at once.

Decompression-bomb protection: Pillow's own check lives in a process-wide global
(``Image.MAX_IMAGE_PIXELS``) that warns above the limit and only refuses at twice it, so a
per-call limit cannot be set there without races between threads. On first use this module
sets that global to ``None`` once and enforces the limit itself, right after the header
is read and before any pixel is decoded (see :func:`load_image`). The default limit is
Pillow's, read when this module is imported.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from visual_buffet.install_hints import install_command
from visual_buffet.pixels import UnsupportedModeError, to_rgb
from visual_buffet.previews import preview_frame

HEIF_SUFFIXES = frozenset({".heic", ".heif", ".hif"})  # .hif: Canon/Fujifilm HEIF
RAW_SUFFIXES = frozenset(
    {".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"}
)
IMAGE_SUFFIXES: frozenset[str] = (
    frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
    | HEIF_SUFFIXES
    | RAW_SUFFIXES
)
"""Lowercase suffixes (with the dot) that a directory walk picks up."""

#: Pillow's limit when this module was imported: the default for ``max_pixels``.
DEFAULT_MAX_PIXELS: int = Image.MAX_IMAGE_PIXELS or 89_478_485

# Only these Pillow decoders are tried, so a stray file never reaches e.g. the EPS plugin
# (which runs Ghostscript). "HEIF" exists once pillow-heif registered its opener.
_PILLOW_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "HEIF")
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_MAGIC_NUMBERS = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_NOT_RECOGNISED_HINT = (
    "it must be a JPEG, PNG, WebP, TIFF, BMP, GIF, HEIC or camera RAW file; "
    "convert it or leave it out"
)

_setup_lock = threading.Lock()
_pillow_ready = False
_heif_registered = False
_default_max_pixels: int | None = DEFAULT_MAX_PIXELS


class ImageLoadError(Exception):
    """An image could not be loaded; ``str()`` is one line for the user.

    Attributes:
        path: The file that failed.
        reason: What is wrong with it.
        hint: What the user can do about it, or ``None``.
    """

    def __init__(self, path: Path | str, reason: str, hint: str | None = None) -> None:
        self.path = Path(path)
        self.reason = " ".join(reason.split())  # one line, whatever the cause said
        self.hint = hint
        message = f"{self.path}: {self.reason}"
        super().__init__(f"{message}; {hint}" if hint else message)

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[Path, str, str | None]]:
        return (type(self), (self.path, self.reason, self.hint))


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, ready for a plugin.

    Attributes:
        path: The file it came from.
        image: The pixels, always mode ``"RGB"``; at most ``max_side`` on the longer side.
        original_size: ``(width, height)`` as stored, after EXIF orientation.
        decode_ms: Time spent decoding, converting and resizing.
        preview_size: ``(width, height)`` of the camera's embedded preview (after EXIF
            orientation) when ``image`` was decoded from it instead of the main image
            (:mod:`visual_buffet.previews`); ``None`` otherwise.
    """

    path: Path
    image: Image.Image
    original_size: tuple[int, int]
    decode_ms: float
    preview_size: tuple[int, int] | None = None


def set_max_pixels(limit: int | None) -> None:
    """Set the process-wide default pixel limit; ``None`` or ``0`` disables it."""
    global _default_max_pixels
    if limit is not None and limit < 0:
        raise ValueError(f"max_pixels must be positive, 0 or None, not {limit}")
    _default_max_pixels = limit or None


def get_max_pixels() -> int | None:
    """The process-wide default pixel limit (``None``: no limit)."""
    return _default_max_pixels


def load_image(
    path: Path,
    *,
    max_side: int | None = None,
    max_pixels: int | None = None,
    use_preview: bool = True,
) -> LoadedImage:
    """Decode ``path`` to an RGB image, applying EXIF orientation.

    Args:
        path: The image file.
        max_side: The longest side the caller needs. Larger images come back with a longer
            side from ``max_side`` up to (not including) ``2 * max_side``, never smaller:
            JPEGs are decoded at a reduced scale (libjpeg's DCT scaling, via Pillow's draft
            mode), so a 24 MP photo needed at 1080 px is never decoded in full; anything
            still twice too large is box-reduced by an integer factor. The caller does the
            final, precise resize. ``None``: full size.
        max_pixels: Refuse images with more stored pixels than this (decompression-bomb
            protection). ``None``: the process default (:func:`set_max_pixels`, initially
            Pillow's limit); ``0``: no limit.
        use_preview: With ``max_side``, decode a camera JPEG's embedded preview instead of
            the main image when the preview is at least ``max_side`` on its longer side
            and shows the same picture (:func:`visual_buffet.previews.preview_frame`).

    Raises:
        ImageLoadError: The file is missing, unreadable, empty, corrupt, truncated, too
            large, not an image, or needs an optional extra that is not installed.
    """
    path = Path(path)
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    if max_pixels is not None and max_pixels < 0:
        raise ValueError(f"max_pixels must be positive, 0 or None, not {max_pixels}")
    limit = _default_max_pixels if max_pixels is None else (max_pixels or None)
    _prepare_pillow()
    start = time.perf_counter()
    preview_size = None
    if path.suffix.lower() in RAW_SUFFIXES:
        image, original_size = _load_raw(path, max_side, limit)
    else:
        image, original_size, preview_size = _load_with_pillow(path, max_side, limit, use_preview)
    image = _shrink(image, max_side)
    decode_ms = (time.perf_counter() - start) * 1000
    return LoadedImage(path, image, original_size, decode_ms, preview_size)


def _prepare_pillow() -> None:
    global _pillow_ready
    if _pillow_ready:
        return
    with _setup_lock:
        if not _pillow_ready:
            Image.init()  # register every plugin now, not lazily inside concurrent opens
            Image.MAX_IMAGE_PIXELS = None  # we enforce the limit ourselves (module docstring)
            _pillow_ready = True


def _open_file(path: Path) -> io.BufferedReader:
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise ImageLoadError(
                path, "is a directory, not an image file", "pass the image files inside it"
            )
        if not stat.S_ISREG(mode):  # opening a FIFO would block forever
            raise ImageLoadError(path, "is not a regular file (a pipe, socket or device)")
        handle = open(path, "rb")  # noqa: SIM115 - the callers close it
    except (FileNotFoundError, NotADirectoryError):
        raise ImageLoadError(path, "file not found", "check the path") from None
    except PermissionError:
        raise ImageLoadError(
            path, "permission denied", "make the file readable (chmod +r) and try again"
        ) from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot be opened ({exc.strerror or exc})") from exc
    if os.fstat(handle.fileno()).st_size == 0:
        handle.close()
        raise ImageLoadError(
            path, "file is empty (0 bytes)", "it was probably not copied completely; copy it again"
        )
    return handle


def _check_pixels(path: Path, size: tuple[int, int], limit: int | None) -> None:
    width, height = size
    if limit is not None and width * height > limit:
        raise ImageLoadError(
            path,
            f"image has {width * height:,} pixels ({width}x{height}), above the limit of "
            f"{limit:,} that guards against decompression bombs",
            "if you trust the file, raise the config key images.max_pixels",
        )


def _corrupt(path: Path, exc: BaseException) -> ImageLoadError:
    if isinstance(exc, MemoryError):
        return ImageLoadError(
            path,
            "not enough memory to decode it",
            "free some memory, or lower the config key images.max_pixels to skip such files",
        )
    detail = str(exc)
    if "truncated" in detail or isinstance(exc, EOFError):
        # Pillow says e.g. "image file is truncated (211 bytes not processed)".
        reason = detail if "truncated" in detail else "image data ends early"
        return ImageLoadError(path, reason, "the file was cut short; copy it again")
    return ImageLoadError(
        path,
        f"image data is corrupt ({detail or type(exc).__name__})",
        "re-export or copy the file again",
    )


def _sniff_format(head: bytes) -> str | None:
    """The format the first bytes announce, for errors about files Pillow gave up on."""
    for magic, name in _MAGIC_NUMBERS:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _load_with_pillow(
    path: Path, max_side: int | None, limit: int | None, use_preview: bool
) -> tuple[Image.Image, tuple[int, int], tuple[int, int] | None]:
    """The decoded RGB image, the stored size and the preview's size if one was decoded."""
    with _open_file(path) as handle:
        head = handle.read(16)
        handle.seek(0)
        if path.suffix.lower() in HEIF_SUFFIXES or (
            head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS
        ):
            _register_heif(path)
        formats = [name for name in _PILLOW_FORMATS if name in Image.OPEN]
        try:
            img = Image.open(handle, formats=formats)
        except UnidentifiedImageError:
            announced = _sniff_format(head)
            if announced:
                raise ImageLoadError(
                    path, f"{announced} header is corrupt", "re-export or copy the file again"
                ) from None
            raise ImageLoadError(path, "not a recognised image", _NOT_RECOGNISED_HINT) from None
        except Image.DecompressionBombError as exc:  # someone re-set Pillow's global limit
            raise ImageLoadError(
                path, str(exc), "if you trust the file, raise the config key images.max_pixels"
            ) from None
        except Exception as exc:  # broken headers surface as many exception types
            raise _corrupt(path, exc) from exc
        stored_size = img.size
        _check_pixels(path, stored_size, limit)
        try:
            orientation = _orientation(img)
            if use_preview and max_side is not None and img.format == "MPO":
                frame = preview_frame(img, max_side)
                if frame is not None:
                    with contextlib.suppress(Exception):  # a broken preview: use the main image
                        img.seek(frame)
                        preview_size = img.size
                        _decode(img, max_side)
                        img = _transposed(img, orientation)
                        return (
                            to_rgb(img),
                            _turned(stored_size, orientation),
                            _turned(preview_size, orientation),
                        )
                    img.close()  # its decoder state is spent: start again from the header
                    return _load_with_pillow(path, max_side, limit, use_preview=False)
            _decode(img, max_side)
            img = _transposed(img, orientation)
            return to_rgb(img), _turned(stored_size, orientation), None
        except ImageLoadError:
            raise
        except UnsupportedModeError as exc:
            raise ImageLoadError(path, str(exc), "convert it to 8-bit RGB") from exc
        except Exception as exc:  # any decoder failure on bad data is the file's fault
            raise _corrupt(path, exc) from exc


def _decode(img: Image.Image, max_side: int | None) -> None:
    """Load the pixels of the current frame, JPEGs at the smallest DCT scale that will do."""
    if max_side is not None and img.format in ("JPEG", "MPO"):
        target = _draft_target(img.size, max_side)
        if target is not None:
            img.draft("RGB", target)
    img.load()


def _draft_target(size: tuple[int, int], max_side: int) -> tuple[int, int] | None:
    """The size to ask libjpeg for: the aspect-kept fit of ``max_side``, rounded up.

    Pillow's draft picks the largest DCT scale (1/2, 1/4, 1/8) whose result is at least
    this on both sides, so the decode never falls below what the final resize needs.
    """
    longest = max(size)
    if longest <= max_side:
        return None
    return (-(-size[0] * max_side // longest), -(-size[1] * max_side // longest))


# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> int:
    """The main image's EXIF orientation (1 when absent or unreadable).

    Read before any other MPO frame is opened: a camera's preview is stored like the main
    image, and the main image's tag applies to it.
    """
    try:
        value = img.getexif().get(0x0112, 1)
        return value if value in _TRANSPOSES else 1
    except Exception:  # an unparsable EXIF block should not cost the picture itself
        return 1


def _transposed(img: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSES.get(orientation)
    return img if method is None else img.transpose(method)


def _turned(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` as displayed: orientations 5-8 swap width and height."""
    return (size[1], size[0]) if orientation >= 5 else size


def _register_heif(path: Path) -> None:
    global _heif_registered
    with _setup_lock:
        if _heif_registered:
            return
        try:
            import pillow_heif
        except ImportError:
            raise ImageLoadError(
                path, f"HEIC/HEIF needs the optional extra: {install_command('heif')}"
            ) from None
        pillow_heif.register_heif_opener()
        _heif_registered = True


def _load_raw(
    path: Path, max_side: int | None, limit: int | None
) -> tuple[Image.Image, tuple[int, int]]:
    with _open_file(path):
        pass  # the same missing / unreadable / empty errors as for every other file
    try:
        import rawpy
    except ImportError:
        extra = install_command("raw")
        raise ImageLoadError(
            path, f"camera RAW ({path.suffix}) needs the optional extra: {extra}"
        ) from None
    try:
        with rawpy.imread(str(path)) as raw:
            sizes = raw.sizes
            stored_size = (int(sizes.width), int(sizes.height))
            _check_pixels(path, stored_size, limit)
            # Half size skips demosaicing and is still at least max_side: faster, as sharp.
            half = max_side is not None and max(stored_size) // 2 >= max_side
            pixels = raw.postprocess(use_camera_wb=True, half_size=half, output_bps=8)
            flip = int(sizes.flip)
    except ImageLoadError:
        raise
    except Exception as exc:  # rawpy.LibRawError and friends
        raise _corrupt(path, exc) from exc
    # LibRaw's postprocess applies the camera's orientation; 5 and 6 are quarter turns.
    original_size = stored_size[::-1] if flip in (5, 6) else stored_size
    return Image.fromarray(pixels).convert("RGB"), (original_size[0], original_size[1])


def _shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """Box-reduce by the largest integer factor that keeps the longer side >= ``max_side``.

    Only cheap, exact averaging here: the caller resizes to its final size with the filter it
    needs (for the SigLIP plugin, the checkpoint's own image processor), so resizing to
    exactly ``max_side`` here would be a second, wasted resample (measured: a Lanczos resize
    from 1500 to 1080 px cost more than decoding the 24 MP JPEG at 1/4 scale).
    """
    longest = max(image.size)
    if max_side is None or longest < 2 * max_side:
        return image
    return image.reduce(longest // max_side)
