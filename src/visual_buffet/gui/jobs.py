"""The Tag page's runs: one at a time, in a thread, through :mod:`visual_buffet.tagging`.

A run is the same :class:`visual_buffet.tagging.TaggingRun` that ``visual-buffet tag`` uses,
with the same settings resolution (defaults < config file) and the same image scan; its
records go into the library store (``TaggingRun(library=...)``), and images already stored
come from it. What differs is only where
progress goes: into an event list the page follows over server-sent events (done / total,
images per second, time left, each error as it happens), and a :class:`threading.Event`
that the page's Cancel sets.

The loaded plugin is kept between runs (keyed by its settings), so a second run starts
without loading the model again; a Save in Settings that changes them loads it afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visual_buffet.config import HOST_SCHEMA, load_config
from visual_buffet.plugin_api import Plugin
from visual_buffet.settings import SettingError

Event = dict[str, Any]


class RunRefused(ValueError):
    """A run could not start (a bad folder, no images, a bad setting); the message says why.
    ``busy``: because another run is in progress."""

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


class TagRuns:
    """Starts tag runs and records their events; keeps loaded plugins warm.

    Args:
        config_path: The config file whose settings runs use (read afresh per run).
        open_library: Returns the open library store runs keep their results in.
        on_folder: Called with each folder a run is started on (the file gate's roots).
    """

    def __init__(
        self,
        config_path: Path,
        open_library: Callable[[], Any],
        on_folder: Callable[[Path], Any] = lambda folder: None,
    ) -> None:
        self.config_path = config_path
        self.open_library = open_library
        self.finished = 0
        """Runs ended so far (a search reloads its embeddings after each)."""
        self.on_folder = on_folder
        self.events: list[Event] = []
        self.run_id = 0
        self.running = False
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warm: dict[str, tuple[tuple, Plugin]] = {}  # name -> (settings key, plugin)
        self._warm_lock = threading.Lock()

    # -- starting ----------------------------------------------------------------------------
    def start(self, folder: str, *, recursive: bool = True, xmp: bool | None = None) -> int:
        """Check the folder and the settings, find the images, start the run; return its id.

        ``xmp``: also write XMP sidecars (as ``tag --xmp``); None: as ``images.xmp.write``
        in the config file says.
        """
        from visual_buffet.scan import find_images

        text = folder.strip()
        if not text:
            raise RunRefused("Folder: type the path of a folder of photos on this machine.")
        path = Path(text).expanduser()
        if not path.is_absolute():
            raise RunRefused(f"Folder {text!r}: give the full path (e.g. /home/me/Pictures).")
        if not path.is_dir():
            raise RunRefused(f"Folder {text!r} does not exist or is not a folder.")
        jobs, host = self._jobs()
        if xmp is not None:
            host["xmp.write"] = xmp
        scan = find_images([path], recursive=recursive, include_hidden=host["include_hidden"])
        if not scan.files:
            hint = "" if recursive else " (tick 'Include sub-directories' to look inside them)"
            raise RunRefused(f"no images found in {path}{hint}.")
        with self._lock:
            if self.running:
                raise RunRefused(
                    "a run is in progress; cancel it or wait for it to end.", busy=True
                )
            self.running = True
            self.run_id += 1
            self._cancel = threading.Event()
            run_id = self.run_id
        self.on_folder(path)
        self._thread = threading.Thread(
            target=self._run,
            args=(run_id, jobs, scan.files, host),
            name="vb-gui-tag",
            daemon=True,
        )
        self._thread.start()
        return run_id

    def cancel(self) -> bool:
        """Ask the run in progress to stop after the image it is on. False if none runs."""
        if not self.running:
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the run in progress to end (for tests and shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Cancel any run and release the warm plugins."""
        self.cancel()
        self.wait(30)
        for _, plugin in self._warm.values():
            plugin.close()
        self._warm.clear()

    def xmp_default(self) -> bool:
        """Whether runs write XMP sidecars unless told otherwise (``images.xmp.write``)."""
        try:
            return bool(self._jobs()[1].get("xmp.write", False))
        except RunRefused:
            return False

    def _jobs(self) -> tuple[list[Any], dict[str, Any]]:
        """The enabled plugins with their settings from the config file, as `tag` resolves them."""
        from visual_buffet.cli.common import plain_values
        from visual_buffet.config import ConfigError
        from visual_buffet.gui.panels import installed_plugins
        from visual_buffet.tagging import PluginJob

        try:
            config = load_config(self.config_path)
            host_values, _ = HOST_SCHEMA.resolve(
                [(f"{config.source} [images]", config.host_values())]
            )
            jobs = []
            for name, info in installed_plugins().items():
                layer = [(f"{config.source} [plugins.{name}]", config.plugin_values(name))]
                values, _ = info.schema.resolve(layer)
                if not values.pop("enabled").value:
                    continue
                typed = {k: v.value for k, v in values.items()}
                plain = plain_values(values)
                jobs.append(
                    PluginJob(name, info.plugin_class, typed, plain, self._warm_plugin(name, plain))
                )
        except (ConfigError, SettingError) as exc:
            raise RunRefused(str(exc)) from None
        if not jobs:
            raise RunRefused("no plugin is enabled: enable one in Settings → Plugins.")
        return jobs, {k: v.value for k, v in host_values.items()}

    def search_plugin(self) -> tuple[Plugin, int]:
        """The enabled plugin that stores embeddings, with the config's settings, kept warm
        (the same instance a run with those settings uses); and :attr:`finished`."""
        jobs, _ = self._jobs()
        job = next((j for j in jobs if getattr(j.plugin_class, "provides_embeddings", False)), None)
        if job is None:
            raise RunRefused(
                "search needs an enabled plugin that stores embeddings (siglip); enable one "
                "in Settings → Plugins."
            )
        if job.instance is None:
            self._keep_warm(job)
        return job.instance, self.finished

    def _keep_warm(self, job: Any) -> None:
        """Construct the job's plugin (not loaded: its first use loads it) and keep it in
        place of one held for other settings (closed: the settings changed since), unless
        a run is using that one; then the new plugin serves this use only."""
        job.instance = job.plugin_class(job.settings)
        with self._warm_lock:  # a search (request thread) and a run (its thread) may race
            held = self._warm.get(job.name)
            if held is not None:
                run_elsewhere = self.running and threading.current_thread() is not self._thread
                if run_elsewhere:  # the run in progress may be using the held one
                    return
                held[1].close()
            self._warm[job.name] = (_settings_key(job.plain), job.instance)

    def _warm_plugin(self, name: str, plain: dict[str, Any]) -> Plugin | None:
        """The plugin kept from an earlier run or search with the same settings, if any.

        A lookup only: a plugin held for other settings may be in use by the run in
        progress; :meth:`_keep_warm` replaces it when no run is.
        """
        held = self._warm.get(name)
        return held[1] if held is not None and held[0] == _settings_key(plain) else None

    # -- the run -----------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        with self._lock:
            event["id"] = len(self.events)
            self.events.append(event)

    def _run(self, run_id: int, jobs: list[Any], files: list[Path], host: dict[str, Any]) -> None:
        from visual_buffet.tagging import PluginLoadFailed, TaggingRun

        for job in jobs:
            if job.instance is None:
                # Constructed here so the run loads it and leaves it open for the next run.
                self._keep_warm(job)
        total = len(files) * len(jobs)
        self._emit({"type": "start", "run": run_id, "total": total, "files": len(files)})
        clock = {"start": time.perf_counter(), "tagging": None, "base": 0}

        def on_progress(progress: Any) -> None:
            now = time.perf_counter()
            if progress.phase in ("checking", "loading"):
                phase = {"type": "phase", "run": run_id, "phase": progress.phase}
                self._emit({**phase, "plugin": progress.plugin})
                return
            if clock["tagging"] is None:
                clock["tagging"], clock["base"] = now, progress.done
            if progress.record is None:
                return
            done_here = progress.done - clock["base"]
            elapsed = now - clock["tagging"]
            rate = done_here / elapsed if elapsed > 0 else 0.0
            left = (progress.total - progress.done) / rate if rate > 0 else None
            record = progress.record
            self._emit(
                {
                    "type": "progress",
                    "run": run_id,
                    "done": progress.done,
                    "total": progress.total,
                    "errors": progress.errors,
                    "rate": round(rate, 2),
                    "eta_s": round(left, 1) if left is not None else None,
                    "file": record["file"],
                    "tags": [t["label"] for t in record["tags"][:5]],
                }
            )
            if record["error"] is not None:
                self._emit(
                    {
                        "type": "error",
                        "run": run_id,
                        "file": record["file"],
                        "message": record["error"]["message"],
                    }
                )

        def on_warning(message: str) -> None:
            self._emit({"type": "warning", "run": run_id, "message": message})

        sinks = []
        if host.get("xmp.write"):
            from visual_buffet.xmp import SidecarSink, XmpSettings

            sinks.append(SidecarSink(XmpSettings.from_values(host), on_error=on_warning))
        try:
            run = TaggingRun(
                jobs,
                files,
                library=self.open_library(),
                sinks=sinks,
                workers=host["workers"],
                max_pixels=host["max_pixels"],
                use_previews=host["use_previews"],
                on_progress=on_progress,
                on_warning=on_warning,
                cancel=self._cancel,
            )
            summary = run.run()
            self._emit(
                {
                    "type": "end",
                    "run": run_id,
                    "tagged": summary.tagged,
                    "failed": summary.failed,
                    "cancelled": summary.cancelled,
                    "elapsed_s": round(time.perf_counter() - clock["start"], 2),
                }
            )
        except PluginLoadFailed as exc:
            self._forget(exc.name)
            self._emit({"type": "end", "run": run_id, "failed_to_start": str(exc)})
        except Exception as exc:  # the page must hear of it; the server goes on
            self._emit(
                {"type": "end", "run": run_id, "failed_to_start": f"{type(exc).__name__}: {exc}"}
            )
        finally:
            with self._lock:
                self.running = False
                self.finished += 1

    def _forget(self, name: str) -> None:
        held = self._warm.pop(name, None)
        if held is not None:
            held[1].close()


def _settings_key(plain: dict[str, Any]) -> tuple:
    """A hashable key of a plugin's settings: a warm plugin is reused only for the same."""
    return tuple(sorted((k, repr(v)) for k, v in plain.items()))
