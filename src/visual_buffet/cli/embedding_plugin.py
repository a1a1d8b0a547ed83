"""The plugin that `retag` and `search` work with: one that stores embeddings, with its
settings resolved exactly as `tag` resolves them (defaults < config file < flags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from visual_buffet.cli.common import (
    fail,
    plain_values,
    resolve_host_values,
    resolve_plugin_values,
    state,
)
from visual_buffet.cli.plugin_choice import choose_plugins, cli_layers


@dataclass
class ResolvedPlugin:
    """A chosen plugin class with its typed and plain (JSON-able) settings."""

    name: str
    plugin_class: Any
    settings: dict[str, Any]
    plain: dict[str, Any]
    use_previews: bool = True
    """``images.use_previews``: part of the identity the store keys embeddings by."""

    def construct(self) -> Any:
        """The plugin, constructed (cheap: no model is loaded)."""
        return self.plugin_class(self.settings)


def resolve_embedding_plugin(
    ctx: typer.Context,
    requested: str | None,
    flag_values: dict[str, str | None],
    set_values: list[str] | None,
    command: str,
) -> ResolvedPlugin:
    """The plugin named by ``--plugin``, else the first enabled one that stores embeddings.

    Exits 2 with a message when it cannot store embeddings (``provides_embeddings``) or a
    setting is invalid.
    """
    from visual_buffet.discovery import discover_plugins

    config = state(ctx).config()
    plugins = discover_plugins()
    chosen = choose_plugins([requested] if requested else None, plugins, config)
    capable = [n for n in chosen if getattr(plugins[n].plugin_class, "provides_embeddings", False)]
    if not capable:
        names = ", ".join(chosen)
        fail(
            f"{command} needs a plugin that stores embeddings; {names} does not. "
            "Use --plugin siglip."
        )
    name = capable[0]
    layers, host_layer = cli_layers([name], plugins, flag_values, set_values or [])
    host_values = resolve_host_values(config, host_layer)
    values = resolve_plugin_values(plugins[name], config, layers[name])
    return ResolvedPlugin(
        name=name,
        plugin_class=plugins[name].plugin_class,
        settings={k: v.value for k, v in values.items()},
        plain=plain_values(values),
        use_previews=bool(host_values["use_previews"].value),
    )
