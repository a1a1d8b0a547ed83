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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet.output import ResultWriter, error_record
from visual_buffet.plugin_api import Plugin, PluginError
from visual_buffet.tagging_types import (
    CHUNK_FILES,
    TAGS_FROM,
    Phase,
    PluginJob,
    PluginLoadFailed,
    Record,
    RunProgress,
    RunSummary,
    TaggingCancelled,
    plugin_jobs,
)

if TYPE_CHECKING:
    from visual_buffet.library.resume import Fingerprints, Plan, PluginSession
    from visual_buffet.library.store import LibraryStore


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
        """Per chunk of files: stored records, re-scored ones, then the model for the rest.

        With a store the files go in chunks of :data:`CHUNK_FILES`, so a first run over a
        million photos starts tagging after hashing one chunk, not all of them. The plugin
        is loaded when a chunk first needs the model, before that chunk's stored records
        are emitted: a plugin that cannot load stops a run that wrote nothing (exit 2).
        ``used`` gets an item once the plugin has loaded or re-scored (it needs ``close()``).
        """
        session = self._session(job, plugin) if self.library is not None else None
        step = CHUNK_FILES if session is not None else max(1, len(self.files))
        state: dict[str, Any] = {"loaded": False, "broken": None}

        def load(files: list[Path]) -> bool:
            """Load the plugin once; on failure record ``files`` as failed (or stop)."""
            if state["loaded"]:
                return True
            if state["broken"] is None:
                self._phase("loading", job.name)
                try:
                    plugin.load()
                    state["loaded"] = True
                    used.append(True)
                    return True
                except PluginError as exc:
                    if len(self.jobs) == 1 and not self.delivered:
                        raise PluginLoadFailed(job.name, exc) from None
                    self._warn(f"plugin {job.name} could not load: {exc}")
                    self.summary.load_failures += 1
                    state["broken"] = exc
            for path in files:
                self._emit(error_record(str(path), job.name, state["broken"], job.plain))
            return False

        for start in range(0, len(self.files), step):
            chunk = self.files[start : start + step]
            plan = session.plan(chunk) if session is not None else None
            to_run = list(chunk) if plan is None else plan.run
            if to_run and not load(to_run):
                to_run = []
            elif self._held is not None:
                self._release_held()  # the plugin loaded, or is not needed: output starts
            self._phase("tagging", job.name)
            if plan is not None and session is not None:
                to_run = [*self._from_store(job, session, plan, used, load), *to_run]
            if to_run:
                self._run_model(job, plugin, to_run, session, state)

    def _from_store(
        self,
        job: PluginJob,
        session: PluginSession,
        plan: Plan,
        used: list[bool],
        load: Callable[[list[Path]], bool],
    ) -> list[Path]:
        """Emit a chunk's stored and re-scored records; return the files the model must take
        instead (re-scores that failed, records forgotten meanwhile)."""
        for record in session.stored(plan.stored):
            self._emit(record)
        failed: list[Path] = []

        def rescore_failed(paths: list[Path], exc: Exception) -> None:
            self._warn(
                f"{job.name} could not re-score {len(paths)} stored image(s) "
                f"({type(exc).__name__}: {exc}); running them through the model."
            )
            failed.extend(paths)

        if plan.rescore:
            used.append(True)  # re-scoring may load what it needs (text embeddings)
        for record in session.rescored(plan.rescore, job.plain, rescore_failed):
            self._emit(record)
        failed.extend(session.vanished)
        session.vanished.clear()
        return failed if failed and load(failed) else []

    def _run_model(
        self,
        job: PluginJob,
        plugin: Plugin,
        files: list[Path],
        session: PluginSession | None,
        state: dict[str, Any],
    ) -> None:
        """Run the loaded plugin over ``files``; once it has failed as a whole, the files of
        later chunks get its failure as their error instead."""
        from visual_buffet.pipeline import PluginRunError, default_workers, run_plugin

        if state["broken"] is not None:
            for path in files:
                self._emit(error_record(str(path), job.name, state["broken"], job.plain))
            return
        try:
            run_plugin(
                plugin,
                files,
                settings=job.plain,
                on_record=self._emit,
                on_result=session.keep if session is not None else None,
                workers=default_workers() if self.workers == "auto" else int(self.workers),
                max_pixels=self.max_pixels,
                use_previews=self.use_previews,
            )
        except PluginRunError as exc:
            self._warn(str(exc))
            state["broken"] = RuntimeError(str(exc))

    def _session(self, job: PluginJob, plugin: Plugin) -> PluginSession:
        """The plugin's use of the store for this run (fingerprints shared by plugins)."""
        from visual_buffet.library.resume import Fingerprints, PluginSession, host_identity
        from visual_buffet.pipeline import default_workers

        assert self.library is not None
        self._phase("checking", job.name)
        if self._fingerprints is None:
            workers = default_workers() if self.workers == "auto" else int(self.workers)
            self._fingerprints = Fingerprints(self.library, workers)
        return PluginSession(
            self.library,
            job.name,
            plugin,
            self._fingerprints,
            host=host_identity(self.use_previews),
            force=self.force,
        )


__all__ = [
    "CHUNK_FILES",
    "TAGS_FROM",
    "PluginJob",
    "PluginLoadFailed",
    "RunProgress",
    "RunSummary",
    "TaggingCancelled",
    "TaggingRun",
    "plugin_jobs",
]
