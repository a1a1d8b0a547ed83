"""How long the Library page's request takes on a large store (docs/gui.md quotes it).

    python -m tests.gui.library_timing --images 100000

Fills a temporary store with synthetic records (5 tags each, from a 50-label vocabulary; no
image files: only the JSON of a page is timed), then times ``GET /api/library`` through the
real app at the first, middle and last page, with and without a tag filter. Not a test:
timings go into the docs, never into assertions.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

LABELS = [f"label{i:02d}" for i in range(50)]


def fill(store, count: int) -> None:  # type: ignore[no-untyped-def]
    from visual_buffet.library import FileStat, Fingerprint, ResultItem

    rng = random.Random(0)
    batch = []
    for i in range(count):
        path = f"/photos/{i // 1000:03d}/{i:06d}.jpg"
        fingerprint = Fingerprint(FileStat(path, 1000 + i, 1_700_000_000 + i), f"sha256:{i:064x}")
        tags = [
            {"label": label, "confidence": round(rng.random(), 4)}
            for label in rng.sample(LABELS, 5)
        ]
        record = {
            "file": path,
            "plugin": "siglip",
            "tags": sorted(tags, key=lambda t: -t["confidence"]),
            "model": {"variant": "demo"},
            "settings": {},
            "timings": {},
            "error": None,
            "image": {"width": 3000, "height": 2000},
        }
        batch.append(ResultItem(fingerprint, "siglip", {"v": 1}, record))
        if len(batch) == 5000:
            store.put_results(batch)
            batch = []
    if batch:
        store.put_results(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from visual_buffet.gui.app import GuiState, create_app
    from visual_buffet.library import open_library

    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "library.sqlite3"
        started = time.perf_counter()
        with open_library(store_path) as store:
            fill(store, args.images)
        print(f"filled {args.images} images in {time.perf_counter() - started:.1f} s")
        state = GuiState(config_path=Path(tmp) / "config.toml", library_path=store_path)
        app = create_app(state, hosts={"testserver"})
        with TestClient(app, headers={"X-Visual-Buffet-Token": state.token}) as client:
            last = (args.images - 1) // 60 * 60
            for name, query in [
                ("first page", "offset=0"),
                ("middle page", f"offset={last // 2}"),
                ("last page", f"offset={last}"),
                ("tag filter, first page", "tag=label07"),
                ("tag filter, last page", "tag=label07&offset=9900"),
            ]:
                times = []
                for _ in range(args.repeat):
                    begin = time.perf_counter()
                    response = client.get(f"/api/library?limit=60&{query}")
                    times.append(time.perf_counter() - begin)
                    assert response.status_code == 200, response.text
                body = response.json()
                print(
                    f"{name:24s} {statistics.median(times) * 1000:7.1f} ms median of "
                    f"{args.repeat} ({len(body['items'])} items of {body['total']})"
                )


if __name__ == "__main__":
    main()
