"""Settings panels built from a plugin's settings schema, and their Save.

Nothing here knows SigLIP: the controls, choices, ranges, labels and help of every panel come
from :class:`visual_buffet.settings.Setting`, so a third-party plugin gets its panel without
any GUI code. Save goes through :func:`visual_buffet.config.set_setting` and
:func:`visual_buffet.config.save_config`, the check and the atomic writer of
``visual-buffet config set``; one bad value writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visual_buffet.config import ConfigError, load_config, save_config, set_setting
from visual_buffet.discovery import PluginInfo, discover_plugins
from visual_buffet.settings import Setting, SettingError

SECTIONS = (("main", ""), ("advanced", "Advanced"), ("", "More settings"))
"""Panel sections in display order: (``Setting.section``, heading)."""


def installed_plugins() -> dict[str, PluginInfo]:
    """The plugins that imported (a broken one has no panel)."""
    return {name: info for name, info in discover_plugins().items() if info.ok}


def plugin_list() -> list[dict[str, Any]]:
    """Name and one-line description of each usable plugin, for the Plugins page."""
    out = []
    for name, info in installed_plugins().items():
        cls = info.plugin_class
        out.append(
            {
                "name": name,
                "title": getattr(cls, "display_name", None) or name,
                "description": getattr(cls, "description", ""),
            }
        )
    return out


def control(setting: Setting) -> dict[str, Any]:
    """How a setting is shown: the native form control and its limits."""
    if setting.kind == "choice":
        return {"widget": "select", "choices": list(setting.choices)}
    if setting.kind == "bool":
        return {"widget": "select", "choices": ["true", "false"]}
    if setting.slider is not None:
        low, high, step = setting.slider
        return {"widget": "range", "min": low, "max": high, "step": step}
    if setting.kind in ("int", "float") and not setting.auto:
        return {
            "widget": "number",
            "min": setting.minimum,
            "max": setting.maximum,
            "step": 1 if setting.kind == "int" else "any",
        }
    return {"widget": "text"}


def panel(name: str, config_path: Path) -> dict[str, Any]:
    """The panel of plugin ``name``: sections of controls with their current values."""
    plugins = installed_plugins()
    if name not in plugins:
        raise KeyError(name)
    info = plugins[name]
    try:
        config = load_config(config_path)
        layer = [(config.source, config.plugin_values(name))]
        values, _ = info.schema.resolve(layer)
        problem = None
    except (ConfigError, SettingError) as exc:
        # A broken file must not hide the panel: show defaults and say what is wrong.
        values, _ = info.schema.resolve([])
        problem = str(exc)
    sections = []
    for section, heading in SECTIONS:
        items = [s for s in info.schema if s.section == section]
        if not items:
            continue
        sections.append(
            {
                "id": section or "other",
                "heading": heading,
                "settings": [
                    {
                        "key": setting.name,
                        "label": setting.display_label,
                        "help": setting.help,
                        "allowed": setting.allowed(),
                        "value": _shown(setting, values[setting.name].value),
                        "default": _shown(setting, setting.default),
                        "source": values[setting.name].source,
                        **control(setting),
                    }
                    for setting in items
                ],
            }
        )
    cls = info.plugin_class
    return {
        "name": name,
        "title": getattr(cls, "display_name", None) or name,
        "description": getattr(cls, "description", ""),
        "config_path": str(config_path),
        "config_problem": problem,
        "sections": sections,
    }


def _shown(setting: Setting, value: Any) -> str:
    """A value as a form control holds it (a string; empty for "not set")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(setting.to_toml(value))


def save(name: str, changes: Mapping[str, str], config_path: Path) -> dict[str, Any]:
    """Write ``changes`` (setting name -> raw text) to ``[plugins.NAME]``, all or nothing.

    Each value is checked exactly as ``visual-buffet config set plugins.NAME.KEY VALUE``
    checks it; the first bad one raises :class:`ConfigError` with that command's message and
    the file is not touched. An empty value for a setting whose default is "not set" removes
    it from the file (``config unset``). Returns the values written.
    """
    from visual_buffet.config import spellings, split_key, unset_value

    schemas = {n: info.schema for n, info in installed_plugins().items()}
    if name not in schemas:
        raise ConfigError(f"no plugin named {name!r} is installed.")
    config = load_config(config_path)
    written: dict[str, Any] = {}
    for key, raw in changes.items():
        dotted = f"plugins.{name}.{key}"
        _, setting, toml_path = split_key(dotted, schemas)
        if raw == "" and setting.default is None:
            for path in spellings(toml_path, setting):
                unset_value(config.data, path)
            written[key] = None
            continue
        _, typed = set_setting(config, dotted, raw, schemas)
        written[key] = setting.to_toml(typed)
    save_config(config)
    return written
