"""`visual-buffet xmp write|remove`: XMP sidecars from stored results, and taking them back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from visual_buffet.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    fail,
    info,
    open_store,
    state,
    warn,
)

if TYPE_CHECKING:
    from visual_buffet.xmp.batch import BatchSummary

app = typer.Typer(
    help="XMP sidecars beside your images, read by Lightroom, darktable, digiKam, Capture One "
    "and Immich (docs/xmp.md).",
    no_args_is_help=True,
)

PathsArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Image files and/or folders.", show_default=False, metavar="[PATH]..."),
]
RecursiveOpt = Annotated[bool, typer.Option("--recursive", "-r", help="Walk folders recursively.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="An XMP setting for this run, KEY=VALUE (repeatable): naming=stem, "
        "hierarchy=false, digikam=false, parents_as_keywords=false.",
        show_default=False,
    ),
]


@app.command()
def write(
    ctx: typer.Context,
    paths: PathsArg = None,
    results: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Take the tags from this `visual-buffet tag --format jsonl|json` output file "
            "instead of the library store.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    library: Annotated[
        Path | None,
        typer.Option(
            "--library",
            help="The library store to read (default: VISUAL_BUFFET_LIBRARY, else "
            "library.sqlite3 in the user data dir).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    recursive: RecursiveOpt = False,
    set_values: SetOpt = None,
) -> None:
    """Write sidecars from results already computed: no model runs.

    The tags come from the library store (every `tag` run keeps its results there), or from
    an output file with --from. Without PATH: every image the store (or the file) holds.

    Examples:

      visual-buffet xmp write photos/ -r

      visual-buffet xmp write --from tags.jsonl --set naming=stem

    Exit codes: 0 all written; 1 some sidecars could not be written or a PATH does not
    exist; 2 usage error.
    """
    from visual_buffet.xmp.batch import ResultsFileError, read_results_file, write_records

    settings = _settings(ctx, set_values)
    if results is None:
        _write_from_library(paths, recursive, library, settings)  # exits
        return
    if library is not None:
        fail("--from and --library contradict each other; pass one of them.")
    try:
        records = read_results_file(results)
    except ResultsFileError as exc:
        fail(str(exc))
    missing = 0
    if paths:
        files, missing = _found(paths, recursive)
        wanted = {_key(p) for p in files}
        records = [r for r in records if _key(Path(r["file"])) in wanted]
        if not records:
            fail(f"{results} holds no results for {', '.join(map(str, paths))}.")
    summary = write_records(records, settings, warn)
    summary.failed += missing
    _report(summary, "written")


def _write_from_library(
    paths: list[Path] | None, recursive: bool, library: Path | None, settings: Any
) -> None:
    from visual_buffet.xmp.batch import library_records, write_records

    store = open_store(library, readonly=True)
    images, missing = _found(paths, recursive) if paths else (None, 0)
    with store:
        summary = write_records(library_records(store, images, warn), settings, warn)
    summary.failed += missing
    if not summary.images:
        fail(f"the library store {store.path} holds no results for these images; tag them first.")
    _report(summary, "written")


@app.command()
def remove(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
) -> None:
    """Take back exactly what Visual Buffet added to the images' sidecars.

    Keywords you had before stay; a sidecar Visual Buffet created is deleted once nothing
    else is left in it. Existing sidecars under either name (IMG.jpg.xmp, IMG.xmp) are
    looked at.

    Example:

      visual-buffet xmp remove photos/ -r

    Exit codes: 0 done; 1 some sidecars could not be changed or a PATH does not exist;
    2 usage error.
    """
    from visual_buffet.xmp.batch import remove_from_images

    if not paths:
        fail("give the images or folders whose sidecars to clean, e.g. `xmp remove photos/ -r`.")
    settings = _settings(ctx, None)
    files, missing = _found(paths, recursive)
    summary = remove_from_images(files, settings.naming, warn)
    summary.failed += missing
    _report(summary, "cleaned")


def _settings(ctx: typer.Context, set_values: list[str] | None) -> Any:
    from visual_buffet.config import HOST_SCHEMA
    from visual_buffet.settings import SettingError
    from visual_buffet.xmp.sidecar import XmpSettings

    config = state(ctx).config()
    layer: dict[str, Any] = {}
    for item in set_values or []:
        key, sep, raw = item.partition("=")
        key = key.strip().removeprefix("images.").removeprefix("xmp.")
        if not sep or HOST_SCHEMA.get(f"xmp.{key}") is None:
            fail(
                f"--set {item!r}: expected one of naming=, hierarchy=, digikam=, "
                "parents_as_keywords= with a value."
            )
        layer[f"xmp.{key}"] = raw
    try:
        values, _ = HOST_SCHEMA.resolve(
            [(f"{config.source} [images]", config.host_values()), ("--set", layer)]
        )
    except SettingError as exc:
        fail(str(exc))
    return XmpSettings.from_values(values)


def _key(path: Path) -> str:
    return str(path.resolve())


def _found(paths: list[Path], recursive: bool) -> tuple[list[Path], int]:
    """The images under ``paths``, and how many paths do not exist (each warned about and
    counted as failed, as `tag` counts them)."""
    from visual_buffet.scan import find_images

    scan = find_images(paths, recursive=recursive)
    for path in scan.missing:
        warn(f"{path}: no such file or folder.")
    if not scan.files and not scan.missing:
        hint = "" if recursive else " (use --recursive to look inside sub-folders)"
        fail(f"no images found in {', '.join(map(str, paths))}{hint}.")
    return scan.files, len(scan.missing)


def _report(summary: BatchSummary, verb: str) -> None:
    parts = [f"{summary.written} sidecar(s) {verb}"]
    if summary.created:
        parts.append(f"{summary.created} new")
    if summary.deleted:
        parts.append(f"{summary.deleted} deleted (nothing else was left in them)")
    if summary.removed_keywords:
        parts.append(f"{summary.removed_keywords} keyword value(s) taken back")
    if summary.untouched:
        parts.append(f"{summary.untouched} image(s) with nothing to do")
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    info(", ".join(parts) + ".")
    raise typer.Exit(EXIT_SOME_FAILED if summary.failed else EXIT_OK)
