"""`visual-buffet retag`: new tags for stored images from their stored embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from visual_buffet.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    err_console,
    fail,
    info,
    open_store,
    warn,
)
from visual_buffet.cli.options import (
    TaggedDtype,
    TaggedQuality,
    TaggedQuantization,
    TaggedVariant,
    embedding_plugin_option,
    flag_option,
    format_option,
    library_option,
    output_option,
    set_option,
)


def retag(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Stored images to re-tag: files or folders, matched against the paths stored "
            "when they were tagged (they need not exist any more). Default: every stored image.",
            show_default=False,
            metavar="PATH",
        ),
    ] = None,
    plugin: Annotated[
        str | None,
        embedding_plugin_option("re-score"),
    ] = None,
    library: Annotated[
        Path | None,
        library_option(
            "Library store to use (default: VISUAL_BUFFET_LIBRARY, else library.sqlite3 "
            "in the user data folder).",
            dir_okay=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        output_option(
            "Write results to this file instead of the terminal (as for `tag`).",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace the -o file if it exists."),
    ] = False,
    fmt: Annotated[
        str | None,
        format_option(
            "table, json or jsonl (as for `tag`). Default: from the -o suffix, else table.",
        ),
    ] = None,
    quality: TaggedQuality = None,
    threshold: Annotated[str | None, flag_option("Lowest confidence reported (0-1).")] = None,
    limit: Annotated[str | None, flag_option("Most tags per image (0 = unlimited).")] = None,
    variant: TaggedVariant = None,
    dtype: TaggedDtype = None,
    quantization: TaggedQuantization = None,
    vocabulary: Annotated[str | None, flag_option("Text file with one tag per line.")] = None,
    set_values: Annotated[
        list[str] | None,
        set_option("Any plugin setting, KEY=VALUE (repeatable), e.g. max_candidates=2000."),
    ] = None,
) -> None:
    """New tags for stored images with the current threshold, limit and vocabulary, from
    the embeddings stored when they were tagged: no image is read, the vision model never
    runs (new labels only need the text model, once; their embeddings are cached).

    The model and view settings (--variant, --quality, --set model=...) select which stored
    embeddings to use: give the ones you tagged with. The new tags are written back to the
    library, so `tag` with the same settings emits them from there. Records say
    "tags_from": "embeddings".

    Examples:

      visual-buffet retag --vocabulary ~/my_tags.txt --format jsonl -o new-tags.jsonl

      visual-buffet retag /media/usb/photos --threshold 0.03

    Exit codes: 0 done; 1 the output or the store could not be written; 2 usage error or
    nothing stored to re-tag (an existing -o file is untouched); 130 / 143 Ctrl-C / SIGTERM
    (the batches of 256 images finished before it are stored).
    """
    from visual_buffet.cli.embedding_plugin import resolve_embedding_plugin
    from visual_buffet.cli.signals import (
        EXIT_INTERRUPTED,
        EXIT_PIPE_CLOSED,
        Terminated,
        quiet_stdout,
        terminate_as_interrupt,
    )
    from visual_buffet.library.retag import Retag, RetagError
    from visual_buffet.output import (
        OutputClosed,
        OutputError,
        check_output_path,
        make_writer,
        output_format,
    )
    from visual_buffet.plugin_api import PluginError

    try:
        chosen_fmt = output_format(fmt, output)
        if output is not None:
            check_output_path(output, chosen_fmt, overwrite=overwrite)
    except OutputError as exc:
        fail(str(exc))
    flags = {
        "quality": quality,
        "threshold": threshold,
        "limit": limit,
        "variant": variant,
        "dtype": dtype,
        "quantization": quantization,
        "vocabulary": vocabulary,
    }
    resolved = resolve_embedding_plugin(ctx, plugin, flags, set_values, "retag")
    store = open_store(library, readonly=False)
    with store:
        writer = make_writer(chosen_fmt, output, None)
        try:
            job = Retag(
                store,
                resolved.construct(),
                resolved.plain,
                paths or [],
                [writer],
                use_previews=resolved.use_previews,
            )
            selected, unmatched = job.select()
        except (RetagError, PluginError) as exc:
            fail(str(exc))
        for target in unmatched:
            warn(f"{target}: no stored image there with these settings; skipped.")
        try:
            with terminate_as_interrupt():
                summary = job.run(selected)
        except PluginError as exc:
            fail(f"the new labels need {resolved.name}'s text model, which could not load: {exc}")
        except KeyboardInterrupt as exc:
            code = exc.exit_code if isinstance(exc, Terminated) else EXIT_INTERRUPTED
            err_console.print("[yellow]interrupted:[/yellow] the batches finished are stored.")
            raise typer.Exit(code) from None
        except OutputClosed:
            quiet_stdout()  # the reader is gone (`| head`): stop quietly
            raise typer.Exit(EXIT_PIPE_CLOSED) from None
        except OutputError as exc:  # also the store: what finished is kept
            fail(str(exc), code=EXIT_SOME_FAILED)
    if output is not None or chosen_fmt != "table":
        info(_done(summary.images, summary.elapsed_s))
    raise typer.Exit(EXIT_OK)


def _done(images: int, seconds: float) -> str:
    return f"{images} image(s) re-tagged from stored embeddings in {seconds:.2f} s."
