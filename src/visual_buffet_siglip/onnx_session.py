"""Opening ONNX Runtime sessions, and the form of an export that opens fastest.

An export (``model.onnx`` with its weights inside, :mod:`~visual_buffet_siglip.onnx_cache`) is
portable, but opening it makes onnxruntime parse the whole protobuf, copy every weight out of
it, run its graph optimisations and then prepack the MatMul weights: 4.4-5.4 s for the 1.7 GB
so400m float32 vision tower on this project's 2-core machine. So once per export and machine
onnxruntime itself writes the graph as it runs it (``ORT_ENABLE_ALL`` done, through
``optimized_model_filepath``) with its weights as external data in ``model.data``
(``session.optimized_model_external_initializers_file_name``), and every later session opens
that with optimisation off: no protobuf of weights to parse, no optimisation passes, and the
weights memory-mapped instead of read into a copy. Measured on that graph: 1.4-3.5 s instead
of 2.8-5.4 s, outputs bit-identical; opened without prepacking (what a warm run does, see
:func:`open_session`) 0.05 s, within 2e-6. docs/performance.md, run 16, compares it with the
other ways onnxruntime offers (ORT format, prepacked weights saved in the data file).

An ``ORT_ENABLE_ALL`` graph may hold rewrites for this CPU's instruction set (onnxruntime's
NCHWc layouts), so the optimised form's cache key adds the onnxruntime version and a
fingerprint of the CPU (:func:`optimised_key`): a cache folder copied to another machine gets
its own optimised form, derived from the portable export.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visual_buffet_siglip.onnx_cache import (
    DATA_FILE,
    MODEL_FILE,
    CachedExport,
    OnnxExportCache,
    package_version,
)

log = logging.getLogger(__name__)

OPTIMISED = "onnxruntime ORT_ENABLE_ALL, initializers >= 1024 bytes in model.data"
"""How the optimised form is made (part of its cache key)."""

EXTERNAL_MIN_BYTES = 1024
"""Initializers from this size go to ``model.data`` (smaller ones stay in the graph file)."""


def cpu_fingerprint() -> str:
    """A short hash of what decides onnxruntime's CPU kernels: the machine type and, where
    Linux tells it, the first CPU's model and feature flags."""
    parts = [platform.machine(), platform.processor()]
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block is enough: they are all the same model
        name = line.split(":", 1)[0].strip()
        if name in ("model name", "flags", "Features", "CPU implementer", "CPU part"):
            parts.append(" ".join(line.split()))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def optimised_key(key: dict[str, Any]) -> dict[str, Any]:
    """The cache key of the optimised form of the export with ``key``."""
    return {
        **key,
        "optimised": OPTIMISED,
        "onnxruntime": package_version("onnxruntime"),
        "cpu": cpu_fingerprint(),
    }


def session_options(threads: int, optimise: bool = True, prepack: bool = True) -> Any:
    """onnxruntime session options: ``threads`` intra-op threads that sleep when idle, the
    graph optimised now (``optimise``) or already (the optimised form), and the MatMul weights
    prepacked into onnxruntime's own layout at load (``prepack``, see :func:`open_session`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = level.ORT_ENABLE_ALL if optimise else level.ORT_DISABLE_ALL
    # Idle intra-op threads sleep instead of spinning: the decode workers run on the same
    # cores between batches and would otherwise compete with busy-waiting threads.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.log_severity_level = 3
    return options


def open_session(path: Path, threads: int, optimised: bool = False, prepack: bool = True) -> Any:
    """A CPU session of the graph at ``path`` (``optimised``: a graph in the optimised form).

    ``prepack=False`` leaves the weights where onnxruntime memory-mapped them (the optimised
    form's ``model.data``) instead of copying them into its packed layout: the so400m float32
    session opens in 0.08 s instead of 2-3 s and its weights stay in the page cache (shared,
    not private memory), but each image costs ~8 % (fp32) to ~12 % (int8) more (base dims,
    batch 8; docs/performance.md, run 16). The runtime opens without prepacking and swaps to a
    prepacked session when a second batch comes (:meth:`OnnxModel.encode_views`)."""
    import onnxruntime as ort

    options = session_options(threads, optimise=not optimised, prepack=prepack)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def verified_session(
    entry: CachedExport, threads: int, optimised: bool = False, prepack: bool = True
) -> Any:
    """The session of an entry whose files' sha256 is checked in a thread while onnxruntime
    opens them (the so400m float32 export under load: 11.9 s for both at once against 4.8 s
    + 14.0 s one after the other). None, with a warning and the manifest removed, when a hash
    does not match."""
    if entry.verified:
        return open_session(entry.path, threads, optimised, prepack)
    result: dict[str, bool] = {}
    thread = threading.Thread(target=lambda: result.update(ok=entry.hash_matches()))
    thread.start()
    try:
        session = open_session(entry.path, threads, optimised, prepack)
    except Exception:
        thread.join()
        if result.get("ok", False):
            raise  # sound files onnxruntime cannot open: not a cache problem
        session = None
    thread.join()
    if not result.get("ok", False):
        log.warning("ONNX export %s rejected (sha256 mismatch); rebuilding", entry.path.parent)
        entry.discard()
        return None
    return session


def derive_optimised(
    cache: OnnxExportCache,
    key: dict[str, Any],
    source: CachedExport,
    threads: int,
    report: Callable[[str], None],
) -> tuple[CachedExport, Any]:
    """Write the optimised form of the verified export ``source`` under ``key`` (see the module
    docstring) and return it with the session that wrote it, ready to run (the same graph)."""
    import onnxruntime as ort

    staging = cache.staging_dir(key)
    start = time.perf_counter()
    report("Optimising the ONNX graph for this CPU...")
    try:
        options = session_options(threads, optimise=True)
        options.optimized_model_filepath = str(staging / MODEL_FILE)
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", DATA_FILE
        )
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes",
            str(EXTERNAL_MIN_BYTES),
        )
        session = ort.InferenceSession(
            str(source.path), options, providers=["CPUExecutionProvider"]
        )
        staged = {name: staging / name for name in (MODEL_FILE, DATA_FILE)}
        staged = {name: path for name, path in staged.items() if path.exists()}
        entry = cache.store_files(key, staged, source.meta)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report(f"Optimising the ONNX graph for this CPU: {time.perf_counter() - start:.1f} s")
    return entry, session
