"""Finding photos: expand command-line paths (files and folders) into image files to tag."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from visual_buffet.images import IMAGE_SUFFIXES


@dataclass
class ImageScan:
    """What :func:`find_images` found.

    Attributes:
        files: Images to load, in a deterministic order (arguments in the order given,
            the files found in each directory sorted by path), each real file once.
        skipped_hidden: Dot-prefixed files and folders left out of directory walks.
        skipped_non_image: Files in walked directories without an image suffix, and
            arguments that are neither files nor directories (FIFOs, devices).
        missing: Command-line paths that do not exist.
        skipped_subdirs: Sub-folders not entered because the walk was not recursive.
        unreadable: Folders that could not be listed and links that lead nowhere.
    """

    files: list[Path] = field(default_factory=list)
    skipped_hidden: int = 0
    skipped_non_image: int = 0
    missing: list[Path] = field(default_factory=list)
    skipped_subdirs: int = 0
    unreadable: list[Path] = field(default_factory=list)


def is_image_path(path: Path) -> bool:
    """Whether a directory walk would pick up ``path``, judging by its suffix."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def find_images(
    paths: Sequence[Path], *, recursive: bool = False, include_hidden: bool = False
) -> ImageScan:
    """Expand command-line ``paths`` into image files.

    Files are taken as given, whatever their suffix (a JPEG may lack one). Directories are
    walked, top level only unless ``recursive``; there only files with a suffix in
    :data:`IMAGE_SUFFIXES` count, and dot-prefixed entries are skipped unless
    ``include_hidden``. Symlinks are followed; each real directory is walked once, so link
    cycles end, and each real file is listed once, under the first path (in output order)
    that reaches it.
    """
    scan = ImageScan()
    seen_files: set[tuple[int, int] | str] = set()
    seen_dirs: set[str] = set()
    for given in paths:
        given = Path(given)
        try:
            info = given.stat()
        except (FileNotFoundError, NotADirectoryError):
            scan.missing.append(given)
            continue
        except OSError:
            scan.unreadable.append(given)
            continue
        if stat.S_ISDIR(info.st_mode):
            found = _walk(given, scan, seen_dirs, recursive=recursive, hidden=include_hidden)
            for path, file_info in sorted(found, key=lambda pair: pair[0].parts):
                _add_file(scan, seen_files, path, file_info)
        elif stat.S_ISREG(info.st_mode):
            _add_file(scan, seen_files, given, info)
        else:
            scan.skipped_non_image += 1
    return scan


def _add_file(
    scan: ImageScan, seen: set[tuple[int, int] | str], path: Path, info: os.stat_result
) -> None:
    # (device, inode) also catches hard links and case-insensitive spellings; where the
    # platform gives no inode, the resolved path stands in.
    key: tuple[int, int] | str = (
        (info.st_dev, info.st_ino) if info.st_ino else os.path.realpath(path)
    )
    if key not in seen:
        seen.add(key)
        scan.files.append(path)


def _walk(
    root: Path, scan: ImageScan, seen_dirs: set[str], *, recursive: bool, hidden: bool
) -> list[tuple[Path, os.stat_result]]:
    """Image files under ``root``, with their stat results (unsorted, not deduplicated)."""
    found: list[tuple[Path, os.stat_result]] = []
    pending = [root]
    while pending:
        directory = pending.pop()
        real = os.path.realpath(directory)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            scan.unreadable.append(directory)
            continue
        subdirs: list[Path] = []
        for entry in entries:
            if not hidden and entry.name.startswith("."):
                scan.skipped_hidden += 1
                continue
            path = Path(entry.path)
            try:
                info = os.stat(path)  # follows links; os.stat fills st_ino on Windows too
            except OSError:
                scan.unreadable.append(path)  # a dangling link or a vanished file
                continue
            if stat.S_ISDIR(info.st_mode):
                if recursive:
                    subdirs.append(path)
                else:
                    scan.skipped_subdirs += 1
            elif stat.S_ISREG(info.st_mode) and is_image_path(path):
                found.append((path, info))
            else:
                scan.skipped_non_image += 1
        pending.extend(reversed(subdirs))  # walk in sorted order: which link wins is stable
    return found
