"""Options that several commands share, declared once (``tag``, ``retag``, ``search``...)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

PLUGIN_PANEL = "Plugin settings (see `visual-buffet plugins info NAME`)"


def flag_option(help_text: str) -> Any:
    """A dedicated plugin-setting flag (``--quality``...), shown in the plugin panel."""
    return typer.Option(
        show_default=False, help=help_text, rich_help_panel=PLUGIN_PANEL, metavar="VALUE"
    )


def set_option(help_text: str) -> Any:
    """``--set KEY=VALUE`` (repeatable), shown in the plugin panel."""
    return typer.Option(
        "--set",
        help=help_text,
        show_default=False,
        metavar="KEY=VALUE",
        rich_help_panel=PLUGIN_PANEL,
    )


def library_option(help_text: str, **extra: Any) -> Any:
    """``--library FILE``: the library store a command reads or writes."""
    return typer.Option("--library", help=help_text, show_default=False, metavar="FILE", **extra)


def embedding_plugin_option(purpose: str) -> Any:
    """``--plugin NAME`` of the commands that use stored embeddings (``retag``, ``search``)."""
    return typer.Option(
        "--plugin",
        "-p",
        help=f"Plugin whose stored embeddings to {purpose}. Default: the first enabled "
        "plugin that stores embeddings (siglip).",
        show_default=False,
        metavar="NAME",
    )


def output_option(help_text: str) -> Any:
    """``--output / -o FILE`` of the commands that write records (``tag``, ``retag``)."""
    return typer.Option(
        "--output", "-o", help=help_text, dir_okay=False, show_default=False, metavar="FILE"
    )


def format_option(help_text: str) -> Any:
    """``--format / -f`` of the commands that write records (``tag``, ``retag``)."""
    return typer.Option(
        "--format", "-f", help=help_text, show_default=False, metavar="table|json|jsonl"
    )


# The settings that select which stored embeddings `retag` and `search` use.
TaggedQuality = Annotated[str | None, flag_option("The quality the images were tagged at.")]
TaggedVariant = Annotated[str | None, flag_option("The model variant the images were tagged with.")]
TaggedDtype = Annotated[str | None, flag_option("The dtype the images were tagged with.")]
TaggedQuantization = Annotated[str | None, flag_option("The quantization they were tagged with.")]
