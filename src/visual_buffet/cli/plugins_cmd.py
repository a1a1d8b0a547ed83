"""`visual-buffet plugins list|info|setup`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from visual_buffet.cli.common import (
    fail,
    info,
    plain_values,
    print_json,
    resolve_settings,
    state,
    toml_text,
)
from visual_buffet.install_hints import install_command

app = typer.Typer(
    help="List installed plugins, show their settings, fetch their models.", no_args_is_help=True
)

JSON_OPTION = typer.Option("--json", help="Print JSON instead of a table.")


@app.command("list")
def list_plugins(json_out: Annotated[bool, JSON_OPTION] = False) -> None:
    """List installed plugins, including those that failed to import (with the reason)."""
    from visual_buffet.discovery import discover_plugins

    plugins = discover_plugins()
    if json_out:
        print_json([p.to_dict() for p in plugins.values()])
        return
    if not plugins:
        info(
            "No plugins installed. The SigLIP plugin ships with visual-buffet; "
            f"reinstall with `{install_command()}`."
        )
        return
    table = Table(show_edge=False)
    for column in ("name", "version", "status", "description"):
        table.add_column(column, overflow="fold")
    for p in plugins.values():
        cls = p.plugin_class
        status = "ok" if cls else f"[red]error[/red]: {escape(p.error or '')}"
        table.add_row(
            p.name, cls.version if cls else "?", status, cls.description if cls else p.target
        )
    Console().print(table)


@app.command("info")
def plugin_info(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Plugin name, e.g. siglip.", metavar="NAME")],
    json_out: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show a plugin's settings: defaults, allowed values, current values and their source."""
    found = _get(name)
    config = state(ctx).config()
    values, warnings = resolve_settings(found, config)
    settings = []
    for setting in found.schema:
        current = values[setting.name]
        settings.append(
            {
                "key": setting.name,
                "aliases": list(setting.aliases),
                "flag": f"--{setting.flag}" if setting.flag else None,
                "type": setting.kind,
                "default": setting.to_toml(setting.default),
                "allowed": setting.allowed(),
                "value": plain_values({"v": current})["v"],
                "source": current.source,
                "help": setting.help,
            }
        )
    if json_out:
        print_json(
            {
                **found.to_dict(),
                "config_file": str(config.path),
                "settings": settings,
                "warnings": warnings,
            }
        )
        return
    cls = found.plugin_class
    console = Console()
    console.print(f"[bold]{found.name}[/bold] {cls.version} — {cls.description}")
    console.print(
        f"confidences: {'calibrated probabilities' if cls.calibrated else 'scores'}"
        + (
            f"; recommended threshold {cls.recommended_threshold}"
            if cls.recommended_threshold is not None
            else ""
        )
    )
    console.print(escape(f"config: [plugins.{found.name}] in {config.path}\n"))
    for s in settings:
        aliases = f" (alias {', '.join(s['aliases'])})" if s["aliases"] else ""
        flag = f"  {s['flag']}" if s["flag"] else ""
        console.print(
            f"[bold]{escape(s['key'])}[/bold]{escape(aliases)}{escape(flag)} = "
            f"[cyan]{escape(toml_text(s['value']))}[/cyan]  [dim]from {escape(s['source'])}[/dim]",
            highlight=False,
        )
        console.print(f"    {escape(s['help'])}", highlight=False)
        console.print(
            f"    [dim]allowed: {escape(s['allowed'])}; default: "
            f"{escape(toml_text(s['default']))}[/dim]",
            highlight=False,
        )
    for message in warnings:
        info(f"warning: {message}")


@app.command("setup")
def setup(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Plugin name, e.g. siglip.", metavar="NAME")],
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="The model variant to fetch (as `tag --variant`), instead of the configured one.",
            show_default=False,
            metavar="NAME",
        ),
    ] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any other setting for this setup, KEY=VALUE (repeatable), e.g. "
            "model=google/siglip2-base-patch16-224 or use_v2=true.",
            show_default=False,
            metavar="KEY=VALUE",
        ),
    ] = None,
) -> None:
    """Let a plugin fetch what it needs ahead of time (e.g. model weights), with progress.

    It fetches what `visual-buffet tag` would use with the same --variant / --set: the
    configured model by default.

    Examples:

      visual-buffet plugins setup siglip --variant base

      visual-buffet plugins setup siglip --set model=google/siglip2-so400m-patch14-384
    """
    from visual_buffet.plugin_api import PluginError

    found = _get(name)
    layers: list[tuple[str, dict[str, str]]] = []
    if variant is not None:
        setting = found.schema.by_flag("variant")
        if setting is None:
            fail(f"--variant is not a setting of {name}. Run `visual-buffet plugins info {name}`.")
        layers.append(("--variant", {setting.name: variant}))
    for item in set_values or []:
        key, sep, raw = item.partition("=")
        key = key.strip().removeprefix(f"{name}.")
        if not sep or not key:
            fail(f"--set {item!r}: expected KEY=VALUE, e.g. --set model=/path/to/checkpoint.")
        if found.schema.get(key) is None:
            fail(f"--set {key}: {name} has no setting {key!r}.{found.schema.suggest(key)}")
        layers.append(("--set", {key: raw}))
    values, warnings = resolve_settings(found, state(ctx).config(), layers)
    for message in warnings:
        info(f"warning: {message}")
    try:
        plugin = found.plugin_class({k: v.value for k, v in values.items() if k != "enabled"})
        plugin.setup(info)
    except PluginError as exc:
        fail(str(exc), code=1)


def _get(name: str):  # type: ignore[no-untyped-def]
    from visual_buffet.discovery import discover_plugins

    plugins = discover_plugins()
    if name not in plugins:
        fail(f"no plugin named {name!r} is installed (installed: {', '.join(plugins) or 'none'}).")
    found = plugins[name]
    if not found.ok:
        fail(f"plugin {name} failed to load: {found.error}")
    return found
