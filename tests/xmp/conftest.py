"""Two independent XMP readers for the sidecar tests: exiftool (Perl) and exiv2 (C++).

Every sidecar a test checks is read back with both, never with this project's own parser.
CI installs them (.ci/run: libimage-exiftool-perl, exiv2; the `exiv2` Python binding is in
the dev extra).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITED = REPO / "src" / "visual_buffet_siglip" / "bench" / "edited.xmp"
"""A darktable + Lightroom sidecar: rating, label, title, user keywords, history, crs, acme
(shared with the benchmark's XMP rows)."""

KEYWORD_TAGS = ("Subject", "HierarchicalSubject", "TagsList")


def exiftool_read(path: Path) -> dict[str, Any]:
    """``exiftool -j -a -struct -XMP:all``: every XMP property, structures kept."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (Debian: libimage-exiftool-perl; .ci/run has it)")
    done = subprocess.run(
        ["exiftool", "-j", "-a", "-struct", "-XMP:all", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)[0]
    data.pop("SourceFile")
    for key in KEYWORD_TAGS:  # exiftool prints a one-item list as a plain value
        if key in data and not isinstance(data[key], list):
            data[key] = [data[key]]
    return data


def exiv2_read(path: Path) -> dict[str, Any]:
    """Every XMP datum by key (``Xmp.dc.subject``), read with the exiv2 library."""
    exiv2 = pytest.importorskip("exiv2", reason="the exiv2 binding (dev extra) is not installed")
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    out: dict[str, Any] = {}
    for datum in image.xmpData():
        if datum.typeName() in ("XmpBag", "XmpSeq"):
            out[datum.key()] = [datum.toString(i) for i in range(datum.count())]
        else:
            out[datum.key()] = datum.toString()
    return out


def without_ours(data: dict[str, Any]) -> dict[str, Any]:
    """A reading without keyword fields and this project's namespace (exiftool or exiv2)."""
    drop = {"Xmp.dc.subject", "Xmp.lr.hierarchicalSubject", "Xmp.digiKam.TagsList", *KEYWORD_TAGS}
    ours = ("Xmp.vbuffet.", "CreatedSidecar", "Added", "Runs")
    return {k: v for k, v in data.items() if k not in drop and not k.startswith(ours)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
