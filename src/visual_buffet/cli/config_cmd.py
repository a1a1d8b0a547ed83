"""`visual-buffet config path|show|get|set|unset`."""

from __future__ import annotations

from typing import Annotated

import typer

from visual_buffet.cli.common import State, fail, info, state, toml_text

app = typer.Typer(
    help="Read and change the config file (TOML). Keys are dotted: plugins.siglip.threshold.",
    no_args_is_help=True,
)

KEY = Annotated[str, typer.Argument(help="Dotted key, e.g. plugins.siglip.threshold.")]


def _split(st: State, key: str):  # type: ignore[no-untyped-def]
    from visual_buffet.config import ConfigError, split_key
    from visual_buffet.discovery import discover_plugins

    schemas = {name: p.schema for name, p in discover_plugins().items() if p.ok}
    try:
        return split_key(key, schemas)
    except ConfigError as exc:
        fail(str(exc))


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet)."""
    typer.echo(str(state(ctx).config_path))


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the config file."""
    config = state(ctx).config()
    if not config.exists:
        info(f"No config file at {config.path}: defaults are in use.")
        return
    typer.echo(config.path.read_text(encoding="utf-8"), nl=False)


@app.command("get")
def get(ctx: typer.Context, key: KEY) -> None:
    """Print a value: from the file if set there, else the default (with a note)."""
    from visual_buffet.config import get_value, spellings

    st = state(ctx)
    _, setting, toml_path = _split(st, key)
    data = st.config().data
    for path in spellings(toml_path, setting):
        try:
            typer.echo(toml_text(get_value(data, path)))
            return
        except KeyError:
            continue
    typer.echo(toml_text(setting.to_toml(setting.default)))
    info("(default: not set in the config file)")


@app.command("set")
def set_(
    ctx: typer.Context,
    key: KEY,
    value: Annotated[str, typer.Argument(help="New value; checked against the setting's type.")],
) -> None:
    """Set a value, checked against the plugin's settings. Other keys are kept as they are."""
    from visual_buffet.config import ConfigError, save_config, set_setting
    from visual_buffet.discovery import discover_plugins

    st = state(ctx)
    schemas = {name: p.schema for name, p in discover_plugins().items() if p.ok}
    config = st.config(create=True)  # the one command that may make a --config file
    try:
        setting, typed = set_setting(config, key, value, schemas)
    except ConfigError as exc:
        fail(str(exc))
    save_config(config)
    info(f"{key} = {toml_text(setting.to_toml(typed))}  ({config.path})")


@app.command("unset")
def unset(ctx: typer.Context, key: KEY) -> None:
    """Remove a value from the file, so the default applies again."""
    from visual_buffet.config import (
        ConfigError,
        get_value,
        save_config,
        spellings,
        split_key,
        unset_value,
    )
    from visual_buffet.discovery import discover_plugins

    st = state(ctx)
    config = st.config()
    schemas = {name: p.schema for name, p in discover_plugins().items() if p.ok}
    try:
        _, setting, toml_path = split_key(key, schemas)
        paths = spellings(toml_path, setting)
    except ConfigError as exc:
        # A value of an uninstalled plugin or of a setting that no longer exists must still
        # be removable; anything else is a typo.
        try:
            found = get_value(config.data, key.split("."))
        except KeyError:
            found = {}
        if isinstance(found, dict):
            fail(str(exc))
        paths = [key.split(".")]
    removed = [path for path in paths if unset_value(config.data, path)]
    if not removed:
        info(f"{key} is not set in {config.path}; nothing to do.")
        return
    save_config(config)
    info(f"{key} removed ({config.path})")
