"""Where Visual Buffet keeps its files. One place, each overridable by an environment variable.

| what | environment variable | default |
|---|---|---|
| config file | ``VISUAL_BUFFET_CONFIG`` | ``<platformdirs user config dir>/config.toml`` |
| cache dir | ``VISUAL_BUFFET_CACHE_DIR`` | ``<platformdirs user cache dir>`` |
| data dir (the library store) | ``VISUAL_BUFFET_DATA_DIR`` | ``<platformdirs user data dir>`` |
| library store file | ``VISUAL_BUFFET_LIBRARY`` | ``<data dir>/library.sqlite3`` |

platformdirs follows ``XDG_CONFIG_HOME``, ``XDG_CACHE_HOME`` and ``XDG_DATA_HOME`` on Linux.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "visual-buffet"
CONFIG_ENV = "VISUAL_BUFFET_CONFIG"
CACHE_ENV = "VISUAL_BUFFET_CACHE_DIR"
DATA_ENV = "VISUAL_BUFFET_DATA_DIR"
LIBRARY_ENV = "VISUAL_BUFFET_LIBRARY"
LIBRARY_FILE = "library.sqlite3"


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


def data_dir(*parts: str) -> Path:
    """Return (without creating) a data folder: ``$VISUAL_BUFFET_DATA_DIR`` or the platform's
    user data dir (``$XDG_DATA_HOME/visual-buffet`` on Linux). Data is kept, not a cache."""
    override = os.environ.get(DATA_ENV)
    base = (
        Path(override).expanduser()
        if override
        else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )
    return base.joinpath(*parts)


def library_path() -> Path:
    """The default library store: ``$VISUAL_BUFFET_LIBRARY`` or ``<data dir>/library.sqlite3``."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir(LIBRARY_FILE)
