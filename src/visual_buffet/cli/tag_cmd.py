"""`visual-buffet tag`: tag images and folders with one or more plugins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from visual_buffet.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    err_console,
    fail,
    info,
    open_store,
    plain_values,
    resolve_host_values,
    resolve_plugin_values,
    state,
    warn,
)
from visual_buffet.cli.options import flag_option as _flag
from visual_buffet.cli.options import format_option, library_option, output_option, set_option
from visual_buffet.cli.plugin_choice import choose_plugins as _choose_plugins
from visual_buffet.cli.plugin_choice import cli_layers as _cli_layers

if TYPE_CHECKING:
    from visual_buffet.scan import ImageScan


def tag(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help="Image files and/or folders.", show_default=False, metavar="PATH"),
    ],
    plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--plugin",
            "-p",
            help="Plugin to use (repeatable). Default: the plugins enabled in the config.",
            show_default=False,
            metavar="NAME",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Walk folders recursively.")
    ] = False,
    output: Annotated[
        Path | None,
        output_option(
            "Write results to this file instead of the terminal. Its folder must exist; "
            "an existing file is replaced only with --overwrite. The suffix chooses the "
            "format when --format is not given: .json, .jsonl, anything else a table.",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace the -o file if it exists (else the run is refused)."
        ),
    ] = False,
    fmt: Annotated[
        str | None,
        format_option(
            "table (readable), json (one document) or jsonl (one line per image, "
            "streamed as images finish). Default: from the -o suffix, else table.",
        ),
    ] = None,
    library: Annotated[
        Path | None,
        library_option(
            "Library store to resume from and keep results in (default: "
            "VISUAL_BUFFET_LIBRARY, else library.sqlite3 in the user data dir; "
            "`visual-buffet library path` prints it). See docs/library.md."
        ),
    ] = None,
    no_library: Annotated[
        bool,
        typer.Option(
            "--no-library",
            help="Keep nothing and reuse nothing: every image through the model, no store.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Run every image through the model even when the library has its result "
            "(the new result replaces it).",
        ),
    ] = False,
    quality: Annotated[str | None, _flag("quick, standard, high or max.")] = None,
    threshold: Annotated[str | None, _flag("Lowest confidence reported (0-1).")] = None,
    limit: Annotated[str | None, _flag("Most tags per image (0 = unlimited).")] = None,
    variant: Annotated[str | None, _flag("Model variant, e.g. base, so400m, v2-naflex.")] = None,
    batch_size: Annotated[str | None, _flag("Views per forward pass: auto or 1-32.")] = None,
    quantization: Annotated[str | None, _flag("none, 8bit or 4bit.")] = None,
    attention: Annotated[str | None, _flag("auto, sdpa, flash_attention_2 or eager.")] = None,
    dtype: Annotated[str | None, _flag("auto, float16, bfloat16 or float32.")] = None,
    vocabulary: Annotated[str | None, _flag("Text file with one tag per line.")] = None,
    xmp: Annotated[
        bool | None,
        typer.Option(
            "--xmp/--no-xmp",
            help="Also write the tags into an XMP sidecar beside each image (IMG.jpg.xmp; "
            "merged into an existing one; docs/xmp.md). Default: images.xmp.write.",
            show_default=False,
        ),
    ] = None,
    set_values: Annotated[
        list[str] | None,
        set_option(
            "Any plugin or image setting, KEY=VALUE (repeatable). KEY may be scoped: "
            "siglip.max_candidates=2000, images.max_pixels=200000000."
        ),
    ] = None,
) -> None:
    """Tag images and print or write the tags with their confidences.

    Examples:

      visual-buffet tag photo.jpg --plugin siglip

      visual-buffet tag photo.jpg --plugin siglip --variant giant --quality max

      visual-buffet tag photos/ -r --plugin siglip --batch-size 8 --format jsonl -o tags.jsonl

      visual-buffet tag photo.jpg --plugin siglip --vocabulary ~/my_tags.txt

    Every result is kept in the library store as it finishes: a rerun emits stored results
    ("tags_from": "store") without loading the model, re-scores stored embeddings when only
    the threshold, limit or vocabulary changed ("embeddings"), and runs the model on the
    rest ("model"). --force re-tags; --no-library keeps nothing.

    Exit codes: 0 all images tagged; 1 some images failed (the others were tagged and
    written), or the output could not be written (e.g. a full disk); 2 usage or
    configuration error (nothing was run, an existing -o file is untouched); 130 Ctrl-C,
    143 SIGTERM (the images finished so far are written: see docs/output.md).
    """
    from visual_buffet.discovery import discover_plugins
    from visual_buffet.output import OutputError, check_output_path, output_format

    try:  # before any model loads: a run must not tag for an hour, then fail to write
        fmt = output_format(fmt, output)
        if output is not None:
            check_output_path(output, fmt, overwrite=overwrite)
    except OutputError as exc:
        fail(str(exc))
    st = state(ctx)
    config = st.config()
    plugins = discover_plugins()

    chosen = _choose_plugins(plugin, plugins, config)
    flag_values = {
        "quality": quality,
        "threshold": threshold,
        "limit": limit,
        "variant": variant,
        "batch-size": batch_size,
        "quantization": quantization,
        "attention": attention,
        "dtype": dtype,
        "vocabulary": vocabulary,
    }
    layers, host_layer = _cli_layers(chosen, plugins, flag_values, set_values or [])

    # --- validate everything before reading any image -------------------------------------
    host_values = resolve_host_values(config, host_layer)
    resolved = {name: resolve_plugin_values(plugins[name], config, layers[name]) for name in chosen}

    scan = _find_images(paths, recursive, bool(host_values["include_hidden"].value))
    if library is not None and no_library:
        fail("--library and --no-library contradict each other; pass one of them.")
    store = None if no_library else open_store(library)
    try:
        exit_code = _execute(
            fmt=fmt,
            output=output,
            classes={n: plugins[n].plugin_class for n in chosen},
            settings=resolved,
            files=scan.files,
            missing=scan.missing,
            host_values={k: v.value for k, v in host_values.items()},
            scan=scan,
            xmp=host_values["xmp.write"].value if xmp is None else xmp,
            library=store,
            force=force,
        )
    finally:
        if store is not None:
            store.close()
    raise typer.Exit(exit_code)


def _find_images(paths: list[Path], recursive: bool, include_hidden: bool) -> ImageScan:
    """The image files under ``paths``; what was skipped and why is said on stderr, and a
    run that finds nothing to tag exits 2."""
    from visual_buffet.scan import find_images

    scan = find_images(paths, recursive=recursive, include_hidden=include_hidden)
    if not scan.files and not scan.missing:
        # --recursive only helps where there are sub-folders it would enter.
        hint = " (use --recursive to look inside sub-folders)" if scan.skipped_subdirs else ""
        fail(f"no images found in {', '.join(map(str, paths))}{hint}.")
    skipped = []
    if scan.skipped_hidden:
        skipped.append(f"{scan.skipped_hidden} hidden")
    if scan.skipped_non_image:
        skipped.append(f"{scan.skipped_non_image} non-image")
    if skipped:
        info(f"skipped {' and '.join(skipped)} file(s).")
    if scan.skipped_subdirs:
        info(f"{scan.skipped_subdirs} sub-folder(s) not entered; use --recursive to tag them too.")
    for path in scan.unreadable:
        warn(f"{path}: cannot be read (permissions, or a link that leads nowhere); skipped.")
    return scan


def _execute(  # type: ignore[no-untyped-def]
    *, fmt, output, classes, settings, files, missing, host_values, scan, xmp, library, force
) -> int:
    """Run :class:`visual_buffet.tagging.TaggingRun` with a progress bar; return the exit code."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from visual_buffet.cli.signals import (
        EXIT_INTERRUPTED,
        EXIT_PIPE_CLOSED,
        Terminated,
        quiet_stdout,
        terminate_as_interrupt,
    )
    from visual_buffet.output import OutputClosed, OutputError, make_writer
    from visual_buffet.tagging import PluginLoadFailed, RunProgress, TaggingRun, plugin_jobs

    writer = make_writer(fmt, output, None)  # type: ignore[arg-type]
    sinks: list[Any] = [writer]
    sidecars = None
    if xmp:
        from visual_buffet.xmp import SidecarSink, XmpSettings

        sidecars = SidecarSink(XmpSettings.from_values(host_values), on_error=warn)
        sinks.append(sidecars)
    jobs = plugin_jobs(
        classes,
        {n: {k: v.value for k, v in values.items()} for n, values in settings.items()},
        {n: plain_values(values) for n, values in settings.items()},
    )
    total = (len(files) + len(missing)) * len(jobs)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not (total > 1 and err_console.is_terminal),
    )
    task = progress.add_task("tagging", total=total)
    warn_each_error = fmt != "table" or output is not None  # the table shows them itself

    def on_progress(event: RunProgress) -> None:
        if event.record is None:
            if event.phase != "done":
                description = {"loading": "loading", "checking": "checking stored"}.get(
                    event.phase, "tagging"
                )
                progress.update(task, description=f"{description} {event.plugin}")
            return
        record = event.record
        if record["error"] is not None and warn_each_error:
            message = record["error"]["message"]
            if not message.startswith(record["file"]):
                message = f"{record['file']}: {message}"
            warn(message)
        progress.update(task, completed=event.done)

    run = TaggingRun(
        jobs,
        files,
        missing=missing,
        sinks=sinks,
        workers=host_values["workers"],
        max_pixels=host_values["max_pixels"],
        use_previews=host_values["use_previews"],
        on_progress=on_progress,
        on_warning=warn,
        summary_extra={
            "skipped_hidden": scan.skipped_hidden,
            "skipped_non_image": scan.skipped_non_image,
        },
        library=library,
        force=force,
    )
    try:
        with progress, terminate_as_interrupt():
            summary = run.run()
    except PluginLoadFailed as exc:
        fail(str(exc))
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, Terminated) else EXIT_INTERRUPTED
        if run.delivered:
            where = f" to {output}" if output is not None else ""
            done = f"the {_results(run.delivered)} finished before it are written{where}"
        else:
            done = "nothing was finished" + (f"; {output} is left as it was" if output else "")
        err_console.print(f"[yellow]interrupted:[/yellow] {escape(done)}.")
        raise typer.Exit(code) from None
    except OutputClosed:
        quiet_stdout()  # the reader is gone (`| head`): no traceback, no more writes
        raise typer.Exit(EXIT_PIPE_CLOSED) from None
    except OutputError as exc:
        kept = f" The {_results(run.delivered)} finished before it are kept." * bool(run.delivered)
        fail(f"{exc}{kept}", code=EXIT_SOME_FAILED)
    if summary.failed:
        info(f"{summary.tagged} tagged, {summary.failed} failed.")
    reused = summary.tags_from["store"] + summary.tags_from["embeddings"]
    if reused:
        counts = summary.tags_from
        info(
            f"{counts['store']} from the library store, {counts['embeddings']} re-scored from "
            f"stored embeddings, {counts['model']} through the model ({library.path})."
        )
    if sidecars is not None:
        failed = f", {sidecars.failed} could not be written" if sidecars.failed else ""
        info(f"{sidecars.written} XMP sidecar(s) written{failed}.")
    if summary.nothing_could_run:
        return EXIT_USAGE
    return EXIT_SOME_FAILED if summary.failed or (sidecars and sidecars.failed) else EXIT_OK


def _results(count: int) -> str:
    """``1 result`` / ``3 results``: one per image and plugin."""
    return f"{count} result{'s' if count != 1 else ''}"
