"""Fixtures for the library store tests: a tiny checkpoint, folders of small photos, and the
CLI in a subprocess with its records parsed."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HEAVY = ("torch", "transformers", "onnxruntime")

# Runs one CLI command in this interpreter, then reports which heavy modules it imported.
RUNNER = """
import json, sys
from visual_buffet.cli import app
try:
    app(json.loads(sys.argv[1]), prog_name="visual-buffet")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
numpy = "numpy" in sys.modules
print("REPORT=" + json.dumps({"code": code, "heavy": heavy, "numpy": numpy}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


@dataclass
class Run:
    """A finished CLI run: exit code, stderr, JSONL records by file name, import report."""

    code: int
    stderr: str
    records: list[dict]
    heavy: list[str] | None = None
    summary: dict | None = None
    numpy: bool | None = None  # whether the run imported NumPy (with report=True)

    def by_name(self) -> dict[str, dict]:
        return {Path(r["file"]).name: r for r in self.records}

    def sources(self) -> dict[str, str | None]:
        return {Path(r["file"]).name: r.get("tags_from") for r in self.records}


@pytest.fixture(scope="session")
def tiny_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP v1 checkpoint with a visible score spread (bias 0)."""
    from visual_buffet_siglip.synthetic import build_checkpoint

    root = tmp_path_factory.mktemp("library-checkpoint")
    return build_checkpoint(
        root / "v1", "v1", "tiny", seed=3, logit_scale=math.log(10.0), logit_bias=0.0
    )


def write_photos(folder: Path, count: int, size: tuple[int, int] = (640, 480), seed: int = 0):
    """``count`` different small JPEGs (blocky random colours, so each has its own tags)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        blocks = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        path = folder / f"p{index:03d}.jpg"
        Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture
def vocab(tmp_path: Path) -> Path:
    path = tmp_path / "tags.txt"
    labels = ["cat", "dog", "red car", "blue sky", "green tree", "a bowl of soup", "snow"]
    path.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_tag(plugin_site) -> Callable[..., Run]:
    """Run ``visual-buffet tag ARGS -f jsonl`` in a subprocess; ``report=True`` also says
    which heavy modules the run imported."""

    def run(*args: object, report: bool = False, fmt: str = "jsonl", timeout: float = 300) -> Run:
        env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath}
        argv = ["tag", *map(str, args), "-f", fmt]
        if report:
            command = [sys.executable, "-c", RUNNER, json.dumps(argv)]
        else:
            command = [sys.executable, "-m", "visual_buffet", *argv]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        summary = None
        if fmt == "json" and done.stdout.strip():
            document = json.loads(done.stdout)
            records, summary = document["results"], document["summary"]
        else:
            records = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
        heavy = numpy = None
        if report:
            line = next(x for x in done.stderr.splitlines() if x.startswith("REPORT="))
            imported = json.loads(line.removeprefix("REPORT="))
            heavy, numpy = imported["heavy"], imported["numpy"]
        return Run(done.returncode, done.stderr, records, heavy, summary, numpy)

    return run


def store_path(tmp_path: Path) -> Path:
    """Where the autouse fixture's data dir puts this test's store."""
    return tmp_path / "user-data" / "library.sqlite3"


def stored_results(path: Path) -> int:
    """Committed results in a store (0 while it does not exist yet), read without locking."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created right now
        return 0


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def comparable(record: dict) -> dict:
    """What must be equal between runs: the tags with their confidences and views."""
    return {
        "file": Path(record["file"]).name,
        "error": record["error"],
        "tags": [
            (t["label"], round(t["confidence"], 6), json.dumps(t.get("found_in"), sort_keys=True))
            for t in record["tags"]
        ],
    }


def assert_same_records(left: list[dict], right: list[dict], tol: float = 1e-5) -> None:
    """Two runs' records agree: the same files, errors, labels and views, and confidences
    within `tol`. Runs that batch images differently (a resumed run, two runs at once)
    differ in the last float bits, so rounding to 6 places alone can flip a digit."""
    by_file = {Path(r["file"]).name: r for r in left}
    assert sorted(by_file) == sorted(Path(r["file"]).name for r in right)
    for other in right:
        name = Path(other["file"]).name
        mine = by_file[name]
        assert mine["error"] == other["error"], name
        tags = {t["label"]: t for t in mine["tags"]}
        assert sorted(tags) == sorted(t["label"] for t in other["tags"]), name
        for tag in other["tags"]:
            assert abs(tags[tag["label"]]["confidence"] - tag["confidence"]) <= tol, (name, tag)
            assert tags[tag["label"]].get("found_in") == tag.get("found_in"), (name, tag)
