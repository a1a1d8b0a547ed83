"""Sidecars through the real CLI, read back with exiftool and exiv2.

The probe test plugin tags every image ``probe``, ``light`` and ``dark``; ``probe`` is also
a keyword of the edited fixture sidecar, so the "user already had it" path is exercised.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.xmp.conftest import EDITED, exiftool_read, exiv2_read, sha256, without_ours

PROBE_TAGS = ["probe", "light", "dark"]


@pytest.fixture
def tag_jsonl(cli: Callable, test_plugins: object, tmp_path: Path) -> Callable[..., list[dict]]:
    """Tag paths with the probe plugin into a JSONL file; returns its records."""

    def run(*paths: Path, extra: tuple[str, ...] = ()) -> list[dict]:
        out = tmp_path / "tags.jsonl"
        result = cli("tag", *paths, "--plugin", "probe", "-f", "jsonl", "-o", out, *extra)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    return run


def _write(cli: Callable, tmp_path: Path, *args: object) -> str:
    result = cli("xmp", "write", *args, "--from", tmp_path / "tags.jsonl")
    assert result.exit_code == 0, result.output
    return result.output


def test_new_sidecars_read_back_with_exiftool_and_exiv2(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    names = ["IMG 0001.JPG", "Ærø strand.png", "plain.jpeg"]
    images = [make_image(name) for name in names]
    before = {p: sha256(p) for p in images}
    records = tag_jsonl(tmp_path / "images")
    assert [Path(r["file"]).name for r in records] == sorted(names)

    output = _write(cli, tmp_path, tmp_path / "images")
    assert "3 sidecar(s) written, 3 new" in output
    for record in records:
        image = Path(record["file"])
        sidecar = image.with_name(image.name + ".xmp")
        labels = [t["label"] for t in record["tags"]]
        assert labels == PROBE_TAGS
        tool = exiftool_read(sidecar)
        assert tool["Subject"] == labels
        assert tool["HierarchicalSubject"] == labels
        assert tool["TagsList"] == labels
        lib = exiv2_read(sidecar)
        assert lib["Xmp.dc.subject"] == labels
        assert lib["Xmp.lr.hierarchicalSubject"] == labels
        assert lib["Xmp.digiKam.TagsList"] == labels
        # this project's record: per tag the confidence, per run plugin, date, threshold
        assert lib["Xmp.vbuffet.runs[1]/vbuffet:plugin"] == "probe"
        assert lib["Xmp.vbuffet.runs[1]/vbuffet:threshold"] == "0.0"
        confidence = float(lib["Xmp.vbuffet.runs[1]/vbuffet:tags[2]/vbuffet:confidence"])
        assert confidence == pytest.approx(record["tags"][1]["confidence"], abs=1e-4)
        assert tool["Runs"][0]["File"] == image.name
    assert {p: sha256(p) for p in images} == before
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted(
        names + [n + ".xmp" for n in names]
    )


def test_existing_lightroom_sidecar_keeps_everything_and_undo_restores_it(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    image = make_image("IMG_0001.jpg")
    sidecar = image.with_name("IMG_0001.xmp")  # Lightroom's name, made by another app
    shutil.copyfile(EDITED, sidecar)
    original_tool, original_lib = exiftool_read(sidecar), exiv2_read(sidecar)
    image_hash = sha256(image)
    tag_jsonl(image)

    for _ in range(2):  # a second run changes nothing
        _write(cli, tmp_path, image)
        assert not image.with_name("IMG_0001.jpg.xmp").exists()
        tool, lib = exiftool_read(sidecar), exiv2_read(sidecar)
        assert without_ours(tool) == without_ours(original_tool)
        assert without_ours(lib) == without_ours(original_lib)
        # the user's "probe" is not added twice; ours follow the user's keywords
        assert tool["Subject"] == ["holiday", "probe", "Ærø", "light", "dark"]
        assert lib["Xmp.dc.subject"] == ["holiday", "probe", "Ærø", "light", "dark"]
        assert tool["HierarchicalSubject"] == ["places|Denmark|Ærø", *PROBE_TAGS]
        assert tool["TagsList"] == PROBE_TAGS
        assert tool["History"][1]["Multi_name"] == "<main>"
        assert tool["ToneCurvePV2012"] == ["0, 0", "128, 140", "255, 255"]
        assert tool["Runs"][0]["Tags"][0] == {
            "Label": "probe",
            "Confidence": 1.0,
            "UserKeyword": True,
        }
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('<?xpacket begin="\ufeff"') and '<?xpacket end="w"?>' in text
    assert "<!-- written by darktable" in text

    result = cli("xmp", "remove", image)
    assert result.exit_code == 0, result.output
    assert exiftool_read(sidecar) == original_tool
    assert exiv2_read(sidecar) == original_lib
    assert "vbuffet" not in sidecar.read_text(encoding="utf-8")
    assert sha256(image) == image_hash


def test_remove_deletes_a_sidecar_it_created_unless_the_user_added_to_it(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    first, second = make_image("a.jpg"), make_image("b.jpg")
    tag_jsonl(first, second)
    _write(cli, tmp_path)
    # The user rates b.jpg in another application: exiftool rewrites the whole sidecar.
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    b_xmp = second.with_name("b.jpg.xmp")
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-XMP-xmp:Rating=2", str(b_xmp)], check=True
    )
    assert exiftool_read(b_xmp)["Subject"] == PROBE_TAGS

    result = cli("xmp", "remove", first.parent)
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output
    assert not first.with_name("a.jpg.xmp").exists()
    left = exiftool_read(b_xmp)
    assert left.get("Rating") == 2
    assert "Subject" not in left and "TagsList" not in left and "Runs" not in left
    assert not any(key.startswith("Xmp.vbuffet") for key in exiv2_read(b_xmp))


def test_stem_naming_and_raw_jpeg_pair_share_one_sidecar(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    folder = tmp_path / "images"
    jpeg = make_image("IMG_0002.JPG")
    raw = folder / "IMG_0002.CR2"  # the probe plugin never opens it: records are written by hand
    raw.write_bytes(b"II*\x00 not a real raw")
    lone = make_image("lone.png")
    records = tag_jsonl(jpeg, lone)
    raw_record = {**records[0], "file": str(raw), "tags": [{"label": "raw", "confidence": 0.5}]}
    with (tmp_path / "tags.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(raw_record) + "\n")

    result = cli("xmp", "write", "--from", tmp_path / "tags.jsonl", "--set", "naming=stem")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_0002.xmp", "lone.xmp"]
    tool = exiftool_read(folder / "IMG_0002.xmp")
    assert tool["Subject"] == [*PROBE_TAGS, "raw"]
    # removing the JPEG's tags keeps the RAW's
    result = cli("xmp", "remove", jpeg)
    assert result.exit_code == 0, result.output
    assert exiftool_read(folder / "IMG_0002.xmp")["Subject"] == ["raw"]


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` refuse new files, also for root, where chmod does not stop writes.

    Not root: chmod 555. Root: ``chattr +i`` (ext2/3/4, XFS, btrfs), else a read-only bind
    mount of the folder onto itself (needs CAP_SYS_ADMIN), else the test is skipped.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    tried = []
    if shutil.which("chattr"):
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if done.returncode == 0:
            try:
                yield
            finally:
                subprocess.run(["chattr", "-i", str(folder)], check=True)
            return
        tried.append(f"chattr +i: {done.stderr.strip()}")
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode == 0:
        ro = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True
        )
        if ro.returncode == 0:
            try:
                yield
            finally:
                subprocess.run(["umount", str(folder)], check=True)
            return
        subprocess.run(["umount", str(folder)], check=False)
        tried.append(f"read-only bind mount: {ro.stderr.strip()}")
    else:
        tried.append(f"bind mount: {bind.stderr.decode(errors='replace').strip()}")
    pytest.skip(f"running as root with no way to make a folder read-only ({'; '.join(tried)})")


def test_read_only_folder_errors_per_image_and_the_run_goes_on(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    locked = [make_image(n, folder=tmp_path / "locked") for n in ("x.jpg", "y.jpg")]
    fine = make_image("z.jpg", folder=tmp_path / "open")
    tag_jsonl(*locked, fine)
    with _read_only(tmp_path / "locked"):
        result = cli("xmp", "write", "--from", tmp_path / "tags.jsonl")
    assert result.exit_code == 1
    for image in locked:
        assert f"{image}.xmp: cannot write the sidecar" in " ".join(result.output.split())
        assert not Path(f"{image}.xmp").exists()
    assert "1 sidecar(s) written, 1 new, 2 failed." in result.output
    assert exiftool_read(Path(f"{fine}.xmp"))["Subject"] == PROBE_TAGS


def test_a_broken_sidecar_is_left_as_it_is(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    image = make_image("a.jpg")
    broken = image.with_name("a.jpg.xmp")
    broken.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF")
    tag_jsonl(image)
    result = cli("xmp", "write", "--from", tmp_path / "tags.jsonl")
    assert result.exit_code == 1
    assert "is not an XMP sidecar that can be updated safely" in result.output
    assert broken.read_bytes() == b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF"


def test_usage_errors_exit_2(cli: Callable, tmp_path: Path) -> None:
    result = cli("xmp", "write", "--from", tmp_path / "missing.jsonl")
    assert result.exit_code == 2 and "cannot read results file" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    result = cli("xmp", "write", "--from", bad)
    assert result.exit_code == 2 and "line 1: not JSON" in result.output
    result = cli("xmp", "write", "--from", bad, "--set", "naming=raw")
    assert result.exit_code == 2 and "naming" in result.output
    result = cli("xmp", "remove")
    assert result.exit_code == 2 and "give the images or folders" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("xmp", "remove", tmp_path / "empty")
    assert result.exit_code == 2 and "no images found" in result.output
    result = cli("xmp", "remove", tmp_path / "missing.jpg")  # counted as failed, as `tag` does
    assert result.exit_code == 1 and "no such file or folder" in result.output


def test_tag_xmp_writes_sidecars_and_a_second_run_adds_nothing(
    cli: Callable, test_plugins: object, make_image: Callable, config_file: Path
) -> None:
    image = make_image("IMG_0003.TIFF")
    image_hash = sha256(image)
    sidecar = image.with_name("IMG_0003.TIFF.xmp")
    for _ in range(2):
        result = cli("tag", image, "--plugin", "probe", "--xmp")
        assert result.exit_code == 0, result.output
        assert "1 XMP sidecar(s) written." in result.output
        assert exiftool_read(sidecar)["Subject"] == PROBE_TAGS
        assert exiv2_read(sidecar)["Xmp.lr.hierarchicalSubject"] == PROBE_TAGS
    assert sha256(image) == image_hash

    # the config switch, with Lightroom naming and no digiKam field; --no-xmp wins over it
    other = make_image("other.png")
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        '[images.xmp]\nwrite = true\nnaming = "stem"\ndigikam = false\n', encoding="utf-8"
    )
    result = cli("tag", other, "--plugin", "probe", "--no-xmp")
    assert result.exit_code == 0 and not list(other.parent.glob("other*.xmp"))
    result = cli("tag", other, "--plugin", "probe")
    assert result.exit_code == 0, result.output
    read = exiftool_read(other.with_name("other.xmp"))
    assert read["Subject"] == PROBE_TAGS and "TagsList" not in read


def test_xmp_write_from_the_library_store_runs_no_model(
    cli: Callable, test_plugins: object, make_image: Callable, probe_log: Callable
) -> None:
    first, second = make_image("a.jpg"), make_image("b b.png")
    result = cli("tag", first, second, "--plugin", "probe", "-f", "jsonl")
    assert result.exit_code == 0, result.output
    calls = len(probe_log())
    other = make_image("not-tagged.jpg", folder=first.parent.parent / "elsewhere")

    result = cli("xmp", "write", first)  # one image of the store
    assert result.exit_code == 0, result.output
    assert exiftool_read(Path(f"{first}.xmp"))["Subject"] == PROBE_TAGS
    assert not Path(f"{second}.xmp").exists()

    result = cli("xmp", "write")  # every stored image
    assert result.exit_code == 0, result.output
    assert "2 sidecar(s) written, 1 new." in result.output  # a.jpg's was updated
    assert exiv2_read(Path(f"{second}.xmp"))["Xmp.dc.subject"] == PROBE_TAGS
    assert exiv2_read(Path(f"{first}.xmp"))["Xmp.dc.subject"] == PROBE_TAGS
    assert len(probe_log()) == calls  # the plugin never ran again

    result = cli("xmp", "write", other)
    assert result.exit_code == 2
    assert "not in the library store" in " ".join(result.output.split())


def test_a_user_keyword_in_other_case_is_not_doubled_and_permissions_stay(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    image = make_image("c.jpg")
    sidecar = image.with_name("c.jpg.xmp")
    text = EDITED.read_text(encoding="utf-8").replace(
        "<rdf:li>probe</rdf:li>", "<rdf:li>LIGHT</rdf:li>"
    )
    sidecar.write_text(text, encoding="utf-8")
    sidecar.chmod(0o640)
    tag_jsonl(image)
    _write(cli, tmp_path)
    assert exiftool_read(sidecar)["Subject"] == ["holiday", "LIGHT", "Ærø", "probe", "dark"]
    assert sidecar.stat().st_mode & 0o777 == 0o640
    assert cli("xmp", "remove", image).exit_code == 0
    assert exiftool_read(sidecar)["Subject"] == ["holiday", "LIGHT", "Ærø"]
    assert sidecar.stat().st_mode & 0o777 == 0o640


def test_a_sidecar_rewritten_by_exiv2_is_still_undone_exactly(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    """darktable writes through exiv2, which rewrites our record in RDF's short forms."""
    if shutil.which("exiv2") is None:
        pytest.skip("the exiv2 program is not installed (Debian: exiv2; .ci/run has it)")
    image = make_image("d.jpg")
    tag_jsonl(image)
    _write(cli, tmp_path)
    sidecar = Path(f"{image}.xmp")
    subprocess.run(["exiv2", "-M", "set Xmp.xmp.Rating 4", str(sidecar)], check=True)
    text = sidecar.read_text(encoding="utf-8")
    assert 'x:xmptk="XMP Core' in text and "<rdf:Description\n" in text  # exiv2's own layout
    _write(cli, tmp_path)  # a second run on the rewritten file adds nothing
    assert exiv2_read(sidecar)["Xmp.dc.subject"] == PROBE_TAGS
    assert cli("xmp", "remove", image).exit_code == 0
    assert exiv2_read(sidecar) == {"Xmp.xmp.Rating": "4"}


def test_a_keyword_the_user_deleted_is_not_added_again(
    cli: Callable, tag_jsonl: Callable, make_image: Callable, tmp_path: Path
) -> None:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    image = make_image("e.jpg")
    tag_jsonl(image)
    _write(cli, tmp_path)
    sidecar = Path(f"{image}.xmp")
    # The user removes "light" in another application (here exiftool, which rewrites the file).
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject-=light", str(sidecar)],
        check=True,
    )
    _write(cli, tmp_path)
    read = exiftool_read(sidecar)
    assert read["Subject"] == ["probe", "dark"]
    assert read["Deleted"] == {"Subject": ["light"]}  # recorded, so later runs respect it
    assert cli("xmp", "remove", image).exit_code == 0
    assert not sidecar.exists()  # nothing of the user's was left: the file we made is gone


def test_tag_xmp_in_a_read_only_folder_tags_everything_and_names_each_sidecar(
    cli: Callable, test_plugins: object, make_image: Callable, tmp_path: Path
) -> None:
    locked = make_image("x.jpg", folder=tmp_path / "locked")
    fine = make_image("z.jpg", folder=tmp_path / "open")
    out = tmp_path / "out.jsonl"
    with _read_only(tmp_path / "locked"):
        result = cli("tag", locked, fine, "--plugin", "probe", "--xmp", "-o", out)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"{locked}.xmp: cannot write the sidecar" in text
    assert "1 XMP sidecar(s) written, 1 could not be written." in text
    assert [json.loads(line)["error"] for line in out.read_text().splitlines()] == [None, None]
    assert exiftool_read(Path(f"{fine}.xmp"))["Subject"] == PROBE_TAGS
