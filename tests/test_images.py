"""The shared image loader: modes, formats, orientation, draft decoding, limits, errors, scans."""

from __future__ import annotations

import os
import pickle
import struct
import sys
import types
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from visual_buffet import images
from visual_buffet.images import (
    ImageLoadError,
    LoadedImage,
    load_image,
)
from visual_buffet.install_hints import install_command
from visual_buffet.pixels import to_rgb
from visual_buffet.previews import jpeg_with_preview
from visual_buffet.scan import find_images

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 2) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def pixel(loaded: LoadedImage, xy: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
    assert loaded.image.mode == "RGB"
    return loaded.image.getpixel(xy)  # type: ignore[return-value]


def save(img: Image.Image, path: Path, **options: object) -> Path:
    img.save(path, **options)
    return path


def noise_jpeg(path: Path, size: tuple[int, int] = (256, 256)) -> Path:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return save(Image.fromarray(pixels), path, quality=90)


# --- pixel modes ------------------------------------------------------------------------


def test_rgba_half_transparent_red_over_white_is_pink(tmp_path: Path) -> None:
    path = save(Image.new("RGBA", (4, 4), (255, 0, 0, 128)), tmp_path / "a.png")
    assert close_to(pixel(load_image(path)), (255, 127, 127), 1)


def test_fully_transparent_pixels_become_white(tmp_path: Path) -> None:
    path = save(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), tmp_path / "a.png")
    assert pixel(load_image(path)) == WHITE


def test_la_half_transparent_black_is_grey(tmp_path: Path) -> None:
    path = save(Image.new("LA", (4, 4), (0, 128)), tmp_path / "a.png")
    assert close_to(pixel(load_image(path)), (127, 127, 127), 1)


def test_palette_without_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 200, 30])
    assert pixel(load_image(save(img, tmp_path / "p.png"))) == (10, 200, 30)


def test_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 200, 30])
    img.putpixel((0, 0), 0)
    path = save(img, tmp_path / "p.png", transparency=0)
    loaded = load_image(path)
    assert pixel(loaded, (0, 0)) == WHITE
    assert pixel(loaded, (1, 1)) == (10, 200, 30)


def test_palette_with_alpha_mode_pa() -> None:
    img = Image.new("PA", (2, 2), (1, 128))
    img.putpalette([0, 0, 0, 255, 0, 0])
    assert close_to(to_rgb(img).getpixel((0, 0)), (255, 127, 127), 1)


def test_rgb_with_trns_colour_is_white_there(tmp_path: Path) -> None:
    img = Image.new("RGB", (2, 1), RED)
    img.putpixel((1, 0), (0, 0, 255))
    loaded = load_image(save(img, tmp_path / "t.png", transparency=RED))
    assert pixel(loaded, (0, 0)) == WHITE
    assert pixel(loaded, (1, 0)) == (0, 0, 255)


def test_greyscale_and_bilevel(tmp_path: Path) -> None:
    assert pixel(load_image(save(Image.new("L", (2, 2), 77), tmp_path / "l.png"))) == (77,) * 3
    bilevel = Image.new("1", (2, 2), 1)
    bilevel.putpixel((0, 0), 0)
    loaded = load_image(save(bilevel, tmp_path / "b.png"))
    assert pixel(loaded, (0, 0)) == (0, 0, 0)
    assert pixel(loaded, (1, 1)) == WHITE


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[65535, 32768, 257 * 100, 0]], dtype=np.uint16)
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    loaded = load_image(save(img, tmp_path / "deep.png"))
    assert [pixel(loaded, (x, 0))[0] for x in range(4)] == [255, 128, 100, 0]


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L"])
def test_sixteen_bit_modes(mode: str) -> None:
    img = Image.new(mode, (2, 1), 0)
    img.putpixel((0, 0), 65535)
    rgb = to_rgb(img)
    assert rgb.getpixel((0, 0)) == WHITE
    assert rgb.getpixel((1, 0)) == (0, 0, 0)


def test_sixteen_bit_big_endian_tiff(tmp_path: Path) -> None:
    img = Image.new("I;16B", (2, 1), 0)
    img.putpixel((0, 0), 65535)
    loaded = load_image(save(img, tmp_path / "be.tif"))
    assert pixel(loaded, (0, 0)) == WHITE


def test_mode_i_in_sixteen_bit_range_and_stretched(tmp_path: Path) -> None:
    img = Image.new("I", (2, 1), 0)
    img.putpixel((0, 0), 65535)
    loaded = load_image(save(img, tmp_path / "i.tif"))
    assert pixel(loaded, (0, 0)) == WHITE
    wide = Image.new("I", (2, 1), -1000)
    wide.putpixel((1, 0), 1_000_000)
    assert [to_rgb(wide).getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), WHITE]


def test_float_modes(tmp_path: Path) -> None:
    unit = Image.new("F", (2, 1), 0.5)
    unit.putpixel((1, 0), 1.0)
    loaded = load_image(save(unit, tmp_path / "f.tif"))
    assert pixel(loaded, (0, 0)) == (128,) * 3
    assert pixel(loaded, (1, 0)) == WHITE
    eight_bit = Image.new("F", (1, 1), 200.0)
    assert to_rgb(eight_bit).getpixel((0, 0)) == (200,) * 3


def test_cmyk_jpeg_with_adobe_inversion_and_tiff(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red ink
    jpeg = save(cmyk, tmp_path / "c.jpg", quality=95)
    with Image.open(jpeg) as stored:
        assert stored.info.get("adobe") is not None  # Adobe-style, stored inverted
    assert close_to(pixel(load_image(jpeg)), RED, 6)
    assert close_to(pixel(load_image(save(cmyk, tmp_path / "c.tif"))), RED, 0)


def test_cmyk_with_broken_icc_profile_falls_back() -> None:
    cmyk = Image.new("CMYK", (2, 2), (0, 0, 0, 255))
    cmyk.info["icc_profile"] = b"not a profile"
    assert to_rgb(cmyk).getpixel((0, 0)) == (0, 0, 0)


def test_ycbcr_and_lab() -> None:
    red = Image.new("RGB", (1, 1), RED)
    assert close_to(to_rgb(red.convert("YCbCr")).getpixel((0, 0)), RED, 3)
    to_lab = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
    )
    lab = ImageCms.applyTransform(red, to_lab)
    assert lab is not None and lab.mode == "LAB"
    assert close_to(to_rgb(lab).getpixel((0, 0)), RED, 6)


def test_rgb_is_returned_as_is() -> None:
    img = Image.new("RGB", (1, 1), RED)
    assert to_rgb(img) is img


# --- formats and orientation ------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif", ".bmp", ".gif"])
def test_each_format(tmp_path: Path, suffix: str) -> None:
    path = save(Image.new("RGB", (30, 20), (200, 40, 40)), tmp_path / f"a{suffix}")
    loaded = load_image(path)
    assert loaded.original_size == (30, 20)
    assert loaded.image.size == (30, 20)
    assert close_to(pixel(loaded, (15, 10)), (200, 40, 40), 6)
    assert loaded.decode_ms >= 0


def test_image_without_or_with_wrong_suffix_is_still_loaded(tmp_path: Path) -> None:
    source = save(Image.new("RGB", (5, 5), RED), tmp_path / "x.png")
    for name in ("no_suffix", "notes.txt"):
        target = tmp_path / name
        target.write_bytes(source.read_bytes())
        assert pixel(load_image(target)) == RED


def test_mpo_first_picture_with_draft(tmp_path: Path) -> None:
    pictures = [Image.new("RGB", (1200, 800), colour) for colour in (RED, (0, 0, 255))]
    path = tmp_path / "camera.jpg"  # phones and cameras write MPO with a .jpg name
    pictures[0].save(path, format="MPO", save_all=True, append_images=pictures[1:])
    loaded = load_image(path, max_side=300)
    assert loaded.image.size == (300, 200)
    assert loaded.original_size == (1200, 800)
    assert loaded.preview_size is None  # Pillow types frame 1 "Undefined": not a preview
    assert close_to(pixel(loaded, (10, 10)), RED, 4)


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert pixel(load_image(path)) == RED


def test_exif_orientation_six_turns_the_image(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste(RED, (0, 0, 10, 10))  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = save(img, tmp_path / "turned.jpg", exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.original_size == (20, 40)
    assert loaded.image.size == (20, 40)
    assert close_to(pixel(loaded, (15, 4)), RED, 30)  # now top-right
    assert close_to(pixel(loaded, (4, 4)), (0, 0, 255), 30)
    small = load_image(path, max_side=10)
    assert small.original_size == (20, 40)
    assert small.image.size == (5, 10)


# --- sizes ------------------------------------------------------------------------------


def test_big_jpeg_is_draft_decoded_and_not_resampled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(Image.new("RGB", (6000, 4000), (200, 100, 50)), tmp_path / "big.jpg")
    calls: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode, size):  # type: ignore[no-untyped-def]
        result = original_draft(self, mode, size)
        calls.append((mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    loaded = load_image(path, max_side=1080)
    assert calls == [("RGB", (1080, 720), (1500, 1000))]  # decoded at 1/4 scale, not 24 MP
    assert loaded.image.size == (1500, 1000)  # >= max_side, < 2x: the caller resizes
    assert loaded.original_size == (6000, 4000)
    assert close_to(pixel(loaded, (500, 300)), (200, 100, 50), 4)


def test_draft_target_never_below_request() -> None:
    assert images._draft_target((6000, 4000), 1080) == (1080, 720)
    assert images._draft_target((4001, 3), 1000) == (1000, 1)
    assert images._draft_target((100, 50), 100) is None


def test_large_png_is_box_reduced_to_between_max_side_and_twice_that(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4001, 333), RED), tmp_path / "wide.png")
    loaded = load_image(path, max_side=500)
    assert loaded.image.size == (501, 42)  # reduced by 8, never below max_side
    assert pixel(loaded) == RED
    tall = load_image(save(Image.new("L", (333, 1001)), tmp_path / "tall.png"), max_side=500)
    assert tall.image.size == (167, 501)
    kept = load_image(save(Image.new("RGB", (999, 10)), tmp_path / "k.png"), max_side=500)
    assert kept.image.size == (999, 10)  # under twice max_side: left for the caller


def test_no_upscaling(tmp_path: Path) -> None:
    loaded = load_image(save(Image.new("RGB", (100, 50)), tmp_path / "s.jpg"), max_side=1080)
    assert loaded.image.size == (100, 50)


def test_bad_arguments_are_bugs_not_user_errors(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "a.png")
    with pytest.raises(ValueError):
        load_image(path, max_side=0)
    with pytest.raises(ValueError):
        load_image(path, max_pixels=-1)


# --- camera previews (MPF Large Thumbnail) ----------------------------------------------

BLUE = (0, 0, 255)


def camera_photo() -> Image.Image:
    """2400x1600, blue, a red square in the stored top-left corner."""
    img = Image.new("RGB", (2400, 1600), BLUE)
    img.paste(RED, (0, 0, 400, 400))
    return img


def camera_jpeg(path: Path, data: bytes | None = None, **options: object) -> Path:
    path.write_bytes(data if data is not None else jpeg_with_preview(camera_photo(), **options))
    return path


def test_preview_is_decoded_when_large_enough(tmp_path: Path) -> None:
    path = camera_jpeg(tmp_path / "camera.jpg", preview_side=600)  # preview 900x600
    loaded = load_image(path, max_side=300)
    assert loaded.preview_size == (900, 600)
    assert loaded.original_size == (2400, 1600)
    assert loaded.image.size == (450, 300)  # the preview at 1/2 scale (the main: 300x200)
    assert close_to(pixel(loaded, (20, 20)), RED, 8)
    assert close_to(pixel(loaded, (400, 250)), BLUE, 8)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"max_side": 1000}, "preview smaller than needed"),
        ({"max_side": 300, "use_preview": False}, "previews turned off"),
        ({}, "full size wanted"),
    ],
)
def test_main_image_is_decoded_when_the_preview_will_not_do(
    tmp_path: Path, options: dict[str, object], why: str
) -> None:
    path = camera_jpeg(tmp_path / "camera.jpg", preview_side=600)
    loaded = load_image(path, **options)  # type: ignore[arg-type]
    assert loaded.preview_size is None, why
    assert loaded.original_size == (2400, 1600)
    assert max(loaded.image.size) in (300, 1200, 2400)  # main at 1/8, 1/2, full


def test_preview_takes_the_main_image_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = camera_jpeg(tmp_path / "turned.jpg", preview_side=600, exif=exif)
    loaded = load_image(path, max_side=300)
    assert loaded.preview_size == (600, 900)
    assert loaded.original_size == (1600, 2400)
    assert loaded.image.size == (300, 450)
    assert close_to(pixel(loaded, (280, 20)), RED, 8)  # stored top-left is now top-right
    assert close_to(pixel(loaded, (20, 20)), BLUE, 8)
    main = load_image(path, max_side=300, use_preview=False)
    assert close_to(pixel(main, (180, 10)), RED, 8)
    assert close_to(pixel(main, (10, 10)), BLUE, 8)


def test_preview_stored_already_turned_is_not_turned_again(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = camera_photo().transpose(Image.Transpose.ROTATE_270).resize((600, 900))
    path = camera_jpeg(tmp_path / "turned.jpg", preview=upright, exif=exif)
    loaded = load_image(path, max_side=300)
    assert loaded.preview_size is None  # portrait pixels beside a landscape-stored photo
    assert loaded.image.size == (200, 300)


def test_preview_of_another_shape_is_not_used(tmp_path: Path) -> None:
    """A preview left over from before a crop shows another picture: the main image wins."""
    stale = Image.new("RGB", (800, 600), (0, 255, 0))  # 4:3 against the photo's 3:2
    path = camera_jpeg(tmp_path / "cropped.jpg", preview=stale)
    loaded = load_image(path, max_side=300)
    assert loaded.preview_size is None
    assert close_to(pixel(loaded, (10, 10)), RED, 8)


@pytest.mark.parametrize("damage", ["cut before the preview", "preview cut short", "garbage"])
def test_broken_preview_falls_back_to_the_main_image(tmp_path: Path, damage: str) -> None:
    data = jpeg_with_preview(camera_photo(), preview_side=600)
    main_end = data.index(b"\xff\xd9\xff\xd8") + 2  # the main image's EOI, the preview's SOI
    broken = {
        "cut before the preview": data[:main_end],
        "preview cut short": data[: main_end + (len(data) - main_end) // 2],
        "garbage": data[:main_end] + bytes(range(256)) * ((len(data) - main_end) // 256 + 1),
    }[damage]
    loaded = load_image(camera_jpeg(tmp_path / "broken.jpg", broken), max_side=300)
    assert loaded.preview_size is None
    assert loaded.original_size == (2400, 1600)
    assert close_to(pixel(loaded, (10, 10)), RED, 8)


# --- decompression-bomb limit -----------------------------------------------------------


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims to be ``width`` x ``height``: opens instantly, never decodes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_pixel_limit_per_call(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (100, 100)), tmp_path / "a.png")
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_pixels=5_000)
    message = str(caught.value)
    assert str(path) in message
    assert "10,000 pixels" in message and "5,000" in message
    assert "images.max_pixels" in message
    assert load_image(path, max_pixels=10_000).image.size == (100, 100)
    assert load_image(path, max_pixels=0).image.size == (100, 100)  # 0: no limit


def test_default_limit_refuses_bombs_before_decoding(tmp_path: Path) -> None:
    path = png_header_only(tmp_path / "bomb.png", 20_000, 20_000)
    with pytest.raises(ImageLoadError, match=r"400,000,000 pixels.*89,478,485"):
        load_image(path)
    assert Image.MAX_IMAGE_PIXELS is None  # Pillow's racy global check is ours now


def test_process_default_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(Image.new("RGB", (100, 100)), tmp_path / "a.png")
    monkeypatch.setattr(images, "_default_max_pixels", images.DEFAULT_MAX_PIXELS)
    images.set_max_pixels(100)
    assert images.get_max_pixels() == 100
    with pytest.raises(ImageLoadError, match=r"images\.max_pixels"):
        load_image(path)
    images.set_max_pixels(None)
    assert load_image(path).image.size == (100, 100)


# --- bad files --------------------------------------------------------------------------


def expect_error(path: Path, *fragments: str) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_side=64)
    error = caught.value
    assert error.path == path
    message = str(error)
    assert "\n" not in message and message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    return error


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "junk.jpg"
    path.write_bytes(b"this is not an image\n" * 100)
    expect_error(path, "not a recognised image", "JPEG")


def test_known_magic_with_broken_header_says_which_format(tmp_path: Path) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(3000))
    expect_error(path, "JPEG header is corrupt", "copy the file again")


def test_jpeg_header_then_garbage_is_corrupt(tmp_path: Path) -> None:
    valid = noise_jpeg(tmp_path / "ok.jpg").read_bytes()
    path = tmp_path / "bad.jpg"
    path.write_bytes(valid[:20] + np.random.default_rng(2).bytes(3000))
    expect_error(path, "corrupt")


def test_truncated_jpeg_is_an_error_not_grey(tmp_path: Path) -> None:
    data = noise_jpeg(tmp_path / "ok.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 6 // 10])
    expect_error(path, "image file is truncated", "copy it again")


def test_truncated_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    data = save(img, tmp_path / "ok.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    error = expect_error(path)
    assert "truncated" in error.reason or "corrupt" in error.reason


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    expect_error(path, "empty (0 bytes)")


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "folder.jpg"
    path.mkdir()
    expect_error(path, "is a directory")


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.jpg", "file not found")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    expect_error(path, "not a regular file")
    assert find_images([path]).skipped_non_image == 1


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root (or Windows) ignores chmod 000"
)
def test_permission_denied(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "locked.png")
    path.chmod(0)
    try:
        expect_error(path, "permission denied", "chmod")
    finally:
        path.chmod(0o644)


def test_permission_denied_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "locked.png")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images, "open", refuse, raising=False)  # works as root too
    expect_error(path, "permission denied", "chmod")


def test_heic_without_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import now raises ImportError
    monkeypatch.setattr(images, "_heif_registered", False)
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    error = expect_error(path)
    assert str(error) == f"{path}: HEIC/HEIF needs the optional extra: {install_command('heif')}"


def test_heic_brand_is_sniffed_without_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setattr(images, "_heif_registered", False)
    path = tmp_path / "IMG_0001"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    expect_error(path, install_command("heif"))


def test_raw_without_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)
    path = tmp_path / "DSC_0001.NEF"
    path.write_bytes(b"II*\x00fake raw")
    expect_error(path, f"camera RAW (.NEF) needs the optional extra: {install_command('raw')}")


class FakeRaw:
    """Just enough of ``rawpy.RawPy`` for the loader."""

    calls: list[dict[str, object]] = []  # noqa: RUF012 - shared on purpose, reset per test

    def __init__(self, width: int, height: int, flip: int) -> None:
        self.sizes = types.SimpleNamespace(width=width, height=height, flip=flip)

    def __enter__(self) -> FakeRaw:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def postprocess(self, **options: object) -> np.ndarray:
        FakeRaw.calls.append(options)
        width, height = self.sizes.width, self.sizes.height
        if options.get("half_size"):
            width, height = width // 2, height // 2
        if self.sizes.flip in (5, 6):
            width, height = height, width
        return np.full((height, width, 3), (10, 20, 30), dtype=np.uint8)


def test_raw_with_fake_rawpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("rawpy")
    fake.imread = lambda path: FakeRaw(4000, 3000, 6)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rawpy", fake)
    FakeRaw.calls = []
    path = tmp_path / "IMG_0001.CR2"
    path.write_bytes(b"raw bytes")
    loaded = load_image(path, max_side=1000)
    assert FakeRaw.calls == [{"use_camera_wb": True, "half_size": True, "output_bps": 8}]
    assert loaded.original_size == (3000, 4000)
    assert loaded.image.size == (750, 1000)
    assert pixel(loaded) == (10, 20, 30)
    with pytest.raises(ImageLoadError, match="12,000,000 pixels"):
        load_image(path, max_pixels=1_000_000)


def test_error_is_picklable_and_names_what_to_do() -> None:
    error = ImageLoadError(Path("a.jpg"), "file is empty (0 bytes)", "copy it again")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.path, clone.reason, clone.hint) == (Path("a.jpg"), error.reason, error.hint)
    assert str(clone) == "a.jpg: file is empty (0 bytes); copy it again"


# --- threads ----------------------------------------------------------------------------


def test_parallel_loading_matches_serial(tmp_path: Path) -> None:
    paths = []
    for index in range(8):
        img = Image.new("RGB", (300 + index, 200), (index * 30, 100, 200 - index * 20))
        paths.append(save(img, tmp_path / f"{index}.jpg"))
    paths.append(png_header_only(tmp_path / "bomb.png", 20_000, 20_000))
    paths.append(tmp_path / "missing.jpg")

    def outcome(path: Path) -> object:
        try:
            loaded = load_image(path, max_side=128)
        except ImageLoadError as exc:
            return str(exc)
        return (loaded.image.size, loaded.image.tobytes())

    serial = [outcome(path) for path in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(outcome, paths * 3)) == serial * 3
