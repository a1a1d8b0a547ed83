"""Test plugins: ``probe`` (deterministic tags, records what the host calls) and misfits.

``ProbePlugin`` appends one line per call to the file named by ``$VB_PROBE_LOG`` (``init``,
``load``, ``prepare <file name>``, ``tag <n>``, ``close``), so tests can prove what ran, e.g.
that a bad setting stopped the run before any image was read.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from PIL import ImageStat

from visual_buffet.images import LoadedImage
from visual_buffet.plugin_api import ImageTags, Plugin, PluginError, Tag, View
from visual_buffet.settings import Setting

LOG_ENV = "VB_PROBE_LOG"
_log_lock = threading.Lock()


def record(event: str) -> None:
    """Append ``event`` to the probe log, if one is set (prepare runs in several threads)."""
    path = os.environ.get(LOG_ENV)
    if path:
        with _log_lock, open(path, "a", encoding="utf-8") as handle:
            handle.write(event + "\n")


class ProbePlugin(Plugin):
    """Tags: ``label`` (1.0), ``light`` (mean brightness) and ``dark`` (1 - that)."""

    name = "probe"
    version = "9.9"
    description = "Deterministic test tagger."
    settings_schema = (
        Setting(
            "threshold",
            "float",
            0.0,
            "Lowest confidence.",
            minimum=0.0,
            maximum=1.0,
            flag="threshold",
        ),
        Setting("max_tags", "int", 10, "Most tags.", minimum=0, flag="limit", aliases=("limit",)),
        Setting("label", "str", "probe", "Label of the always-present tag."),
        Setting(
            "mode",
            "choice",
            "plain",
            "plain, or views (tags carry found_in).",
            choices=("plain", "views"),
        ),
        Setting("notes", "path", None, "A path setting (unused)."),
        Setting("batch", "int", 2, "Batch size.", minimum=1, maximum=64, auto=True),
        Setting(
            "crash_after", "int", 0, "Raise RuntimeError after N images (0: never).", minimum=0
        ),
        Setting("interrupt_after", "int", 0, "Raise KeyboardInterrupt after N images.", minimum=0),
        Setting(
            "sleep_ms",
            "int",
            0,
            "Sleep this long per image in tag(): time for a test to send a signal mid-run.",
            minimum=0,
        ),
        Setting("fail_load", "bool", False, "Raise PluginError in load()."),
        Setting("deep.level", "int", 1, "A nested (dotted) setting.", minimum=1, maximum=3),
    )
    recommended_threshold = 0.1

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        self._done = 0
        record("init")

    def load(self) -> None:
        record("load")
        if self.settings["fail_load"]:
            raise PluginError(
                "probe: the weights are missing; run `visual-buffet plugins setup probe`."
            )

    def setup(self, report) -> None:  # type: ignore[no-untyped-def]
        report("probe: fetched everything.")

    def batch_size(self) -> int:
        batch = self.settings["batch"]
        return 2 if batch == "auto" else batch

    def prepare(self, image: LoadedImage) -> tuple[LoadedImage, float]:
        record(f"prepare {image.path.name}")
        mean = sum(ImageStat.Stat(image.image.convert("L")).mean) / 255
        return image, mean

    def tag(self, items: Sequence[tuple[LoadedImage, float]]) -> list[ImageTags]:
        record(f"tag {len(items)}")
        results = []
        for image, mean in items:
            time.sleep(self.settings["sleep_ms"] / 1000)
            self._done += 1
            if self.settings["crash_after"] and self._done > self.settings["crash_after"]:
                raise RuntimeError("probe crashed on purpose")
            if self.settings["interrupt_after"] and self._done > self.settings["interrupt_after"]:
                raise KeyboardInterrupt
            width, height = image.original_size
            whole = View("probe", max(width, height), "whole", (0, 0, width, height))
            window = View("probe", max(width, height), "window", (0, 0, width // 2, height // 2))
            views = self.settings["mode"] == "views"
            tags = [
                Tag(self.settings["label"], 1.0, whole if views else None),
                Tag("light", mean, window if views else None),
                Tag("dark", 1.0 - mean),
            ]
            tags = sorted(
                (t for t in tags if t.confidence >= self.settings["threshold"]),
                key=lambda t: -t.confidence,
            )
            if self.settings["max_tags"]:
                tags = tags[: self.settings["max_tags"]]
            results.append(ImageTags(tags, model={"id": "probe"}, timings={"model_ms": 0.5}))
        return results

    def close(self) -> None:
        record("close")


class NotAPlugin:
    """Registered under the plugin group but not a Plugin subclass."""


class MisnamedPlugin(ProbePlugin):
    """Its name differs from its entry-point name."""

    name = "other"


class OwnFlagPlugin(ProbePlugin):
    """Binds a setting to a flag the host does not have."""

    name = "ownflag"
    settings_schema = (Setting("speed", "int", 1, "How fast.", flag="speed"),)


class UnfinishedPlugin(Plugin):
    """Forgot to implement tag()."""

    name = "unfinished"
