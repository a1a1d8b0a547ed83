"""The benchmark's inputs, built locally: photo JPEGs, label lists, checkpoints."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PHOTO_24MP = (6000, 4000)
PHOTO_12MP = (4032, 3024)
SIZE_NAMES = {
    "tiny": "tiny (test dims)",
    "base": "base-patch16-224 dims",
    "so400m": "so400m-patch14-384 dims",
}


def synthetic_photo(size: tuple[int, int], seed: int) -> Any:
    """A photo-like RGB image: smooth colour field, shapes, texture and sensor grain.

    Flat or random-noise images would decode unrealistically fast or slow; this one compresses
    to roughly what a camera writes at quality 90 (about 6.5 MB at 24 MP).
    """
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    width, height = size
    base = Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(base)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(width // 40, width // 4))
        y1 = y0 + int(rng.integers(height // 40, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.integers(0, 2) else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    texture = Image.fromarray(rng.integers(0, 256, (height // 16, width // 16), dtype=np.uint8))
    mid = np.asarray(texture.resize(size, Image.Resampling.BILINEAR), dtype=np.int16) // 5 - 25
    tile = rng.normal(0, 6, (512, 512, 1)).astype(np.int16)
    grain = np.tile(tile, (height // 512 + 1, width // 512 + 1, 3))[:height, :width]
    pixels = np.asarray(base, dtype=np.int16) + mid[..., None] + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_photo(path: Path, size: tuple[int, int], seed: int, *, preview: bool) -> Path:
    """Write a synthetic photo JPEG (quality 90, EXIF make/model/orientation) once.

    ``preview``: as a camera writes it, with a 1080-px embedded preview (MPF Large
    Thumbnail, :mod:`visual_buffet.previews`); without: as an editor exports it.
    """
    from PIL import Image

    from visual_buffet.previews import jpeg_with_preview

    if not path.is_file():
        exif = Image.Exif()
        exif[0x010F] = "Visual Buffet"  # Make
        exif[0x0110] = f"synthetic {size[0]}x{size[1]}"  # Model
        exif[0x0112] = 1  # Orientation
        photo = synthetic_photo(size, seed)
        partial = path.with_suffix(".part")
        if preview:
            partial.write_bytes(jpeg_with_preview(photo, quality=90, exif=exif))
        else:
            photo.save(partial, "JPEG", quality=90, exif=exif)
        partial.replace(path)
    return path


def photo_copies(folder: Path, sources: Sequence[Path], count: int) -> list[Path]:
    """``count`` files cycling through ``sources``: copies, as the CLI tags each real file once."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"photo-{i:04d}-{source.stem}.jpg"
        if not target.is_file():
            shutil.copyfile(source, target)
        files.append(target)
    return files


def benchmark_labels(count: int) -> tuple[list[str], str]:
    """The first ``count`` labels of vocab/photo-tags.txt, or synthesized ones if it is shorter."""
    from visual_buffet.plugin_api import PluginError
    from visual_buffet_siglip.synthetic import VOCABULARY_WORDS
    from visual_buffet_siglip.vocabulary import (
        builtin_vocabulary_path,
        prepare_labels,
        read_vocabulary_file,
    )

    try:
        builtin = read_vocabulary_file(builtin_vocabulary_path())
    except PluginError:
        builtin = []
    if len(builtin) >= count:
        return builtin[:count], "vocab/photo-tags.txt"
    words = list(VOCABULARY_WORDS)
    pairs = [f"{a} {b}" for a in words for b in words if a != b]
    random.Random(0).shuffle(pairs)
    return prepare_labels([*words, *pairs])[:count], "synthesized (vocab/photo-tags.txt is shorter)"


def checkpoint(work: Path, size: str) -> Path:
    """A random-weight SigLIP v1 checkpoint of ``size``, built once per work folder."""
    from visual_buffet_siglip.synthetic import build_checkpoint

    folder = work / f"checkpoint-{size}"
    if not (folder / ".complete").is_file():
        build_checkpoint(folder, "v1", size, seed=0)  # type: ignore[arg-type]
        (folder / ".complete").write_text("ok\n")
    return folder


def input_side(folder: Path) -> int:
    return int(json.loads((folder / "config.json").read_text())["vision_config"]["image_size"])
