"""One tagging run as a library: the CLI's ``tag``, the GUI's Tag page and ``xmp`` call it.

A :class:`TaggingRun` takes resolved plugin jobs and files, runs each plugin in turn over the
files through :func:`visual_buffet.pipeline.run_plugin`, and hands every finished image's
record to its sinks (objects with ``write(record)``, ``close(summary)``, ``abort()``: the
:class:`~visual_buffet.output.ResultWriter` protocol) as soon as it is done. Progress is
reported through a callback; a :class:`threading.Event` cancels the run between images.

With a library store (:mod:`visual_buffet.library`), images whose result is stored for the
plugin's current result identity are emitted from the store (``"tags_from": "store"``),
images with stored view embeddings are re-scored (``"embeddings"``), and only the rest go
through the model (``"model"``), each committed to the store as it finishes. The plugin is
loaded only when the first image needs a forward pass (or a re-score needs its text tower).

Nothing here prints: messages a user should see go to ``on_warning``, and errors a user can
fix are raised as :class:`PluginLoadFailed` (the only plugin of a run could not load).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from visual_buffet.output import ResultWriter, error_record
from visual_buffet.plugin_api import Plugin, PluginError

if TYPE_CHECKING:
    from visual_buffet.library.resume import Fingerprints, Plan, PluginSession
    from visual_buffet.library.store import LibraryStore

Record = dict[str, Any]
Phase = Literal["checking", "loading", "tagging", "done"]
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


class TaggingRun:
    """Plugins in turn over files; every record to every sink as each image finishes.

    Args:
        jobs: The plugins to run, in order.
        files: Image files to tag (already found and filtered, e.g. by
            :func:`visual_buffet.scan.find_images`).
        missing: Paths that do not exist: each gets an error record per plugin.
        sinks: Record sinks; each gets ``write`` per record, then ``close(summary)`` at the end,
            also when the run is interrupted (cancel, Ctrl-C, SIGTERM) after some records:
            the summary then says ``"interrupted": true`` and the sinks keep what finished.
            ``abort()`` instead when the run stops on an error, or is interrupted or finds
            no plugin that can load before any record reached the sinks (an existing output
            file stays as it was). Records wait until a plugin has loaded, so a run that
            cannot start writes nothing.
        workers: Decode threads (an int, or ``"auto"``).
        max_pixels: Decompression-bomb limit for :func:`~visual_buffet.images.load_image`.
        use_previews: Decode a raw file's embedded camera preview where it is large enough.
        on_progress: Called after each record and at each phase change.
        on_warning: Called with a message a user should see (a plugin that could not load
            while others run, a plugin that failed mid-run).
        cancel: When set, the run stops after the image in progress: sinks are closed with
            what finished (see ``sinks``), the summary says ``cancelled`` and :meth:`run`
            returns it.
        summary_extra: More keys for the summary the sinks get (e.g. the scan's skip counts).
        library: A :class:`~visual_buffet.library.store.LibraryStore` to resume from and to
            keep every finished image in (None: nothing is looked up or kept). The caller
            opens and closes it.
        force: With a library: run every image through the model again (and store it).
    """

    def __init__(
        self,
        jobs: Sequence[PluginJob],
        files: Sequence[Path],
        *,
        missing: Sequence[Path] = (),
        sinks: Sequence[ResultWriter] = (),
        workers: int | str = "auto",
        max_pixels: int | None = None,
        use_previews: bool = True,
        on_progress: Callable[[RunProgress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        summary_extra: Mapping[str, Any] | None = None,
        library: LibraryStore | None = None,
        force: bool = False,
    ) -> None:
        self.jobs = list(jobs)
        self.files = list(files)
        self.missing = list(missing)
        self.sinks = list(sinks)
        self.workers = workers
        self.max_pixels = max_pixels
        self.use_previews = use_previews
        self.on_progress = on_progress
        self.on_warning = on_warning
        self.cancel = cancel or threading.Event()
        self.library = library
        self.force = force
        self._fingerprints: Fingerprints | None = None
        self.total = (len(self.files) + len(self.missing)) * len(self.jobs)
        self.summary = RunSummary(
            images=len(self.files) + len(self.missing), extra=dict(summary_extra or {})
        )
        self._done = 0
        self._current = ""
        # Records wait here until a plugin has loaded (or there is nothing to load): a run
        # that cannot start at all must leave its outputs untouched.
        self._held: list[Record] | None = [] if self.files else None
        self.delivered = 0
        """Records handed to the sinks so far."""

    # -- reporting ---------------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)

    def _phase(self, phase: Phase, plugin: str) -> None:
        self._current = plugin
        if self.on_progress is not None:
            self.on_progress(
                RunProgress(phase, plugin, self._done, self.total, self.summary.failed)
            )

    def _emit(self, record: Record) -> None:
        """Hand one finished record to every sink, count it, report it, honour cancel."""
        if record["error"] is None:
            self.summary.tagged += 1
            source = record.setdefault("tags_from", "model")
            self.summary.tags_from[source] = self.summary.tags_from.get(source, 0) + 1
        else:
            self.summary.failed += 1
        if self._held is not None:
            self._held.append(record)
        else:
            self._deliver(record)
        self._done += 1
        if self.on_progress is not None:
            self.on_progress(
                RunProgress(
                    "tagging", self._current, self._done, self.total, self.summary.failed, record
                )
            )
        if self.cancel.is_set():
            raise TaggingCancelled

    def _deliver(self, record: Record) -> None:
        for sink in self.sinks:
            sink.write(record)
        self.delivered += 1

    def _release_held(self) -> None:
        """A plugin loaded: the records held until now go to the sinks, in order."""
        held, self._held = self._held or [], None
        for record in held:
            self._deliver(record)

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Run every job; return the summary (``cancelled`` set when the event stopped it).

        Raises :class:`PluginLoadFailed` when the run has one plugin and it cannot load
        (sinks aborted, nothing written). Ctrl-C (KeyboardInterrupt, also what the CLI turns
        SIGTERM into) closes the sinks with what finished, then propagates; any other
        exception (a sink's :class:`~visual_buffet.output.OutputError` included) aborts the
        sinks and propagates.
        """
        start = time.perf_counter()
        self.summary.plugins = len(self.jobs)
        try:
            for job in self.jobs:
                self._run_job(job)
        except (TaggingCancelled, KeyboardInterrupt) as exc:
            self.summary.cancelled = True
            self.summary.elapsed_s = time.perf_counter() - start
            self._end_interrupted()
            if isinstance(exc, KeyboardInterrupt):
                raise
            return self.summary
        except BaseException:
            self._abort_sinks()
            raise
        self.summary.elapsed_s = time.perf_counter() - start
        if self.summary.nothing_could_run:  # exit 2: no output, as if the run never started
            self._abort_sinks()
            self._phase("done", "")
            return self.summary
        self._release_held()  # only missing paths: nothing was loaded, the records stand
        summary = self.summary.as_dict()
        for sink in self.sinks:
            sink.close(summary)
        self._phase("done", "")
        return self.summary

    def _end_interrupted(self) -> None:
        """Stopped from outside: the sinks keep the records they have, marked interrupted."""
        if not self.delivered:  # nothing reached them: leave existing outputs as they were
            self._abort_sinks()
            return
        summary = {**self.summary.as_dict(), "interrupted": True}
        for sink in self.sinks:
            sink.close(summary)

    def _abort_sinks(self) -> None:
        for sink in self.sinks:
            sink.abort()

    def _run_job(self, job: PluginJob) -> None:
        self._current = job.name
        for path in self.missing:
            error = FileNotFoundError(f"{path}: no such file or folder")
            self._emit(error_record(str(path), job.name, error, job.plain))
        if not self.files:  # only missing paths: no model to load for nothing
            return
        if self.cancel.is_set():
            raise TaggingCancelled
        plugin = job.instance or job.plugin_class(job.settings)  # cheap: nothing loaded yet
        used: list[bool] = []
        try:
            self._tag_with(job, plugin, used)
        finally:
            if used and job.instance is None:  # a caller's warm plugin stays loaded
                plugin.close()

    def _tag_with(self, job: PluginJob, plugin: Plugin, used: list[bool]) -> None:
        """Stored records, re-scored ones, then the model for the rest (loaded only then).

        When the model is needed it is loaded before any stored record is emitted: a plugin
        that cannot load stops the run before it writes anything (exit 2). ``used`` gets an
        item once the plugin has loaded or re-scored (it then needs ``close()``).
        """
        from visual_buffet.pipeline import PluginRunError, default_workers, run_plugin

        session, plan = self._plan(job, plugin) if self.library is not None else (None, None)
        to_run = list(self.files) if plan is None else plan.run
        loaded = False

        def load(files: list[Path]) -> bool:
            """Load the plugin once; on failure record ``files`` as failed (or stop)."""
            nonlocal loaded
            if loaded:
                return True
            self._phase("loading", job.name)
            try:
                plugin.load()
            except PluginError as exc:
                if len(self.jobs) == 1 and not self.delivered:
                    raise PluginLoadFailed(job.name, exc) from None
                self._warn(f"plugin {job.name} could not load: {exc}")
                self.summary.load_failures += 1
                for path in files:
                    self._emit(error_record(str(path), job.name, exc, job.plain))
                return False
            loaded = True
            used.append(True)
            return True

        if to_run and not load(to_run):
            to_run = []
            if plan is not None:  # what the store has is still good
                plan.rescore = []
        else:
            self._release_held()  # the plugin loaded, or is not needed: the run has started
        self._phase("tagging", job.name)
        if plan is not None and session is not None:
            if plan.rescore:
                used.append(True)  # re-scoring may load what it needs (text embeddings)
            for record in session.stored(plan.stored):
                self._emit(record)
            failed: list[Path] = []

            def rescore_failed(paths: list[Path], exc: Exception) -> None:
                self._warn(
                    f"{job.name} could not re-score {len(paths)} stored image(s) "
                    f"({type(exc).__name__}: {exc}); running them through the model."
                )
                failed.extend(paths)

            for record in session.rescored(plan.rescore, job.plain, rescore_failed):
                self._emit(record)
            failed.extend(session.vanished)
            if failed and not load(failed):
                failed = []
            to_run = [*failed, *to_run]
        if not to_run:
            return
        workers = self.workers
        try:
            run_plugin(
                plugin,
                to_run,
                settings=job.plain,
                on_record=self._emit,
                on_result=session.keep if session is not None else None,
                workers=default_workers() if workers == "auto" else int(workers),
                max_pixels=self.max_pixels,
                use_previews=self.use_previews,
            )
        except PluginRunError as exc:
            self._warn(str(exc))

    def _plan(self, job: PluginJob, plugin: Plugin) -> tuple[PluginSession, Plan]:
        """Fingerprint the files (once per run) and sort them by what the store has."""
        from visual_buffet.library.resume import Fingerprints, PluginSession, host_identity
        from visual_buffet.pipeline import default_workers

        assert self.library is not None
        self._phase("checking", job.name)
        if self._fingerprints is None:
            workers = default_workers() if self.workers == "auto" else int(self.workers)
            self._fingerprints = Fingerprints(self.library, workers)
        session = PluginSession(
            self.library,
            job.name,
            plugin,
            self._fingerprints,
            host=host_identity(self.use_previews),
            force=self.force,
        )
        return session, session.plan(self.files)


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
