"""Finding plugins through entry points. A plugin that fails to import is reported, not fatal.

Set ``VISUAL_BUFFET_PLUGINS=name1,name2`` to load only those plugins (others are not even
imported): handy to isolate a broken plugin or in tests.
"""

from __future__ import annotations

import inspect
import os
import traceback
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint, entry_points

from visual_buffet.config import enabled_setting
from visual_buffet.plugin_api import ENTRY_POINT_GROUP, TAG_FLAGS, Plugin
from visual_buffet.settings import Schema

ALLOW_ENV = "VISUAL_BUFFET_PLUGINS"


@dataclass
class PluginInfo:
    """An installed plugin: its entry point and, if it imported, its class."""

    name: str
    target: str
    distribution: str | None
    distribution_version: str | None
    plugin_class: type[Plugin] | None = None
    error: str | None = None
    error_details: str | None = None

    @property
    def ok(self) -> bool:
        return self.plugin_class is not None

    @cached_property
    def schema(self) -> Schema:
        """The plugin's settings plus the host's ``enabled`` switch."""
        if self.plugin_class is None:
            return Schema(self.name, [])
        enabled = enabled_setting(self.plugin_class.enabled_by_default)
        return Schema(self.name, [enabled, *self.plugin_class.settings_schema])

    def to_dict(self) -> dict[str, object]:
        cls = self.plugin_class
        return {
            "name": self.name,
            "entry_point": self.target,
            "distribution": self.distribution,
            "distribution_version": self.distribution_version,
            "version": cls.version if cls else None,
            "description": cls.description if cls else None,
            "calibrated": cls.calibrated if cls else None,
            "recommended_threshold": cls.recommended_threshold if cls else None,
            "enabled_by_default": cls.enabled_by_default if cls else None,
            "status": "ok" if cls else "error",
            "error": self.error,
        }


def _load(ep: EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(
        name=ep.name,
        target=ep.value,
        distribution=dist.metadata["Name"] if dist is not None else None,
        distribution_version=dist.version if dist is not None else None,
    )
    try:
        obj = ep.load()
    except Exception as exc:
        info.error = f"failed to import {ep.value}: {type(exc).__name__}: {exc}"
        info.error_details = traceback.format_exc()
        return info
    if not (isinstance(obj, type) and issubclass(obj, Plugin)):
        info.error = f"{ep.value} is not a visual_buffet.plugin_api.Plugin subclass"
        return info
    if getattr(obj, "name", None) != ep.name:
        declared = f"name {obj.name!r}" if hasattr(obj, "name") else "no name"
        info.error = (
            f"{ep.value} declares {declared} but is registered as {ep.name!r}; "
            f"set name = {ep.name!r} on the class"
        )
        return info
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        info.error = f"{ep.value} does not implement {missing}()"
        return info
    try:
        Schema(ep.name, obj.settings_schema)
    except ValueError as exc:
        info.error = f"invalid settings schema: {exc}"
        return info
    unknown = [s.flag for s in obj.settings_schema if s.flag and s.flag not in TAG_FLAGS]
    if unknown:
        info.error = (
            f"setting flag(s) {', '.join(unknown)} are not host flags "
            f"(allowed: {', '.join(TAG_FLAGS)}); reach other settings with --set"
        )
        return info
    info.plugin_class = obj
    return info


def discover_plugins() -> dict[str, PluginInfo]:
    """Import every plugin registered under :data:`ENTRY_POINT_GROUP`, sorted by name."""
    allowed_text = os.environ.get(ALLOW_ENV, "").strip()
    allowed = {n.strip() for n in allowed_text.split(",") if n.strip()} if allowed_text else None
    found: dict[str, PluginInfo] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allowed is not None and ep.name not in allowed:
            continue
        if ep.name in found:  # the same name from two distributions: the first one wins
            continue
        found[ep.name] = _load(ep)
    return found
