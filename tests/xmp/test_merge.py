"""Merging rules on packets, read back with exiftool and exiv2 from a written file."""

from __future__ import annotations

from pathlib import Path

from tests.xmp.conftest import exiftool_read, exiv2_read
from visual_buffet.xmp import KeywordOptions, XmpPacket
from visual_buffet.xmp.merge import apply_run, remove_runs
from visual_buffet.xmp.record import Run, RunTag


def _run(file: str, plugin: str, *tags: RunTag) -> Run:
    return Run(file, plugin, "m", "", "0.1", "2026-12-01T00:00:00Z", list(tags))


def _save(packet: XmpPacket, tmp_path: Path) -> Path:
    path = tmp_path / "p.xmp"
    path.write_bytes(packet.to_bytes())
    return path


def test_one_value_per_spelling_across_plugins(tmp_path: Path) -> None:
    packet = XmpPacket()
    apply_run(packet, _run("a.jpg", "A", RunTag("Dog", 0.9)), KeywordOptions(), created=True)
    apply_run(packet, _run("a.jpg", "B", RunTag("dog", 0.8)), KeywordOptions(), created=True)
    path = _save(packet, tmp_path)
    assert exiftool_read(path)["Subject"] == ["Dog"]
    assert exiv2_read(path)["Xmp.digiKam.TagsList"] == ["Dog"]
    remove_runs(packet, None)  # every run: the value this project added goes
    path = _save(packet, tmp_path)
    assert "Subject" not in exiftool_read(path)


def test_shared_sidecar_keeps_what_the_other_image_still_needs(tmp_path: Path) -> None:
    packet = XmpPacket()
    animal = ("animal",)
    apply_run(
        packet, _run("IMG.CR2", "s", RunTag("dog", 0.9, animal)), KeywordOptions(), created=True
    )
    apply_run(
        packet, _run("IMG.JPG", "s", RunTag("cat", 0.9, animal)), KeywordOptions(), created=False
    )
    assert exiftool_read(_save(packet, tmp_path))["Subject"] == ["animal", "dog", "cat"]
    change = remove_runs(packet, {"IMG.JPG"})
    assert change.matched == 1
    path = _save(packet, tmp_path)
    assert exiftool_read(path)["Subject"] == ["animal", "dog"]  # animal: the RAW's parent too
    assert exiv2_read(path)["Xmp.lr.hierarchicalSubject"] == ["animal|dog"]


def test_an_array_written_as_an_attribute_becomes_a_bag(tmp_path: Path) -> None:
    packet = XmpPacket(
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:subject="mine"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    apply_run(packet, _run("a.jpg", "s", RunTag("dog", 0.9)), KeywordOptions(), created=False)
    path = _save(packet, tmp_path)
    assert exiftool_read(path)["Subject"] == ["mine", "dog"]
    assert exiv2_read(path)["Xmp.dc.subject"] == ["mine", "dog"]


def test_new_fields_use_the_arrays_their_owners_use(tmp_path: Path) -> None:
    """dc:subject and lr:hierarchicalSubject are Bags; digiKam (and exiftool) write a Seq."""
    import pytest

    exiv2 = pytest.importorskip("exiv2", reason="the exiv2 binding (dev extra) is not installed")
    packet = XmpPacket()
    apply_run(
        packet, _run("a.jpg", "s", RunTag("dog", 0.9, ("animal",))), KeywordOptions(), created=True
    )
    image = exiv2.ImageFactory.open(str(_save(packet, tmp_path)))
    image.readMetadata()
    types = {d.key(): d.typeName() for d in image.xmpData()}
    assert types["Xmp.dc.subject"] == "XmpBag"
    assert types["Xmp.lr.hierarchicalSubject"] == "XmpBag"
    assert types["Xmp.digiKam.TagsList"] == "XmpSeq"
