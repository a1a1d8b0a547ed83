"""The benchmark script runs end to end (``--quick-run``) and reports every row.

No timing is asserted: the figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

TARGET_ROWS = (
    "1",
    "1x",
    "3",
    "4b",
    "5b",
    "5x",
    "6a",
    "6b",
    "7a",
    "7a-standard",
    "7b",
    "7b-standard",
    "7c",
)
ALL_ROWS = (
    "1",
    "1x",
    "2",
    "3",
    "4a",
    "4b",
    "5a",
    "5b",
    "5x",
    "6a",
    "6b",
    # PyTorch against ONNX Runtime (runtime_rows; r2 and r3 once for fp32, once for int8)
    "tiny-r1",
    "tiny-r2",
    "tiny-r2",
    "tiny-r3",
    "tiny-r3",
    "tiny-r4",
    "tiny-r5",
    "x1",
    "x2",
    "x3",
    "7a",
    "7a-standard",
    "7b",
    "7b-standard",
    "7c",
)


def _table_rows(markdown: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("bench")
    env = {
        **os.environ,
        "VISUAL_BUFFET_CACHE_DIR": str(root / "cache"),
        "VISUAL_BUFFET_CONFIG": str(root / "config.toml"),
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "visual_buffet_siglip.bench",
        "--quick-run",
        "--work",
        str(root / "work"),
        "--out",
        str(root / "out"),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout, root / "out"


@pytest.mark.slow
def test_quick_run_prints_every_row_with_a_status(quick_run):
    table, _ = quick_run
    rows = _table_rows(table)
    for key in ALL_ROWS:
        assert key in rows, f"row ({key}) missing from:\n{table}"
    for key in TARGET_ROWS:
        assert rows[key][-1].split()[0] in ("PASS", "MISS"), rows[key]
    assert "Command: `python -m visual_buffet_siglip.bench --quick-run" in table
    assert re.search(r"Machine: .+ logical cores", table)


@pytest.mark.slow
def test_quick_run_prints_batch_sweep_and_quality_levels(quick_run):
    table, _ = quick_run
    batches = re.findall(r"^\| (\d+)(?: \(best\))? \| [\d.]+ \| \d+ \| [^|]+ \|$", table, re.M)
    assert batches == ["1", "4", "8", "16"]
    assert table.count("(best)") == 1
    for level in ("quick", "standard", "high", "max"):
        assert re.search(
            rf"^\| tiny \| {level} \| \d+ \| \d+ \| (?:[\d.]+|< 0\.01) \|", table, re.M
        ), level
    assert re.search(r"^\| demo \| all \| \| \| skipped: ", table, re.M)


@pytest.mark.slow
def test_quick_run_writes_markdown_and_json(quick_run):
    table, out = quick_run
    assert (out / "bench.md").read_text(encoding="utf-8") == table.rstrip("\n") + "\n"
    results = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert [row["key"] for row in results["rows"]] == list(ALL_ROWS)
    assert [row["batch"] for row in results["batch_sweep"]] == [1, 4, 8, 16]
    assert results["targets"]["size"] == "tiny"


@pytest.mark.slow
def test_quick_run_measures_the_library_rows(quick_run):
    """Rows 7a-7c: a rerun from the store, a retag with new labels, a search (their raw
    figures in bench.json)."""
    table, out = quick_run
    rows = _table_rows(table)
    for quality in ("", "-standard"):
        assert "every record `tags_from: store`" in rows[f"7a{quality}"][2]
        assert re.search(r"= [\d.]+% of tagging, of which the text tower", rows[f"7b{quality}"][2])
    assert re.search(r"[\d.]+ s a query .* peak RSS [\d.]+ GB", rows["7c"][2])
    library = json.loads((out / "bench.json").read_text(encoding="utf-8"))["library"]
    assert [r["quality"] for r in library["rerun"]] == ["quick", "standard"]
    assert all(r["rerun_s"] > 0 for r in library["rerun"])
    assert [r["images"] for r in library["retag"]] == [200, 200]
    assert library["search"]["images"] == 2000 and len(library["search"]["warm_query_s"]) == 4


def test_warm_start_is_the_fastest_of_its_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """One slow warm start must not flatter the throughputs computed from it (run 10)."""
    from visual_buffet_siglip.bench import runs

    walls = iter([8.8, 5.0, 5.2])
    calls = []

    def fake_run_cli(args, env):
        calls.append(args)
        return runs.CliRun(next(walls), [], [], None)

    monkeypatch.setattr(runs, "run_cli", fake_run_cli)
    assert runs.fastest_run(["tag", "x.jpg"], {}, 3).wall_s == 5.0
    assert len(calls) == 3


def test_fast_photos_get_more_photos_until_their_time_stands_out() -> None:
    """Run 12 (H100): 16 photos at 0.04 s each hid in start-up's noise and row (1) read
    -26.69 images/s. The run is repeated with twice the photos until it spends
    MIN_MEASURED_S beyond start-up; a slow machine runs its count once."""
    from visual_buffet_siglip.bench import runs

    def machine(per_photo: float):
        counts = []

        def run_with(count: int) -> runs.CliRun:
            counts.append(count)
            return runs.CliRun(17.0 + per_photo * count, [], [{}] * count, None)

        return counts, run_with

    counts, run_with = machine(0.04)
    run = runs.long_enough_run(run_with, 16, 17.0, lambda _: None)
    assert counts == [16, 32, 64, 128]
    assert len(run.records) == 128 and run.wall_s - 17.0 >= runs.MIN_MEASURED_S

    counts, run_with = machine(0.3)
    runs.long_enough_run(run_with, 48, 17.0, lambda _: None)
    assert counts == [48]

    counts, run_with = machine(0.0)
    runs.long_enough_run(run_with, 600, 17.0, lambda _: None)
    assert counts == [600, runs.MAX_RUN_PHOTOS]
