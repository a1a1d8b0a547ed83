"""Benchmark rows for XMP sidecars: how many per second are created, merged and taken back.

No model runs: each image gets a record like the SigLIP plugin's (30 tags with parents
from the built-in vocabulary), so the rows measure the sidecar code and the file system
(a read, an atomic temp-file write with fsync and a rename per sidecar). Three rows:

- ``x1`` new sidecars beside images that have none;
- ``x2`` merging into existing sidecars edited by darktable and Lightroom (the test
  fixture: rating, title, user keywords, a darktable history, develop settings);
- ``x3`` ``xmp remove`` on the sidecars of ``x2`` (the user's own data restored).

Run alone: ``python -m visual_buffet_siglip.bench.xmp_rows --sidecars 2000``; the main
benchmark (``python -m visual_buffet_siglip.bench``) adds the same rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

# The darktable + Lightroom sidecar the tests use; kept in the package for the bench.
EDITED_SIDECAR = "edited.xmp"


@dataclass
class SidecarRow:
    """One row: ``key``, what was measured, the result (same fields as the suite's Row)."""

    key: str
    what: str
    result: str
    target: str = ""
    status: str = ""


def _records(folder: Path, count: int) -> list[dict[str, Any]]:
    from visual_buffet_siglip.vocabulary import builtin_vocabulary

    vocabulary = builtin_vocabulary()
    labels = vocabulary.labels[:1000]
    records = []
    for i in range(count):
        image = folder / f"IMG_{i:06d}.jpg"
        image.write_bytes(b"\xff\xd8\xff\xd9")  # never opened by the sidecar code
        picked = [labels[(i * 7 + k * 31) % len(labels)] for k in range(30)]
        tags = [
            {
                "label": label,
                "confidence": round(0.9 - k * 0.02, 6),
                **(
                    {"parents": list(vocabulary.parents[label])}
                    if label in vocabulary.parents
                    else {}
                ),
            }
            for k, label in enumerate(picked)
        ]
        records.append(
            {
                "file": str(image),
                "plugin": "siglip",
                "tags": tags,
                "model": {"id": "google/siglip-base-patch16-224", "vocabulary_sha256": "0" * 64},
                "settings": {"threshold": 0.02},
                "timings": {},
                "error": None,
            }
        )
    return records


def _edited_sidecar() -> bytes:
    packaged = resources.files("visual_buffet_siglip.bench").joinpath(EDITED_SIDECAR)
    return packaged.read_bytes()


def sidecar_rows(work: Path, count: int = 1000) -> list[SidecarRow]:
    """Measure the three rows on ``count`` images in a fresh folder under ``work``."""
    from visual_buffet.xmp import XmpSettings
    from visual_buffet.xmp.batch import remove_from_images, write_records

    errors: list[str] = []
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="xmp-bench-", dir=work))
    try:
        records = _records(folder, count)
        settings = XmpSettings()

        start = time.perf_counter()
        summary = write_records(records, settings, errors.append)
        new_s = time.perf_counter() - start
        assert summary.created == count and not errors, errors[:3]
        size = sum(f.stat().st_size for f in folder.glob("*.xmp")) / count
        rows.append(
            SidecarRow(
                "x1",
                f"XMP: new sidecars, 30 tags with parents ({count:,} images)",
                f"{count / new_s:,.0f} sidecars/s ({size / 1024:.1f} KB each)",
            )
        )

        edited = _edited_sidecar()
        for record in records:
            Path(record["file"] + ".xmp").write_bytes(edited)
        os.sync()
        start = time.perf_counter()
        summary = write_records(records, settings, errors.append)
        merge_s = time.perf_counter() - start
        assert summary.written == count and not errors, errors[:3]
        rows.append(
            SidecarRow(
                "x2",
                "XMP: merge into existing darktable + Lightroom sidecars",
                f"{count / merge_s:,.0f} sidecars/s",
            )
        )

        images = [Path(record["file"]) for record in records]
        start = time.perf_counter()
        summary = remove_from_images(images, "image", errors.append)
        remove_s = time.perf_counter() - start
        assert summary.written == count and not errors, errors[:3]
        rows.append(
            SidecarRow(
                "x3",
                "XMP: `xmp remove` from those sidecars (user data restored)",
                f"{count / remove_s:,.0f} sidecars/s",
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m visual_buffet_siglip.bench.xmp_rows",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--sidecars", type=int, default=1000, help="images (default 1000)")
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the files (default: a temp folder)"
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.gettempdir())
    work.mkdir(parents=True, exist_ok=True)
    print("| # | measurement | result |\n|---|---|---|")
    for row in sidecar_rows(work, args.sidecars):
        print(f"| {row.key} | {row.what} | {row.result} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
