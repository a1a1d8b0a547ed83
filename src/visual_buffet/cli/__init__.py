"""The `visual-buffet` command line. Each sub-command group lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from visual_buffet import __version__
from visual_buffet.cli import (
    config_cmd,
    gui_cmd,
    hardware_cmd,
    library_cmd,
    plugins_cmd,
    retag_cmd,
    search_cmd,
    tag_cmd,
    xmp_cmd,
)
from visual_buffet.cli.common import State
from visual_buffet.cli.readable_help import ReadableHelpGroup

app = typer.Typer(
    name="visual-buffet",
    help=(
        "Tag photos on your own machine with SigLIP and other plugin taggers.\n\n"
        "Examples:\n\n"
        "  visual-buffet tag photo.jpg --plugin siglip\n\n"
        "  visual-buffet tag photos/ --recursive --format jsonl -o tags.jsonl\n\n"
        "  visual-buffet plugins list\n\n"
        "  visual-buffet config set plugins.siglip.threshold 0.02"
    ),
    no_args_is_help=True,
    cls=ReadableHelpGroup,  # every command's --help shows FILE / NAME, not <list[str]>
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(name="tag", no_args_is_help=True)(tag_cmd.tag)
app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(config_cmd.app, name="config")
app.add_typer(library_cmd.app, name="library")
app.command(name="hardware")(hardware_cmd.hardware)
app.command(name="gui")(gui_cmd.gui)
app.add_typer(xmp_cmd.app, name="xmp")
app.command(name="retag")(retag_cmd.retag)
app.command(name="search", no_args_is_help=True)(search_cmd.search)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"visual-buffet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file to use instead of the default "
            "(also settable with the VISUAL_BUFFET_CONFIG environment variable).",
            dir_okay=False,
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = State(config_override=config)


def main() -> None:
    """Console-script entry point."""
    app()
