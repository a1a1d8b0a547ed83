"""Which plugins a command runs and the settings its flags give them (``tag``, ``retag``...).

``--plugin`` or the plugins enabled in the config; dedicated flags (``--threshold``...) and
``--set KEY=VALUE`` mapped onto each chosen plugin's settings and the host's ``images.*``.
Every mistake stops with exit code 2 before anything is read or loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from visual_buffet.cli.common import fail, resolve_settings, warn

if TYPE_CHECKING:
    from visual_buffet.config import ConfigFile
    from visual_buffet.discovery import PluginInfo


def choose_plugins(
    requested: list[str] | None, plugins: dict[str, PluginInfo], config: ConfigFile
) -> list[str]:
    """The plugins named by --plugin, else those enabled in the config."""
    if requested:
        chosen = list(dict.fromkeys(requested))
        for name in chosen:
            if name not in plugins:
                known = ", ".join(plugins) or "none"
                fail(
                    f"--plugin {name}: no such plugin is installed (installed: {known}). "
                    "Run `visual-buffet plugins list`."
                )
            if not plugins[name].ok:
                fail(f"plugin {name} cannot be used: {plugins[name].error}")
    else:
        chosen = []
        for name, found in plugins.items():
            if not found.ok:
                continue
            values, _ = resolve_settings(found, config)
            if values["enabled"].value:
                chosen.append(name)
        if not chosen:
            fail(
                "no plugin is enabled. Pass --plugin NAME, or enable one with "
                "`visual-buffet config set plugins.NAME.enabled true`."
            )
    return chosen


def cli_layers(
    chosen: list[str],
    plugins: dict[str, PluginInfo],
    flag_values: dict[str, str | None],
    set_values: list[str],
) -> tuple[dict[str, list[tuple[str, dict[str, Any]]]], dict[str, Any]]:
    """Map dedicated flags and --set items onto each chosen plugin's settings (and images.*)."""
    from visual_buffet.config import HOST_SCHEMA

    layers: dict[str, list[tuple[str, dict[str, Any]]]] = {name: [] for name in chosen}
    for flag, raw in flag_values.items():
        if raw is None:
            continue
        takers = [n for n in chosen if plugins[n].schema.by_flag(flag) is not None]
        if not takers:
            fail(
                f"--{flag} is not a setting of {', '.join(chosen)}. "
                f"Run `visual-buffet plugins info {chosen[0]}` to see its settings."
            )
        for name in chosen:
            setting = plugins[name].schema.by_flag(flag)
            if setting is None:
                warn(f"--{flag} does not apply to plugin {name}; used for {', '.join(takers)}.")
            else:
                layers[name].append((f"--{flag}", {setting.name: raw}))

    host_layer: dict[str, Any] = {}
    for item in set_values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"--set {item!r}: expected KEY=VALUE, e.g. --set max_candidates=2000.")
        scope, _, rest = key.partition(".")
        if scope == "images" and rest:
            if HOST_SCHEMA.get(rest) is None:
                fail(f"--set {key}: no such image setting.{HOST_SCHEMA.suggest(rest)}")
            host_layer[rest] = raw
            continue
        if scope in chosen and rest:
            targets, name_key = [scope], rest
        else:
            targets = [n for n in chosen if plugins[n].schema.get(key) is not None]
            name_key = key
            if not targets:
                fail(
                    f"--set {key}: {', '.join(chosen)} has no setting {key!r}."
                    f"{plugins[chosen[0]].schema.suggest(key)} "
                    f"Run `visual-buffet plugins info {chosen[0]}`."
                )
        for name in targets:
            if plugins[name].schema.get(name_key) is None:
                fail(
                    f"--set {key}: plugin {name} has no setting {name_key!r}."
                    f"{plugins[name].schema.suggest(name_key)}"
                )
            layers[name].append(("--set", {name_key: raw}))
    return layers, host_layer
