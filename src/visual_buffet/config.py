"""The TOML config file: reading with clear errors, typed dotted keys, atomic writes.

Layout::

    [images]                      # host settings (HOST_SCHEMA)
    max_pixels = 200_000_000

    [plugins.siglip]              # one table per plugin, keys from its settings schema
    threshold = 0.02
    limit = 30                    # aliases are accepted
    [plugins.siglip.naflex]
    max_num_patches = 512

Precedence for a value: CLI flag > ``[plugins.NAME]`` in the file > the plugin's default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from visual_buffet.atomic import atomic_write_bytes
from visual_buffet.settings import Schema, Setting, SettingError, flatten


def enabled_setting(default: bool) -> Setting:
    """The ``enabled`` setting the host adds to every plugin's schema."""
    return Setting(
        "enabled",
        "bool",
        default,
        "Use this plugin when `visual-buffet tag` runs without --plugin.",
    )


HOST_SCHEMA = Schema(
    "images",
    [
        Setting(
            "max_pixels",
            "int",
            89_478_485,
            "Decompression-bomb limit: images with more pixels are refused. Raise it for "
            "very large scans or panoramas.",
            minimum=1,
        ),
        Setting(
            "workers",
            "int",
            "auto",
            "Threads that decode images ahead of the model (auto: up to 4, by CPU count).",
            minimum=1,
            maximum=32,
            auto=True,
        ),
        Setting(
            "use_previews",
            "bool",
            True,
            "Decode a camera JPEG's embedded preview instead of the full photo when the preview "
            "is as large as the plugin needs and shows the same picture (much faster at "
            "quality quick). Turn off if an editor may have changed photos but kept their old "
            "preview.",
        ),
        Setting(
            "include_hidden",
            "bool",
            False,
            "Also tag hidden files and folders (names starting with a dot) when walking folders.",
        ),
        # XMP sidecars (docs/xmp.md); under [images.xmp] in the file.
        Setting(
            "xmp.write",
            "bool",
            False,
            "Write the tags into an XMP sidecar beside each image on every `tag` run "
            "(as --xmp does).",
        ),
        Setting(
            "xmp.naming",
            "choice",
            "image",
            "Sidecar name for a new sidecar: image (IMG_0001.jpg.xmp: darktable, digiKam) or "
            "stem (IMG_0001.xmp: Lightroom, Capture One). An existing sidecar under either "
            "name is updated instead.",
            choices=("image", "stem"),
        ),
        Setting(
            "xmp.hierarchy",
            "bool",
            True,
            "Also write lr:hierarchicalSubject (each tag under its parents) for Lightroom and "
            "darktable.",
        ),
        Setting(
            "xmp.digikam",
            "bool",
            True,
            "Also write digiKam:TagsList (each tag under its parents) for digiKam and Immich.",
        ),
        Setting(
            "xmp.parents_as_keywords",
            "bool",
            True,
            "Also write each tag's parents (animal for dog) as flat keywords in dc:subject.",
        ),
    ],
)
"""Host settings, under ``[images]`` in the config file."""


class ConfigError(Exception):
    """The config file or a config key/value is wrong. The message says where and how to fix."""


@dataclass
class ConfigFile:
    """A parsed config file (or the defaults, when the file does not exist)."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False

    def plugin_values(self, name: str) -> dict[str, Any]:
        """Flat (dotted) keys of ``[plugins.NAME]``."""
        table = self.data.get("plugins", {}).get(name, {})
        return flatten(table) if isinstance(table, Mapping) else {}

    def host_values(self) -> dict[str, Any]:
        """Flat keys of ``[images]``."""
        table = self.data.get("images", {})
        return flatten(table) if isinstance(table, Mapping) else {}

    @property
    def source(self) -> str:
        return f"config file {self.path}"

    def unknown_top_level(self) -> list[str]:
        """Top-level keys the host does not know (warned about, not fatal)."""
        return [key for key in self.data if key not in ("images", "plugins")]


def load_config(path: Path) -> ConfigFile:
    """Read ``path``. A missing file means defaults; malformed TOML raises :class:`ConfigError`."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile(path)
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; point to a .toml file.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line L, column C)".
        raise ConfigError(f"config file {path} is not valid TOML: {exc}. Fix that line.") from None
    for key in ("images", "plugins"):
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(f"config file {path}: `{key}` must be a table ([{key}]).")
    for name, table in data.get("plugins", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {path}: `plugins.{name}` must be a table ([plugins.{name}])."
            )
    return ConfigFile(path, data, exists=True)


def save_config(config: ConfigFile) -> None:
    """Write the config atomically (temp file + rename), keeping every other key and table."""
    atomic_write_bytes(config.path, tomli_w.dumps(config.data).encode("utf-8"))


def split_key(key: str, plugin_schemas: Mapping[str, Schema]) -> tuple[Schema, Setting, list[str]]:
    """Map a dotted config key to (schema, setting, path in the TOML document).

    ``plugins.siglip.threshold`` -> siglip's schema; ``images.max_pixels`` -> the host's.
    Raises :class:`ConfigError` for keys that name no known setting.
    """
    parts = key.split(".")
    if parts[0] == "images" and len(parts) >= 2:
        schema, rest = HOST_SCHEMA, parts[1:]
        prefix = ["images"]
    elif parts[0] == "plugins" and len(parts) >= 3:
        name, rest = parts[1], parts[2:]
        if name not in plugin_schemas:
            known = ", ".join(sorted(plugin_schemas)) or "none"
            raise ConfigError(
                f"config key {key!r}: no plugin named {name!r} is installed (installed: {known})."
            )
        schema = plugin_schemas[name]
        prefix = ["plugins", name]
    else:
        raise ConfigError(
            f"config key {key!r} is not a setting. Keys look like `plugins.NAME.SETTING` "
            "(e.g. plugins.siglip.threshold) or `images.SETTING` (e.g. images.max_pixels)."
        )
    dotted = ".".join(rest)
    setting = schema.get(dotted)
    if setting is None:
        hint = schema.suggest(dotted)
        raise ConfigError(
            f"config key {key!r}: {schema.owner} has no setting {dotted!r}.{hint} "
            f"Run `visual-buffet plugins info {schema.owner}` to list them."
            if prefix[0] == "plugins"
            else f"config key {key!r}: no such setting.{hint}"
        )
    # The setting's own name, also when an alias was typed (`limit` -> `max_tags`), so that
    # `config set` never leaves two spellings of one setting in the file.
    return schema, setting, [*prefix, *setting.name.split(".")]


def spellings(path: list[str], setting: Setting) -> list[list[str]]:
    """Every path the setting at ``path`` (from :func:`split_key`) may be written under.

    The setting's name comes first, then its aliases: a hand-written file may use either.
    """
    prefix = path[: len(path) - len(setting.name.split("."))]
    return [[*prefix, *name.split(".")] for name in (setting.name, *setting.aliases)]


def get_value(data: Mapping[str, Any], path: list[str]) -> Any:
    """Return the value at ``path`` in a TOML document, or raise KeyError."""
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(".".join(path))
        node = node[part]
    return node


def set_value(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``path`` in a TOML document, creating tables on the way."""
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {'.'.join(path)}: {part!r} is a value, not a table.")
        node = child
    node[path[-1]] = value


def unset_value(data: dict[str, Any], path: list[str]) -> bool:
    """Remove ``path``; drop tables that become empty. Returns whether something was removed."""
    parents: list[tuple[dict[str, Any], str]] = []
    node: Any = data
    for part in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return False
        parents.append((node, part))
        node = node[part]
    if path[-1] not in node:
        return False
    del node[path[-1]]
    for parent, part in reversed(parents):
        if parent[part]:
            break
        del parent[part]
    return True


def coerce_config_value(setting: Setting, raw: Any, key: str, source: str) -> Any:
    """Coerce and re-raise :class:`SettingError` as :class:`ConfigError` with the key named."""
    try:
        return setting.coerce(raw, source=source)
    except SettingError as exc:
        raise ConfigError(str(exc).replace(f"{setting.name} =", f"{key} =", 1)) from None


def set_setting(
    config: ConfigFile,
    key: str,
    raw: Any,
    plugin_schemas: Mapping[str, Schema],
    *,
    source: str = "config set",
) -> tuple[Setting, Any]:
    """Check ``raw`` for the dotted ``key`` and put it into ``config.data`` (not saved yet).

    This is ``visual-buffet config set`` minus the write, shared with the GUI's Save: the
    value is coerced by the setting's own rules, written under the setting's name, and any
    alias spelling of it is removed so the file holds one. Raises :class:`ConfigError` with
    the message the CLI prints (save nothing then).
    """
    _, setting, toml_path = split_key(key, plugin_schemas)
    typed = coerce_config_value(setting, raw, key, source)
    set_value(config.data, toml_path, setting.to_toml(typed))
    for alias_path in spellings(toml_path, setting)[1:]:
        unset_value(config.data, alias_path)  # one spelling per setting: the one just set
    return setting, typed
