"""Output of real runs: JSON document and JSONL records valid against the published schema,
atomic JSON files, JSONL that keeps finished lines, the table."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from visual_buffet.output import SCHEMA_VERSION, result_schema

SCHEMA = result_schema()
DOCUMENT = {"$ref": "#/$defs/document", "$defs": SCHEMA["$defs"]}
RECORD = {"$ref": "#/$defs/record", "$defs": SCHEMA["$defs"]}


def validate(instance: object, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema).validate(instance)


def test_the_schema_is_valid_and_shipped_in_the_package() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    repo_copy = Path(__file__).parents[1] / "src/visual_buffet/schemas/result.schema.json"
    assert json.loads(repo_copy.read_text(encoding="utf-8")) == SCHEMA
    assert SCHEMA["$defs"]["document"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.fixture
def images(make_image, corrupt_image, tmp_path: Path) -> list[Path]:
    """Two good images, a corrupt one and a missing one, in that order."""
    return [
        make_image("white.png", (255, 255, 255), size=(80, 60)),
        make_image("split.png", (0, 0, 255), halves=(255, 255, 255)),
        corrupt_image,
        tmp_path / "missing.jpg",
    ]


def test_json_document_of_a_real_run_is_valid(cli, test_plugins, images, tmp_path) -> None:
    out = tmp_path / "tags.json"
    result = cli(
        "tag",
        *images,
        "-p",
        "probe",
        "-p",
        "colors",
        "-f",
        "json",
        "-o",
        out,
        "--set",
        "probe.mode=views",
    )
    assert result.exit_code == 1
    assert result.stdout == ""  # -o: nothing on stdout
    document = json.loads(out.read_text(encoding="utf-8"))
    validate(document, DOCUMENT)
    validate(document, SCHEMA)  # the top-level oneOf accepts it too
    assert document["generator"].startswith("visual-buffet ")
    assert document["summary"] == {
        "images": 4,
        "tagged": 4,
        "failed": 4,
        "tags_from": {"model": 4, "store": 0, "embeddings": 0},
        "skipped_hidden": 0,
        "skipped_non_image": 0,
        "elapsed_s": document["summary"]["elapsed_s"],
    }
    by_plugin = [(r["plugin"], Path(r["file"]).name) for r in document["results"]]
    # Plugins in turn; missing paths first, then the files in the order given.
    assert by_plugin == [
        ("probe", "missing.jpg"), ("probe", "white.png"), ("probe", "split.png"),
        ("probe", "corrupt.jpg"),
        ("colors", "missing.jpg"), ("colors", "white.png"), ("colors", "split.png"),
        ("colors", "corrupt.jpg"),
    ]  # fmt: skip
    white = document["results"][1]
    assert white["image"] == {"width": 80, "height": 60}
    assert white["model"] == {"id": "probe"}
    assert set(white["timings"]) == {"decode_ms", "prepare_ms", "model_ms"}
    assert white["settings"]["mode"] == "views"
    probe_tag = white["tags"][0]
    assert probe_tag == {
        "label": "probe",
        "confidence": 1.0,
        "found_in": {"pass": "probe", "resolution": 80, "view": "whole", "box": [0, 0, 80, 60]},
    }
    assert white["tags"][1]["found_in"]["view"] == "window"
    assert "found_in" not in white["tags"][2]


def test_jsonl_records_of_a_real_run_are_valid(cli, test_plugins, images, tmp_path) -> None:
    out = tmp_path / "tags.jsonl"
    result = cli("tag", *images, "-p", "colors", "-f", "jsonl", "-o", out)
    assert result.exit_code == 1
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    for line in lines:
        record = json.loads(line)
        validate(record, RECORD)
        validate(record, SCHEMA)
    records = [json.loads(line) for line in lines]
    assert [r["error"]["type"] if r["error"] else None for r in records] == [
        "FileNotFoundError",
        None,
        None,
        "ImageLoadError",
    ]
    split = records[2]
    assert {t["label"]: t["confidence"] for t in split["tags"]} == {
        "blue": 0.5, "white": 0.5, "dark": 0.5, "bright": 0.5
    }  # fmt: skip


def test_jsonl_to_stdout_is_one_line_per_image(cli, test_plugins, images) -> None:
    result = cli("tag", *images[:2], "-p", "probe", "-f", "jsonl")
    assert result.exit_code == 0
    for line in result.stdout.splitlines():
        validate(json.loads(line), RECORD)


def test_a_document_fails_the_schema_when_a_field_is_wrong(cli, test_plugins, images) -> None:
    document = json.loads(cli("tag", images[0], "-p", "probe", "-f", "json").stdout)
    validate(document, DOCUMENT)
    document["results"][0]["tags"][0]["confidence"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validate(document, DOCUMENT)
    del document["summary"]
    with pytest.raises(jsonschema.ValidationError):
        validate(document, DOCUMENT)


# --- atomicity ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_an_interrupted_json_or_table_run_keeps_the_finished_images(
    cli, test_plugins, make_image, tmp_path: Path, fmt: str
) -> None:
    images = [make_image(f"{i}.png") for i in range(6)]
    out = tmp_path / "out" / f"tags.{'json' if fmt == 'json' else 'txt'}"
    out.parent.mkdir()
    out.write_text('{"old": true}\n', encoding="utf-8")
    result = cli(
        "tag", *images, "-p", "probe", "-f", fmt, "-o", out, "--overwrite",
        "--set", "interrupt_after=2", "--set", "batch=1",
    )  # fmt: skip
    assert result.exit_code == 130
    assert f"interrupted: the 2 results finished before it are written to {out}." in (
        " ".join(result.stderr.split())
    )
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        document = json.loads(text)
        validate(document, DOCUMENT)
        assert [Path(r["file"]).name for r in document["results"]] == ["0.png", "1.png"]
        assert document["summary"]["interrupted"] is True
        assert document["summary"]["tagged"] == 2
    else:
        assert "0.png" in text and "1.png" in text and "2.png" not in text


def test_an_interrupt_before_any_image_leaves_the_old_file(
    cli, test_plugins, make_image, tmp_path: Path
) -> None:
    images = [make_image("a.png"), make_image("b.png")]
    out = tmp_path / "tags.json"
    out.write_text("old", encoding="utf-8")
    # One batch of two: the interrupt comes before the first image's result is out.
    result = cli(
        "tag", *images, "-p", "probe", "-o", out, "--overwrite",
        "--set", "interrupt_after=1", "--set", "batch=2",
    )  # fmt: skip
    assert result.exit_code == 130
    assert f"interrupted: nothing was finished; {out} is left as it was." in (
        " ".join(result.stderr.split())
    )
    assert out.read_text(encoding="utf-8") == "old"


def test_a_json_write_that_fails_leaves_no_half_file(
    cli, test_plugins, make_image, tmp_path: Path, monkeypatch
) -> None:
    from visual_buffet import atomic

    images = [make_image(f"{i}.png") for i in range(3)]
    out = tmp_path / "out" / "tags.json"
    out.parent.mkdir()
    out.write_text("old", encoding="utf-8")

    def full_disk(fd: int) -> None:  # the whole document is in the temp file by now
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    result = cli("tag", *images, "-p", "probe", "-f", "json", "-o", out, "--overwrite")
    assert result.exit_code == 1
    assert f"error: cannot write {out}: No space left on device. Free some space" in (
        " ".join(result.stderr.split())
    )
    assert "Traceback" not in result.output
    assert out.read_text(encoding="utf-8") == "old"
    assert list(out.parent.iterdir()) == [out]


def test_a_successful_json_run_replaces_the_file(cli, test_plugins, make_image, tmp_path) -> None:
    out = tmp_path / "out" / "tags.json"
    out.parent.mkdir()
    out.write_text("old", encoding="utf-8")
    args = ("tag", make_image("a.png"), "-p", "probe", "-f", "json", "-o", out, "--overwrite")
    assert cli(*args).exit_code == 0
    validate(json.loads(out.read_text(encoding="utf-8")), DOCUMENT)
    assert list(out.parent.iterdir()) == [out]


def test_an_interrupted_jsonl_run_keeps_the_finished_lines(
    cli, test_plugins, make_image, tmp_path: Path
) -> None:
    images = [make_image(f"{i}.png") for i in range(6)]
    out = tmp_path / "tags.jsonl"
    result = cli(
        "tag",
        *images,
        "-p",
        "probe",
        "-f",
        "jsonl",
        "-o",
        out,
        "--set",
        "interrupt_after=2",
        "--set",
        "batch=1",
    )
    assert result.exit_code == 130
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [Path(json.loads(line)["file"]).name for line in lines] == ["0.png", "1.png"]
    for line in lines:
        validate(json.loads(line), RECORD)


def test_a_run_that_stops_before_tagging_keeps_an_old_jsonl_file(
    cli, test_plugins, make_image, tmp_path: Path
) -> None:
    out = tmp_path / "tags.jsonl"
    out.write_text("old\n", encoding="utf-8")
    result = cli(
        "tag",
        make_image("a.png"),
        "-p",
        "probe",
        "-f",
        "jsonl",
        "-o",
        out,
        "--overwrite",
        "--set",
        "fail_load=true",
    )
    assert result.exit_code == 2
    assert out.read_text(encoding="utf-8") == "old\n"


# --- table ----------------------------------------------------------------------------------


def test_table_on_the_terminal(cli, test_plugins, images) -> None:
    result = cli("tag", *images[:3], "-p", "probe", "--set", "mode=views")
    assert result.exit_code == 1
    text = result.stdout
    assert f"{images[0]}  (probe)" in text
    assert "confidence" in text
    assert "whole photo" in text
    assert "detail (0,0)-(40,30)" in text
    assert "@" not in text  # the pass name is not a size the photo was seen at
    assert "error:" in text and "corrupt.jpg" in text


def test_table_to_a_file_is_plain_text(cli, test_plugins, images, tmp_path: Path) -> None:
    out = tmp_path / "tags.txt"
    result = cli("tag", images[0], "-p", "probe", "-o", out, "--threshold", "0.99")
    assert result.exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    assert "probe" in text and "1.0000" in text
    assert "dark" not in text  # below the threshold


def test_file_names_with_brackets_are_shown_as_is(cli, test_plugins, make_image) -> None:
    image = make_image("[bold]holiday[/bold].png")
    result = cli("tag", image, "-p", "probe")
    assert "[bold]holiday[/bold].png" in result.stdout


def test_invalid_confidence_from_a_plugin_becomes_an_error_record(tmp_path) -> None:
    """A plugin bug (NaN or > 1) must not produce output that breaks the schema."""
    import math

    from PIL import Image

    from visual_buffet.pipeline import run_plugin
    from visual_buffet.plugin_api import ImageTags, Plugin, Tag

    class Sloppy(Plugin):
        name = "sloppy"

        def tag(self, items):
            return [ImageTags([Tag("x", v)]) for v in (math.nan, 1.5, 0.5)[: len(items)]]

    paths = []
    for index in range(3):
        paths.append(tmp_path / f"{index}.png")
        Image.new("RGB", (8, 8)).save(paths[-1])
    records = []
    stats = run_plugin(
        Sloppy({}), paths, settings={}, on_record=records.append, workers=1, max_pixels=None
    )
    assert (stats.tagged, stats.failed) == (1, 2)
    assert [r["error"] is None for r in records] == [False, False, True]
    assert "invalid tag 'x'" in records[0]["error"]["message"]
    for record in records:
        jsonschema.validate(record, result_schema())


def test_record_says_when_tags_come_from_the_camera_preview(cli, test_plugins, tmp_path) -> None:
    from PIL import Image

    from visual_buffet.previews import jpeg_with_preview

    photo = tmp_path / "camera.jpg"
    photo.write_bytes(
        jpeg_with_preview(Image.new("RGB", (2400, 1600), (0, 0, 255)), preview_side=600)
    )
    records = {}
    for use in ("true", "false"):
        out = tmp_path / f"{use}.jsonl"
        result = cli(
            "tag", photo, "-p", "colors", "-f", "jsonl", "-o", out,
            "--set", f"images.use_previews={use}",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        (records[use],) = [json.loads(line) for line in out.read_text().splitlines()]
        validate(records[use], RECORD)
    # colors analyses 256 px: the 900x600 preview is enough.
    assert records["true"]["image"] == {
        "width": 2400,
        "height": 1600,
        "preview": {"width": 900, "height": 600},
    }
    assert records["false"]["image"] == {"width": 2400, "height": 1600}
    assert records["true"]["tags"][0]["label"] == records["false"]["tags"][0]["label"] == "blue"
    table = cli("tag", photo, "-p", "colors")
    assert "camera.jpg  (colors; from the camera's 900x600 preview)" in table.stdout
