"""`visual-buffet gui`: serve the local web app (the ``gui`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from visual_buffet.cli.common import fail, info, state, warn
from visual_buffet.install_hints import install_command


def gui(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", help="Port to serve on (0: any free port).", min=0, max=65535)
    ] = 8420,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. The default serves this machine only; another address "
            "lets the network reach it (a warning is printed).",
        ),
    ] = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser; just print the URL.")
    ] = False,
    folder: Annotated[
        list[Path] | None,
        typer.Option(
            "--folder",
            help="A folder whose photos the GUI may show (repeatable). Folders tagged from "
            "the Tag page and those of stored photos are allowed anyway.",
            file_okay=False,
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Open the GUI in the browser: library, search, tagging with live progress, settings.

    Prints the address with its access token on stdout (one line); stop with Ctrl-C.
    Needs the gui extra: pip install ".\\[gui]" in the checkout (docs/gui.md).
    """
    try:
        from visual_buffet.gui.server import ServeError, serve
    except ImportError as exc:
        fail(
            f"the GUI needs the gui extra ({(exc.name or '?').split('.')[0]} is not installed): "
            f"{install_command('gui')}."
        )
    config_path = state(ctx).config_path
    try:
        serve(
            host=host,
            port=port,
            open_browser=not no_browser,
            config_path=config_path,
            folders=folder or [],
            announce=lambda url: typer.echo(url),
            warn=lambda message: warn(message.removeprefix("warning: ")),
        )
    except ServeError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
    info("GUI stopped.")
