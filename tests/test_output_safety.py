"""Output that survives people and machines: -o checked first, no silent overwrite, the format
from the suffix, SIGINT/SIGTERM keep what finished, a closed pipe or a full disk is not a
plugin failure, a run that exits 2 leaves the output alone. Signals go to real subprocesses."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import one_line
from visual_buffet.output import result_schema

SCHEMA = result_schema()
DOCUMENT = {"$ref": "#/$defs/document", "$defs": SCHEMA["$defs"]}


def _validate(document: object) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(DOCUMENT).validate(document)


# --- -o is checked before any model loads ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_an_output_in_a_missing_folder_is_refused_before_loading(
    cli, test_plugins, probe_log, make_image, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "no" / "such" / "tags.out"
    result = cli("tag", make_image("a.png"), "-p", "probe", "-f", fmt, "-o", out)
    assert result.exit_code == 2
    assert f"-o {out}: the folder {out.parent} does not exist; create it first." in one_line(
        result.stderr
    )
    assert probe_log() == []  # no plugin was even constructed
    assert not (tmp_path / "no").exists()  # nothing created


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, also by root (``chattr +i``), or the test is skipped."""
    mode = path.stat().st_mode
    path.chmod(0o500 if path.is_dir() else 0o400)
    immutable = False
    try:
        if os.geteuid() == 0:  # permission bits do not stop root; the immutable flag does
            immutable = subprocess.run(["chattr", "+i", str(path)], check=False).returncode == 0
            if not immutable:
                pytest.skip("root, and chattr +i is not available here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def test_an_output_that_is_a_folder_or_unwritable_is_refused(
    cli, test_plugins, probe_log, make_image, tmp_path: Path
) -> None:
    image = make_image("a.png")
    result = cli("tag", image, "-p", "probe", "-o", tmp_path)
    assert result.exit_code == 2
    assert "is a directory" in one_line(result.stderr)  # click's own check (dir_okay=False)

    locked = tmp_path / "locked"
    locked.mkdir()
    with _read_only(locked):
        result = cli("tag", image, "-p", "probe", "-f", "jsonl", "-o", locked / "tags.jsonl")
        assert result.exit_code == 2
        assert f"the folder {locked} is not writable" in one_line(result.stderr)
        assert list(locked.iterdir()) == []  # the check left nothing behind
    assert probe_log() == []


def test_a_read_only_output_file_is_refused(
    cli, test_plugins, probe_log, make_image, tmp_path: Path
) -> None:
    out = tmp_path / "tags.jsonl"
    out.write_text("", encoding="utf-8")
    with _read_only(out):
        result = cli("tag", make_image("a.png"), "-p", "probe", "-o", out)
        assert result.exit_code == 2
        assert f"-o {out}: the file is not writable" in one_line(result.stderr)
    assert probe_log() == []


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_an_existing_output_is_not_replaced_without_overwrite(
    cli, test_plugins, probe_log, make_image, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"tags.{ {'table': 'txt'}.get(fmt, fmt) }"
    out.write_text("earlier results\n", encoding="utf-8")
    image = make_image("a.png")
    result = cli("tag", image, "-p", "probe", "-o", out)
    assert result.exit_code == 2
    assert f"-o {out}: the file already exists. Pass --overwrite" in one_line(result.stderr)
    assert out.read_text(encoding="utf-8") == "earlier results\n"
    assert probe_log() == []
    assert cli("tag", image, "-p", "probe", "-o", out, "--overwrite").exit_code == 0
    assert "earlier results" not in out.read_text(encoding="utf-8")


def test_a_missing_path_and_a_plugin_that_cannot_load_leave_the_output_alone(
    cli, test_plugins, make_image, tmp_path: Path, monkeypatch
) -> None:
    """Exit 2 never touches the output, also when a missing path's record came first (it
    used to truncate a JSONL file to that one record), and when no plugin of several loads."""
    from visual_buffet.discovery import discover_plugins
    from visual_buffet.plugin_api import PluginError

    def cannot_load(self) -> None:  # type: ignore[no-untyped-def]
        raise PluginError(f"{self.name}: no weights")

    monkeypatch.setattr(discover_plugins()["colors"].plugin_class, "load", cannot_load)
    out = tmp_path / "tags.jsonl"
    out.write_text("old\n", encoding="utf-8")
    image = make_image("a.png")
    for plugins in (["-p", "probe"], ["-p", "probe", "-p", "colors"]):
        result = cli(
            "tag", tmp_path / "gone.jpg", image, *plugins, "-o", out, "--overwrite",
            "--set", "probe.fail_load=true",
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert out.read_text(encoding="utf-8") == "old\n"


# --- the format follows the suffix ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("tags.json", lambda text: json.loads(text)["results"][0]["plugin"] == "probe"),
        ("tags.JSONL", lambda text: json.loads(text.splitlines()[0])["plugin"] == "probe"),
        ("tags.txt", lambda text: "confidence" in text and not text.startswith("{")),
    ],
)
def test_the_format_follows_the_output_suffix(
    cli, test_plugins, make_image, tmp_path: Path, name: str, check
) -> None:
    out = tmp_path / name
    assert cli("tag", make_image("a.png"), "-p", "probe", "-o", out).exit_code == 0
    assert check(out.read_text(encoding="utf-8"))


def test_a_format_that_contradicts_the_suffix_is_refused(
    cli, test_plugins, probe_log, make_image, tmp_path: Path
) -> None:
    out = tmp_path / "tags.json"
    result = cli("tag", make_image("a.png"), "-p", "probe", "-f", "table", "-o", out)
    assert result.exit_code == 2
    assert f"--format table does not match -o {out}: a .json file holds json" in one_line(
        result.stderr
    )
    assert not out.exists() and probe_log() == []
    # No claim in the name: any format may go there.
    assert cli("tag", make_image("a.png"), "-p", "probe", "-f", "json", "-o", tmp_path / "t.out")
    assert json.loads((tmp_path / "t.out").read_text(encoding="utf-8"))["results"]


# --- writer failures are not plugin failures ------------------------------------------------


def test_a_full_disk_stops_with_one_message_and_keeps_the_finished_lines(
    cli, test_plugins, make_image, tmp_path: Path, monkeypatch
) -> None:
    """The third line hits ENOSPC after half of it is written: the half is cut off again."""
    from visual_buffet import output

    images = [make_image(f"{i}.png") for i in range(6)]
    out = tmp_path / "tags.jsonl"
    real_open = open
    lines = {"n": 0}

    class FillsUp:
        def __init__(self, raw) -> None:  # type: ignore[no-untyped-def]
            self.raw = raw

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            lines["n"] += 1
            if lines["n"] == 3:
                self.raw.write(bytes(data[:20]))  # a short write, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.raw.write(data)

        def fileno(self) -> int:
            return self.raw.fileno()

        def close(self) -> None:
            self.raw.close()

    monkeypatch.setattr(output, "open", lambda *a, **k: FillsUp(real_open(*a, **k)), raising=False)
    result = cli("tag", *images, "-p", "probe", "-o", out, "--set", "batch=1")
    assert result.exit_code == 1
    text = one_line(result.stderr)
    assert f"error: cannot write {out}: No space left on device. Free some space" in text
    assert "The 2 results finished before it are kept." in text
    assert "probe failed" not in text and text.count("error") == 1
    kept = out.read_text(encoding="utf-8").splitlines()
    assert [Path(json.loads(line)["file"]).name for line in kept] == ["0.png", "1.png"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_real_enospc_from_dev_full(cli_subprocess, make_image) -> None:
    done = cli_subprocess("tag", make_image("a.png"), "-p", "probe", "-o", "/dev/full", "-f",
                          "jsonl")  # fmt: skip
    assert done.returncode == 1
    assert "cannot write /dev/full: No space left on device" in one_line(done.stderr)
    assert "Traceback" not in done.stderr and "probe failed" not in done.stderr


def _popen(plugin_site, *args: object, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath, "VB_PROBE_LOG": str(log)}
    return subprocess.Popen(
        [sys.executable, "-m", "visual_buffet", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_batches(log: Path, count: int, process: subprocess.Popen[str]) -> None:
    """Until the probe has tagged ``count`` batches (a process-level event, not a timing)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ended early: {process.communicate()}")
        if log.exists() and log.read_text(encoding="utf-8").count("tag 1") >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the probe never got that far")


@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_a_closed_pipe_ends_quietly(plugin_site, make_image, tmp_path: Path, fmt: str) -> None:
    """`visual-buffet tag ... | head -1`: no "probe failed", no traceback, exit 141 (the
    table went through rich, which exited 1 on its own)."""
    images = [make_image(f"{i}.png") for i in range(30)]
    log = tmp_path / "probe.log"
    process = _popen(
        plugin_site, "tag", *images, "-p", "probe", "-f", fmt,
        "--set", "batch=1", "--set", "sleep_ms=20", log=log,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    assert "0.png" in first
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert stderr == ""
    assert log.read_text(encoding="utf-8").count("tag 1") < len(images)  # it stopped


@pytest.mark.parametrize(
    ("sig", "code", "fmt"),
    [(signal.SIGTERM, 143, "json"), (signal.SIGINT, 130, "json"), (signal.SIGTERM, 143, "table")],
)
def test_a_signal_mid_run_keeps_the_finished_images(
    plugin_site, make_image, tmp_path: Path, sig: int, code: int, fmt: str
) -> None:
    images = [make_image(f"{i:02d}.png") for i in range(40)]
    out = tmp_path / ("tags.json" if fmt == "json" else "tags.txt")
    log = tmp_path / "probe.log"
    process = _popen(
        plugin_site, "tag", *images, "-p", "probe", "-o", out,
        "--set", "batch=1", "--set", "sleep_ms=50", log=log,
    )  # fmt: skip
    _wait_for_batches(log, 3, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    message = one_line(stderr)
    assert "interrupted: the " in message and f"finished before it are written to {out}" in message
    kept = int(message.split("interrupted: the ")[1].split()[0])
    assert 2 <= kept < len(images)  # the third batch had started (logged), two had finished
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        document = json.loads(text)
        _validate(document)
        assert document["summary"]["interrupted"] is True
        names = [Path(r["file"]).name for r in document["results"]]
        assert names == [p.name for p in images[:kept]]
    else:
        assert images[kept - 1].name in text and images[kept].name not in text
    assert list(tmp_path.glob(".tags*")) == []  # no temporary file left


def test_sigterm_keeps_the_finished_jsonl_lines(plugin_site, make_image, tmp_path: Path) -> None:
    images = [make_image(f"{i:02d}.png") for i in range(40)]
    out = tmp_path / "tags.jsonl"
    log = tmp_path / "probe.log"
    process = _popen(
        plugin_site, "tag", *images, "-p", "probe", "-o", out,
        "--set", "batch=1", "--set", "sleep_ms=50", log=log,
    )  # fmt: skip
    _wait_for_batches(log, 3, process)
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert 2 <= len(lines) < len(images)
    assert [Path(json.loads(line)["file"]).name for line in lines] == [
        p.name for p in images[: len(lines)]
    ]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs: a real full disk (root with mount rights only, else skipped)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_real_full_disk_keeps_what_finished(cli_subprocess, make_image, tiny_disk) -> None:
    images = [make_image(f"{i:02d}.png") for i in range(80)]
    out = tiny_disk / "tags.jsonl"
    done = cli_subprocess("tag", *images, "-p", "probe", "-o", out)
    assert done.returncode == 1, done.stderr
    message = one_line(done.stderr)
    assert f"error: cannot write {out}: No space left on device" in message
    assert "probe failed" not in message and "Traceback" not in message
    lines = out.read_text(encoding="utf-8").splitlines()
    assert 0 < len(lines) < len(images)
    assert f"The {len(lines)} results finished before it are kept." in message
    assert [json.loads(line)["file"] for line in lines] == [str(p) for p in images[: len(lines)]]

    # The JSON document is written at the end, to a temporary file: the old file stays whole.
    old = tiny_disk / "tags.json"
    out.unlink()
    old.write_text('{"old": true}\n', encoding="utf-8")
    done = cli_subprocess("tag", *images, "-p", "probe", "-o", old, "--overwrite")
    assert done.returncode == 1, done.stderr
    assert f"cannot write {old}: No space left on device" in one_line(done.stderr)
    assert old.read_text(encoding="utf-8") == '{"old": true}\n'
    assert list(tiny_disk.iterdir()) == [old]  # no temporary file left
