"""Benchmark rows for the library store: rerun, retag and search (rows 7a-7c).

- ``7a`` a rerun of N stored photos against their first run: ``tag FILES --library STORE``
  twice, wall times of the whole command (start-up included). The photos are distinct files
  (copies of the benchmark photos with a few bytes appended after the JPEG's end, so each
  has its own content hash and decodes exactly like its source).
- ``7b`` ``retag`` of 10,000 stored photos with 1,000 labels the text cache has never seen,
  against tagging those photos (10,000 x the seconds per photo + the cold start (4a)).
  The store is the one of 7a with its embeddings repeated to 10,000 images (real embeddings
  of the checkpoint, new ids, paths and hashes). Run twice: the first run encodes the new
  labels with the text tower, the second finds them cached (a threshold or limit change).
- 7a and 7b run twice: at quick (one view a photo: the cheapest tagging, so the hardest
  ratio; seconds per photo from row (1)) and at the default quality, ``7a-standard`` and
  ``7b-standard`` (what ``tag`` does without ``--quality``; seconds per photo from 7a's first
  run at that quality, less the one-photo start-up (4b)).
- ``7c`` ``search`` over 100,000 stored photos: random unit vectors with the checkpoint's
  dimension and its real scoring values (so400m-size searches scale with the dimension).
  In a child process: the matrix load, the first query (loads the model's text side), then
  warm queries (each a new text through the text tower + scoring + ranking) and the peak
  RSS; and the CLI's wall time for one query with the text in the cache.

Synthetic rows are written with SQL straight into the store's tables (a bulk insert; the
store's own ``put_results`` commits per image, which is what a tagging run needs).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet_siglip.bench.inputs import SIZE_NAMES, benchmark_labels, checkpoint
from visual_buffet_siglip.bench.runs import BenchError, CliRun, run_cli, tag_args, wait_peak_rss
from visual_buffet_siglip.settings import SETTINGS

if TYPE_CHECKING:
    from visual_buffet_siglip.bench.suite import Bench, Row

RETAG_IMAGES = 10_000
SEARCH_IMAGES = 100_000
DEFAULT_QUALITY = next(s.default for s in SETTINGS if s.name == "quality")
SEARCH_QUERIES = ("a dog on a beach", "red car", "mountain lake", "birthday cake", "city at night")


def distinct_photos(folder: Path, sources: Sequence[Path], count: int) -> list[Path]:
    """``count`` distinct files: copies of ``sources`` with their index appended after the
    JPEG's end (decoders stop at the end marker; the content hash differs)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"photo-{i:04d}-{source.stem}.jpg"
        if not target.is_file():
            target.write_bytes(source.read_bytes() + f"vb-bench-{i}".encode())
        files.append(target)
    return files


def library_args(store: Path) -> list[str]:
    return ["--library", str(store)]


def clone_embeddings(store: Path, count: int, *, random: bool = False) -> None:
    """Grow the store at ``store`` to ``count`` images with embeddings under the identity of
    its stored rows: repeats of those rows, or (``random``) random unit vectors of their
    dimension with the stored views and scoring values. One transaction."""
    import numpy as np

    db = sqlite3.connect(store, isolation_level=None)
    try:
        rows = db.execute(
            "SELECT plugin, identity, dtype, dim, views, vectors, scoring, model FROM embeddings"
        ).fetchall()
        if not rows:
            raise BenchError(f"{store} holds no embeddings to clone")
        have = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        rng = np.random.default_rng(0)
        now = time.time()
        db.execute("BEGIN")
        for start in range(have, count, 5000):
            ids = range(start, min(count, start + 5000))
            if random:
                block = rng.standard_normal((len(ids), rows[0][3])).astype(np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
            image_rows, path_rows, embedding_rows = [], [], []
            for k, i in enumerate(ids):
                plugin, identity, dtype, dim, views, blob, scoring, model = rows[i % len(rows)]
                if random:
                    blob = block[k].tobytes()
                image_rows.append((f"sha256:bench-{i}", 1, 6000, 4000, now, now))
                path_rows.append((f"/bench/photos/{i:07d}.jpg", 1, 0, now))
                embedding_rows.append((plugin, identity, dtype, dim, views, blob, scoring, model))
            first_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM images").fetchone()[0]
            db.executemany(
                "INSERT INTO images (content_hash, size, width, height, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                image_rows,
            )
            db.executemany(
                "INSERT INTO paths (path, image_id, size, mtime_ns, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(p, first_id + k, s, m, t) for k, (p, s, m, t) in enumerate(path_rows)],
            )
            db.executemany(
                "INSERT INTO embeddings (image_id, plugin, identity, dtype, dim, views, vectors, "
                "scoring, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(first_id + k, *row, now) for k, row in enumerate(embedding_rows)],
            )
        db.execute("COMMIT")
    finally:
        db.close()


def single_view_store(source: Path, target: Path) -> None:
    """A store holding only the embedding identity and scoring of ``source`` (one image), to
    grow with random vectors: what 100,000 photos tagged at quality quick look like."""
    shutil.copyfile(source, target)
    db = sqlite3.connect(target, isolation_level=None)
    try:
        keep = db.execute("SELECT MIN(image_id) FROM embeddings").fetchone()[0]
        db.execute("DELETE FROM images WHERE id != ?", (keep,))
        db.execute("DELETE FROM paths WHERE image_id != ?", (keep,))
        for table in ("embeddings", "results", "tags"):
            db.execute(f"DELETE FROM {table} WHERE image_id != ?", (keep,))
    finally:
        db.close()


def search_child(argv: Sequence[str]) -> None:
    """In a child process: load the matrix, run the queries; print JSON (seconds, bytes)."""
    import resource

    from visual_buffet.library import open_library
    from visual_buffet.library.ranking import top_images
    from visual_buffet.library.search import LibrarySearch
    from visual_buffet_siglip.plugin import SiglipPlugin

    store_path, model, *queries = argv
    store = open_library(store_path, readonly=True)
    finder = LibrarySearch(store, SiglipPlugin({"model": model, "quality": "quick"}))
    start = time.perf_counter()
    matrix = finder.matrix
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    finder.text(queries[0])
    first_s = time.perf_counter() - start
    warm = []
    for query in queries[1:]:
        start = time.perf_counter()
        hits = finder.text(query)
        warm.append(time.perf_counter() - start)
        assert len(hits) == 20
    texts = finder.plugin.encode_text([queries[-1]], scoring=matrix.scoring)
    scoring = []
    for _ in range(5):
        start = time.perf_counter()
        scores = finder.plugin.score_embeddings(texts, matrix.vectors, matrix.scoring)[:, 0]
        top_images(scores, matrix.starts, 20)
        scoring.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "images": len(matrix.starts),
                "rows": len(matrix.vectors),
                "matrix_bytes": matrix.vectors.nbytes,
                "load_s": load_s,
                "first_query_s": first_s,
                "warm_query_s": warm,
                "scoring_s": statistics.median(scoring),
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def _run_search_child(store: Path, model: Path, env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import sys; from visual_buffet_siglip.bench.library_rows import search_child; "
        "search_child(sys.argv[1:])"
    )
    command = [sys.executable, "-c", code, str(store), str(model), *SEARCH_QUERIES]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read()
        wait_peak_rss(proc)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(f"search child failed:\n{errors[-3000:]}")
    return json.loads(out.splitlines()[-1])


def _cli_seconds(args: Sequence[str], env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "visual_buffet", *args]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, timeout=1800)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        errors = done.stderr.decode(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(command)} failed (exit {done.returncode}):\n{errors}")
    return seconds


def _retag_run(args: Sequence[str], env: dict[str, str], out: Path, images: int) -> CliRun:
    """``retag ... -o OUT`` (as one would for 10,000 records): its wall time and peak RSS,
    the records read back. Not through a pipe: at one flushed line per image, a reader
    process on a busy 2-core machine made the writer wait for it (56 s instead of 5 s)."""
    command = [sys.executable, "-m", "visual_buffet", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace")
    peak = wait_peak_rss(proc)
    wall = time.perf_counter() - start
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    if proc.returncode != 0 or len(records) != images:
        raise BenchError(
            f"retag failed (exit {proc.returncode}, {len(records)} records):\n{errors}"
        )
    if {r.get("tags_from") for r in records} != {"embeddings"}:
        raise BenchError("retag records must all say tags_from: embeddings")
    return CliRun(wall, [], records, peak)


@dataclass
class _Rerun:
    """Row 7a at one quality: the store it filled and the two wall times."""

    quality: str
    store: Path
    photos: int
    first_s: float
    rerun_s: float


def _rerun(bench: Bench, size: str, quality: str, files: list[Path], env: dict) -> _Rerun:
    """``tag FILES --library STORE`` into an empty store, then the same command again."""
    store = bench.work / "library" / f"rerun-{quality}.sqlite3"
    args = tag_args(files, quality, checkpoint(bench.work, size), bench.labels_file, library=store)
    bench.log(f"{size}: library 7a, first run of {len(files)} photos at {quality} into the store")
    first = run_cli(args, env)
    bench.log(f"{size}: library 7a, the same command again")
    rerun = run_cli(args, env)
    origins = {r.get("tags_from") for r in rerun.records}
    if origins != {"store"}:
        raise BenchError(f"the rerun's records came from {origins}, not the store")
    return _Rerun(quality, store, len(files), first.wall_s, rerun.wall_s)


def _retag(bench: Bench, size: str, rerun: _Rerun, new_file: Path, env: dict) -> dict:
    """Row 7b at the quality of ``rerun``: its store grown to 10,000 images, retagged with
    labels never encoded (``cold_s``) and then again with them cached (``warm_s``)."""
    stores = bench.work / "library"
    store = stores / f"retag-{rerun.quality}.sqlite3"
    shutil.copyfile(rerun.store, store)
    images = RETAG_IMAGES if not bench.args.quick_run else 200
    bench.log(f"{size}: library 7b, growing the {rerun.quality} store to {images:,} images")
    clone_embeddings(store, images)
    out = stores / "retag.jsonl"
    retag = ["retag", *library_args(store), "--set", f"model={checkpoint(bench.work, size)}"]
    retag += ["--quality", rerun.quality, "--vocabulary", str(new_file)]
    retag += ["-o", str(out), "--overwrite"]
    bench.log(f"{size}: library 7b, retag {images:,} images at {rerun.quality}, new labels")
    cold = _retag_run(retag, env, out, images)
    bench.log(f"{size}: library 7b, the same retag (labels now cached)")
    warm = _retag_run(retag, env, out, images)
    targets = bench.results["targets"]
    if rerun.quality == "quick":
        per_image = 1 / targets["tag_images_per_s"]  # row (1)
    else:  # 7a's first run at this quality, less the start-up of a one-photo run (4b)
        per_image = (rerun.first_s - targets["warm_s"]) / rerun.photos
    # Tagging them with the same labels: the text embeddings are computed by the first run
    # (4a) or already cached (4b), as they are for the two retag runs.
    return {
        "quality": rerun.quality,
        "images": images,
        "cold_s": cold.wall_s,
        "warm_s": warm.wall_s,
        "seconds_per_photo": per_image,
        "tagging_cold_s": images * per_image + targets["cold_s"],
        "tagging_s": images * per_image + targets["warm_s"],
        "peak_rss": cold.peak_rss,
    }


def _search(bench: Bench, size: str, rerun: _Rerun, env: dict) -> dict:
    """Row 7c: 100,000 random unit vectors under 7a's identity; the child's measurements
    and the CLI's wall time for a query whose text the child cached."""
    folder = checkpoint(bench.work, size)
    store = bench.work / "library" / "search.sqlite3"
    single_view_store(rerun.store, store)
    images = SEARCH_IMAGES if not bench.args.quick_run else 2000
    bench.log(f"{size}: library 7c, a store of {images:,} images (random unit vectors)")
    clone_embeddings(store, images, random=True)
    bench.log(f"{size}: library 7c, search in a child process")
    measured = _run_search_child(store, folder, env)
    query = ["search", SEARCH_QUERIES[-1], *library_args(store)]
    query += ["--set", f"model={folder}", "--quality", "quick", "--json"]
    return {**measured, "cli_cached_text_s": _cli_seconds(query, env)}


def library_rows(bench: Bench, size: str) -> list[Row]:
    """Rows 7a-7c on checkpoint ``size`` (the first size: its rows (1), (4a) and (4b) are
    used). 7a and 7b run at quick (the cheapest tagging, so the hardest ratio) and at the
    default quality (what ``tag`` does without ``--quality``)."""
    a = bench.args
    env = bench.env_for(bench.work / f"cache-{size}")  # row (4): its labels are cached
    stores = bench.work / "library"
    shutil.rmtree(stores, ignore_errors=True)
    stores.mkdir(parents=True)
    files = distinct_photos(bench.work / "photos-distinct", bench.mixed, a.images)
    reruns = [_rerun(bench, size, q, files, env) for q in ("quick", DEFAULT_QUALITY)]

    # Each retag gets labels no run has encoded: the next --labels of the vocabulary after
    # the benchmark's own, then the next (both retags share row (4)'s text cache).
    labels, origin = benchmark_labels((1 + len(reruns)) * a.labels)
    retags = []
    for i, rerun in enumerate(reruns, start=1):
        new_labels = labels[i * a.labels : (i + 1) * a.labels]
        new_file = bench.work / f"labels-new-{rerun.quality}-{len(new_labels)}.txt"
        new_file.write_text("\n".join(new_labels) + "\n", encoding="utf-8")
        retag = _retag(bench, size, rerun, new_file, env)
        retags.append({**retag, "labels": len(new_labels), "labels_from": origin})
    search = _search(bench, size, reruns[0], env)
    bench.results["library"] = {
        "rerun": [vars(r) | {"store": str(r.store)} for r in reruns],
        "retag": retags,
        "search": search,
    }
    dims = SIZE_NAMES[size]
    rows = [_rerun_row(r, dims, len(bench.labels)) for r in reruns]
    rows += [_retag_row(r, dims) for r in retags]
    return [*rows, _search_row(search)]


def _rerun_row(rerun: _Rerun, dims: str, labels: int) -> Row:
    from visual_buffet_siglip.bench.suite import Row, _status

    speedup = rerun.first_s / rerun.rerun_s
    return Row(
        "7a" if rerun.quality == "quick" else f"7a-{rerun.quality}",
        f"rerun of {rerun.photos} stored photos (`tag` the same files again, {dims}, "
        f"{rerun.quality}, {labels:,} labels) vs their first run into an empty store; wall "
        "time of each command, start-up included",
        f"{rerun.rerun_s:.2f} s vs {rerun.first_s:.2f} s = {speedup:.1f} x faster "
        "(every record `tags_from: store`)",
        ">= 20 x",
        _status(speedup >= 20),
    )


def _retag_row(retag: dict, dims: str) -> Row:
    from visual_buffet_siglip.bench.suite import Row, _status

    images, quality, labels = retag["images"], retag["quality"], retag["labels"]
    cold_share = retag["cold_s"] / retag["tagging_cold_s"]
    warm_share = retag["warm_s"] / retag["tagging_s"]
    return Row(
        "7b" if quality == "quick" else f"7b-{quality}",
        f"`retag` of {images:,} stored photos ({dims}, {quality}) with {labels:,} labels "
        f"never encoded before, vs tagging them with those labels ({images:,} x "
        f"{retag['seconds_per_photo']:.3f} s/photo + the cold start (4a) = "
        f"{retag['tagging_cold_s']:.0f} s); then the same retag again (labels cached) vs "
        f"tagging with cached labels (+ (4b): {retag['tagging_s']:.0f} s)",
        f"{retag['cold_s']:.1f} s = {cold_share:.1%} of tagging, of which the text tower for "
        f"the new labels ~{retag['cold_s'] - retag['warm_s']:.1f} s; the same retag with the "
        f"labels cached: {retag['warm_s']:.1f} s = {warm_share:.2%} (peak RSS "
        f"{(retag['peak_rss'] or 0) / 1e9:.2f} GB)",
        "<= 1 %",
        f"{_status(cold_share <= 0.01)} (labels cached: {_status(warm_share <= 0.01)})",
    )


def _search_row(measured: dict) -> Row:
    from visual_buffet_siglip.bench.suite import Row, _status

    warm_q = statistics.median(measured["warm_query_s"])
    gb = measured["matrix_bytes"] / 1e9
    dim = measured["matrix_bytes"] // (4 * measured["rows"])
    rss = measured["peak_rss"] / 1e9
    return Row(
        "7c",
        f"`search` over {measured['images']:,} stored photos ({dim}-dim synthetic "
        "embeddings, one view each): a warm query in one process (new text through "
        "the text tower + scoring + ranking), median of "
        f"{len(measured['warm_query_s'])}",
        f"{warm_q:.3f} s a query (scoring + top 20 alone {measured['scoring_s']:.3f} s); "
        f"matrix {gb:.2f} GB read in {measured['load_s']:.2f} s, peak RSS {rss:.2f} GB; "
        f"first query {measured['first_query_s']:.1f} s (loads the model); the CLI "
        f"with the text cached: {measured['cli_cached_text_s']:.2f} s wall",
        "<= 0.3 s",
        _status(warm_q <= 0.3),
    )
