"""`visual-buffet library path|stats|forget|vacuum`: the library store (docs/library.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from visual_buffet.cli.common import info, open_store, print_json

app = typer.Typer(
    help="The library store: every tagged image's results and embeddings, kept on this "
    "machine so reruns resume and re-tagging needs no model (docs/library.md).",
    no_args_is_help=True,
)

LIBRARY = Annotated[
    Path | None,
    typer.Option(
        "--library",
        help="The store to use (default: VISUAL_BUFFET_LIBRARY, else library.sqlite3 in the "
        "user data dir).",
        show_default=False,
        metavar="FILE",
    ),
]


def _where(library: Path | None) -> Path:
    from visual_buffet import paths

    return library.expanduser() if library is not None else paths.library_path()


@app.command("path")
def path(library: LIBRARY = None) -> None:
    """Print the library store's path (it may not exist yet)."""
    typer.echo(str(_where(library)))


@app.command("stats")
def stats(
    library: LIBRARY = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many images, results and embeddings the store holds, and its size on disk."""
    where = _where(library)
    if not where.exists() and not where.is_dir():
        if as_json:
            print_json({"path": str(where), "exists": False, "images": 0, "bytes": 0})
        else:
            info(f"no library store at {where} yet: `visual-buffet tag` creates it.")
        return
    with open_store(library, readonly=True) as store:
        data = {"exists": True, **store.stats()}
    if as_json:
        print_json(data)
        return
    typer.echo(f"store       {data['path']}")
    typer.echo(f"schema      version {data['schema_version']}")
    typer.echo(f"images      {data['images']} ({data['paths']} paths)")
    for name, entry in data["plugins"].items():
        embedded = entry.get("embedded_images", 0)
        line = f"{entry['images']} images, {entry['records']} results"
        if embedded:
            line += f", {embedded} with embeddings ({_size(entry['embedding_bytes'])})"
        typer.echo(f"  {name:<10}{line}")
    typer.echo(f"size        {_size(data['bytes'])} ({_size(data['bytes_per_image'])} per image)")


@app.command("forget")
def forget(
    targets: Annotated[
        list[Path],
        typer.Argument(
            help="Image files or folders (everything stored under a folder).",
            show_default=False,
            metavar="PATH",
        ),
    ],
    library: LIBRARY = None,
) -> None:
    """Forget the images stored at these paths: their results, embeddings and other paths.

    The files themselves are not touched. Run `visual-buffet library vacuum` afterwards to
    give the space back to the disk.
    """
    with open_store(library) as store:
        count = store.forget(targets)
    info(f"forgot {count} image(s) in {_where(library)}.")


@app.command("vacuum")
def vacuum(library: LIBRARY = None) -> None:
    """Drop images that no stored path leads to any more and compact the store file."""
    with open_store(library) as store:
        done = store.vacuum()
    info(
        f"{_where(library)}: {_size(done['bytes_before'])} -> {_size(done['bytes_after'])}"
        f" ({done['images_dropped']} unreachable image(s) dropped)."
    )


def _size(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
