"""The benchmark's XMP rows run (no timing asserted: that goes to docs/performance.md)."""

from __future__ import annotations

from pathlib import Path

from tests.xmp.conftest import exiftool_read
from visual_buffet_siglip.bench import xmp_rows


def test_sidecar_rows_measure_new_merged_and_removed(tmp_path: Path) -> None:
    rows = xmp_rows.sidecar_rows(tmp_path, 5)
    assert [row.key for row in rows] == ["x1", "x2", "x3"]
    assert all(row.result.endswith(("sidecars/s", "KB each)")) for row in rows)
    assert list(tmp_path.iterdir()) == []  # its folder is removed


def test_bench_records_look_like_siglip_records(tmp_path: Path) -> None:
    records = xmp_rows._records(tmp_path, 2)
    assert len(records[0]["tags"]) == 30
    assert any(tag.get("parents") for tag in records[0]["tags"])
    from visual_buffet.xmp import XmpSettings
    from visual_buffet.xmp.batch import write_records

    summary = write_records(records, XmpSettings(), print)
    assert summary.created == 2
    subject = exiftool_read(Path(records[0]["file"] + ".xmp"))["Subject"]
    assert {tag["label"] for tag in records[0]["tags"]} <= set(subject)
