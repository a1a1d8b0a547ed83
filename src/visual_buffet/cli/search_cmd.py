"""`visual-buffet search`: find stored images by text, by a similar image, or duplicates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from visual_buffet.cli.common import fail, open_store
from visual_buffet.cli.options import (
    TaggedDtype,
    TaggedQuality,
    TaggedQuantization,
    TaggedVariant,
    embedding_plugin_option,
    library_option,
    set_option,
)


def search(
    ctx: typer.Context,
    text: Annotated[
        str | None,
        typer.Argument(
            help="What to find, in words (e.g. 'a dog on a beach').",
            show_default=False,
            metavar="TEXT",
        ),
    ] = None,
    like: Annotated[
        Path | None,
        typer.Option(
            "--like",
            help="Rank by similarity to this image instead (stored or not; an image that is "
            "not stored is embedded by the model).",
            dir_okay=False,
            show_default=False,
            metavar="IMAGE",
        ),
    ] = None,
    duplicates: Annotated[
        bool,
        typer.Option(
            "--duplicates",
            help="List pairs of stored images that look the same (copies, re-encoded or "
            "resized versions) instead.",
        ),
    ] = False,
    min_similarity: Annotated[
        float,
        typer.Option(
            "--min-similarity",
            help="--duplicates: the lowest cosine of two whole-image embeddings listed.",
            min=-1.0,
            max=1.0,
            metavar="COSINE",
        ),
    ] = 0.95,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", help="Most images listed (0 = all).", min=0, metavar="N"),
    ] = 20,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print JSON: a list of {"file", "score", "found_in"} (--duplicates: '
            '{"first", "second", "similarity"}), best first.',
        ),
    ] = False,
    plugin: Annotated[
        str | None,
        embedding_plugin_option("search"),
    ] = None,
    library: Annotated[
        Path | None,
        library_option(
            "Library store to search (default: VISUAL_BUFFET_LIBRARY, else "
            "library.sqlite3 in the user data folder).",
            dir_okay=False,
        ),
    ] = None,
    quality: TaggedQuality = None,
    variant: TaggedVariant = None,
    dtype: TaggedDtype = None,
    quantization: TaggedQuantization = None,
    set_values: Annotated[
        list[str] | None,
        set_option("Any plugin setting, KEY=VALUE (repeatable), e.g. model=/path/to/checkpoint."),
    ] = None,
) -> None:
    """Find stored images: ranked by the model's own score for TEXT (the confidence a tag of
    that text would get, the best over each image's views), by similarity to an image
    (--like), or list near-duplicates (--duplicates). Only the library store is read: no
    photo is opened, and the vision model runs only for a --like image that is not stored.

    The model and view settings (--variant, --quality, --set model=...) select which stored
    embeddings to search: give the ones you tagged with.

    Examples:

      visual-buffet search "red circle"

      visual-buffet search "a dog on a beach" --limit 5 --json

      visual-buffet search --like holiday/IMG_0042.jpg

      visual-buffet search --duplicates --min-similarity 0.97
    """
    from visual_buffet.cli.embedding_plugin import resolve_embedding_plugin
    from visual_buffet.library.search import LibrarySearch, SearchError

    asked = [name for name, given in (("TEXT", text), ("--like", like)) if given is not None]
    if duplicates:
        asked.append("--duplicates")
    if len(asked) != 1:
        fail(
            "give exactly one of TEXT, --like IMAGE or --duplicates "
            f"({'none' if not asked else ' and '.join(asked)} given). "
            'Example: visual-buffet search "red circle".'
        )
    flags = {"quality": quality, "variant": variant, "dtype": dtype, "quantization": quantization}
    resolved = resolve_embedding_plugin(ctx, plugin, flags, set_values, "search")
    store = open_store(library, readonly=True)
    with store:
        finder = LibrarySearch(store, resolved.construct(), resolved.use_previews)
        try:
            if duplicates:
                pairs = [p.to_dict() for p in finder.duplicates(min_similarity)]
                _print_pairs(pairs[:limit] if limit else pairs, as_json, len(pairs))
                return
            hits = finder.text(text, limit) if text is not None else finder.like(like, limit)  # type: ignore[arg-type]
        except SearchError as exc:
            fail(str(exc))
        _print_hits([h.to_dict() for h in hits], as_json, "score" if text else "similarity")


def _print_hits(hits: list[dict[str, Any]], as_json: bool, score_name: str) -> None:
    if as_json:
        typer.echo(json.dumps(hits, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from visual_buffet.output import describe_view

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column(score_name, justify="right")
    table.add_column("file")
    table.add_column("found in")
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank), f"{hit['score']:.4f}", escape(hit["file"]), describe_view(hit["found_in"])
        )
    Console().print(table)


def _print_pairs(pairs: list[dict[str, Any]], as_json: bool, total: int) -> None:
    if as_json:
        typer.echo(json.dumps(pairs, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from visual_buffet.cli.common import info

    if not pairs:
        info("no duplicates found.")
        return
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("similarity", justify="right")
    table.add_column("image")
    table.add_column("looks like")
    for pair in pairs:
        table.add_row(f"{pair['similarity']:.4f}", escape(pair["first"]), escape(pair["second"]))
    Console().print(table)
    if total > len(pairs):
        info(f"{total - len(pairs)} more pair(s); raise --limit to see them.")
