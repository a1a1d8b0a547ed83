"""Where Visual Buffet keeps its files. One place, each overridable by an environment variable.

| what | environment variable | default |
|---|---|---|
| config file | ``VISUAL_BUFFET_CONFIG`` | ``<platformdirs user config dir>/config.toml`` |
| cache dir | ``VISUAL_BUFFET_CACHE_DIR`` | ``<platformdirs user cache dir>`` |
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "visual-buffet"
CONFIG_ENV = "VISUAL_BUFFET_CONFIG"
CACHE_ENV = "VISUAL_BUFFET_CACHE_DIR"


def config_path() -> Path:
    """Return the config file path: ``$VISUAL_BUFFET_CONFIG`` or the platform's config dir."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def cache_dir(*parts: str) -> Path:
    """Return (without creating) a cache folder: ``$VISUAL_BUFFET_CACHE_DIR`` or the platform's."""
    override = os.environ.get(CACHE_ENV)
    base = (
        Path(override).expanduser()
        if override
        else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    )
    return base.joinpath(*parts)
