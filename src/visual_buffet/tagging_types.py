"""What a tagging run takes and reports: plugin jobs, progress events, the summary, errors.

Defined here and re-exported by :mod:`visual_buffet.tagging`, where the run itself lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from visual_buffet.plugin_api import Plugin, PluginError

Record = dict[str, Any]
Phase = Literal["checking", "loading", "tagging", "done"]
CHUNK_FILES = 512
"""Files fingerprinted, planned and tagged at a time when a library store is used."""
TAGS_FROM = ("model", "store", "embeddings")
"""Where a record's tags came from: a forward pass, the stored record, stored embeddings."""


@dataclass
class PluginJob:
    """One plugin of a run, with its resolved settings.

    Attributes:
        name: The plugin name (entry-point name).
        plugin_class: The class to construct when ``instance`` is not given.
        settings: Typed setting values, as the plugin's constructor takes them.
        plain: The same values as JSON-able plain values (they go into every record).
        instance: An already-constructed (and possibly already-loaded) plugin to reuse, e.g. a
            GUI that keeps its model warm between runs. The run neither loads it twice (a
            plugin's ``load()`` must be idempotent) nor closes it: its owner does.
    """

    name: str
    plugin_class: type[Plugin]
    settings: dict[str, Any]
    plain: dict[str, Any]
    instance: Plugin | None = None


@dataclass(frozen=True)
class RunProgress:
    """What a progress callback receives: after each record, and when the phase changes.

    ``record`` is the record just written (None for a phase change). ``done`` counts records
    (one per image and plugin) out of ``total``; ``errors`` the error records among them.
    """

    phase: Phase
    plugin: str
    done: int
    total: int
    errors: int
    record: Record | None = None


@dataclass
class RunSummary:
    """Counts of a finished (or cancelled) run; :meth:`as_dict` is the writers' summary."""

    images: int
    tagged: int = 0
    failed: int = 0
    load_failures: int = 0
    plugins: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    tags_from: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TAGS_FROM, 0))
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "tagged": self.tagged,
            "failed": self.failed,
            "tags_from": dict(self.tags_from),
            **self.extra,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    @property
    def nothing_could_run(self) -> bool:
        """Every plugin failed to load (a usage/configuration error, exit code 2)."""
        return self.plugins > 0 and self.load_failures == self.plugins


class PluginLoadFailed(Exception):
    """The only plugin of a run could not load; nothing was tagged. ``str()`` says why."""

    def __init__(self, name: str, error: PluginError) -> None:
        super().__init__(str(error))
        self.name = name
        self.error = error


class TaggingCancelled(BaseException):
    """Raised inside the run when its cancel event is set (a BaseException, like Ctrl-C, so
    the pipeline does not mistake it for a plugin failure)."""


def plugin_jobs(
    classes: Mapping[str, type[Plugin]],
    settings: Mapping[str, Mapping[str, Any]],
    plain: Mapping[str, Mapping[str, Any]],
) -> list[PluginJob]:
    """Jobs for ``classes`` (name -> class), with typed and plain settings per name."""
    return [
        PluginJob(name, cls, dict(settings[name]), dict(plain[name]))
        for name, cls in classes.items()
    ]
