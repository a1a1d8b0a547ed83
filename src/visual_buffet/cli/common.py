"""Shared pieces of the CLI: state, the error console, loading config and plugins."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from visual_buffet import paths
from visual_buffet.config import ConfigError, ConfigFile, load_config
from visual_buffet.settings import SettingValue

if TYPE_CHECKING:
    from visual_buffet.library import LibraryStore

err_console = Console(stderr=True, highlight=False)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


@dataclass
class State:
    """What the root callback learned (global options)."""

    config_override: Path | None = None
    _config: ConfigFile | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.config_override or paths.config_path()

    def config(self, *, create: bool = False) -> ConfigFile:
        """Load the config file once; a broken file stops with exit code 2.

        A ``--config FILE`` that does not exist stops with exit code 2 too (a typo must not
        silently run on defaults), unless ``create``: ``config set`` makes the file. The
        default file and ``VISUAL_BUFFET_CONFIG`` may name a file not written yet.
        """
        if self.config_override is not None and not create and not self.config_override.exists():
            fail(
                f"--config {self.config_override}: no such file. Check the path, or create it "
                f"with `visual-buffet --config {self.config_override} config set KEY VALUE`."
            )
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc))
            for key in self._config.unknown_top_level():
                warn(f"{self._config.source}: unknown table or key {key!r}, ignored.")
        return self._config


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print an error (no traceback: the message says what to do) and exit."""
    err_console.print(f"[bold red]error:[/bold red] {_escape(message)}")
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {_escape(message)}")


def info(message: str) -> None:
    err_console.print(_escape(message))


def _escape(text: str) -> str:
    """Show ``text`` as is: file names and messages may hold ``[`` (rich markup)."""
    return escape(text)


def open_store(library: Path | None, *, readonly: bool = False) -> LibraryStore:
    """The library store at ``library`` (None: the default one), or exit 2 with the store's
    own message (a file that is not a store, a newer schema, a folder that cannot be made)."""
    from visual_buffet.library import LibraryError, open_library

    try:
        return open_library(library, readonly=readonly)
    except LibraryError as exc:
        fail(str(exc))


def plain_values(values: Mapping[str, SettingValue]) -> dict[str, Any]:
    """Setting values as JSON-friendly plain values (paths as strings)."""
    return {k: (str(v.value) if isinstance(v.value, Path) else v.value) for k, v in values.items()}


def toml_text(value: Any) -> str:
    """A value as it is written in the config file (``true``, ``"extended"``, ``0.05``)."""
    import tomli_w

    if value is None:  # TOML has no null: the setting is simply not set
        return "(not set)"
    if isinstance(value, Path):
        value = str(value)
    return tomli_w.dumps({"v": value})[4:].strip()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def resolve_settings(
    plugin_info: Any, config: ConfigFile, cli_layers: Sequence[tuple[str, dict[str, Any]]] = ()
) -> tuple[dict[str, SettingValue], list[str]]:
    """Defaults < ``[plugins.NAME]`` in the config file < CLI layers; exits 2 on bad values."""
    from visual_buffet.settings import SettingError

    file_source = f"{config.source} [plugins.{plugin_info.name}]"
    layers = [(file_source, config.plugin_values(plugin_info.name)), *cli_layers]
    try:
        return plugin_info.schema.resolve(layers)
    except SettingError as exc:
        fail(str(exc))


def resolve_host_values(config: ConfigFile, host_layer: dict[str, Any]) -> dict[str, SettingValue]:
    """``[images]`` settings: defaults < the config file < ``--set images.KEY=VALUE``.

    Warnings are printed; a bad value exits 2.
    """
    from visual_buffet.config import HOST_SCHEMA
    from visual_buffet.settings import SettingError

    try:
        values, warnings = HOST_SCHEMA.resolve(
            [(f"{config.source} [images]", config.host_values()), ("--set", host_layer)]
        )
    except SettingError as exc:
        fail(str(exc))
    for message in warnings:
        warn(message)
    return values


def resolve_plugin_values(
    plugin_info: Any, config: ConfigFile, cli_layers: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, SettingValue]:
    """A plugin's settings for a run (:func:`resolve_settings`, warnings printed), without the
    host's ``enabled`` switch, which only decides whether the plugin runs."""
    values, warnings = resolve_settings(plugin_info, config, cli_layers)
    for message in warnings:
        warn(message)
    values.pop("enabled")
    return values
