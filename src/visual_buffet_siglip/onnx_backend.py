"""The ONNX Runtime backend of the SigLIP plugin: the towers through onnxruntime on the CPU.

A warm run (exports cached, text embeddings cached) imports neither torch nor transformers:
the checkpoint folder and its revision are found on disk (huggingface_hub's cache lookup for
Hub ids), the export is verified and opened with onnxruntime, views are prepared by
:mod:`~visual_buffet_siglip.onnx_preprocess` and features normalised in NumPy. torch and
transformers load only to export a missing tower (:mod:`~visual_buffet_siglip.onnx_export`)
and to tokenise labels on a text-cache miss.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visual_buffet import paths
from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.onnx_cache import CachedExport, OnnxExportCache, export_key
from visual_buffet_siglip.onnx_preprocess import ImagePreprocessor
from visual_buffet_siglip.onnx_session import (
    derive_optimised,
    open_session,
    optimised_key,
    verified_session,
)
from visual_buffet_siglip.scoring import normalise
from visual_buffet_siglip.variants import ModelChoice

log = logging.getLogger(__name__)

THREADS_ENV = "VISUAL_BUFFET_THREADS"
"""Overrides the ``threads`` setting (an integer), e.g. to leave cores to other work."""

TEXT_CHUNK = 256
"""Labels per text-tower call (bounded memory for vocabularies of thousands)."""


def compute_threads(requested: int | str) -> int:
    """Intra-op threads: the setting or ``VISUAL_BUFFET_THREADS``, else the physical cores
    this process may use (hyper-threads share the cores' vector units: more threads than
    cores made the matrix products slower, not faster)."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise PluginError(f"{THREADS_ENV}={env!r}: give a whole number of threads (>= 1).")
        return int(env)
    if requested != "auto":
        return int(requested)
    from visual_buffet.hardware import physical_cores_usable

    return physical_cores_usable()


def checkpoint_folder(choice: ModelChoice, report: Callable[[str], None]) -> tuple[Path, str]:
    """(folder with the checkpoint's files, revision) without importing transformers.

    A Hub id is looked up in the Hugging Face cache first (no network); when it is not there it
    is downloaded, as the PyTorch path would. The revision is the Hub commit (the snapshot
    folder's name) or, for a local folder, the content hash the PyTorch path uses.
    """
    from visual_buffet_siglip.loading import checkpoint_revision, download, not_available_error

    if choice.is_local:
        return Path(choice.source), checkpoint_revision(choice, None)
    from huggingface_hub import snapshot_download

    from visual_buffet_siglip.loading import DOWNLOAD_PATTERNS, _offline_env

    try:
        folder = Path(
            snapshot_download(
                choice.source, allow_patterns=DOWNLOAD_PATTERNS, local_files_only=True
            )
        )
    except Exception:  # not cached (LocalEntryNotFoundError and friends)
        if _offline_env():
            raise not_available_error(choice.source, "HF_HUB_OFFLINE is set") from None
        folder = download(choice, report)
    return folder, folder.name


def is_naflex(folder: Path) -> bool:
    """Whether a checkpoint folder holds a SigLIP 2 NaFlex model (its config.json says so)."""
    import json

    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PluginError(f"cannot read {Path(folder) / 'config.json'}: {exc}") from None
    model_type = config.get("model_type")
    if model_type not in ("siglip", "siglip2"):
        raise PluginError(
            f"{folder} is a {model_type!r} checkpoint, not SigLIP / SigLIP 2. "
            "Use a variant name or a SigLIP checkpoint."
        )
    return model_type == "siglip2"


def ensure_exports(
    folder: Path,
    source: str,
    revision: str,
    wanted: Sequence[tuple[str, str]],
    report: Callable[[str], None],
    patches: int = 256,
) -> dict[tuple[str, str], CachedExport]:
    """The verified exports for each (tower, precision) wanted, exporting what is missing.

    A missing float32 export loads the transformers model once and exports both towers (the
    text tower takes seconds; a later vocabulary change then needs no torch model). int8 is
    quantised from the float32 export of the same tower. ``patches``: NaFlex's patch count.
    """
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    naflex_patches = patches if is_naflex(folder) else None

    def key(tower: str, precision: str) -> dict[str, Any]:
        extra = naflex_patches if tower == "vision" else None
        return export_key(revision, source, tower, precision, extra)

    found: dict[tuple[str, str], CachedExport] = {}
    for tower, precision in wanted:
        entry = cache.load(key(tower, precision))
        if entry is not None:
            found[(tower, precision)] = entry
    missing = [w for w in wanted if w not in found]
    if not missing:
        return found
    try:
        return _export(cache, key, folder, source, missing, found, report, patches)
    except PluginError:
        raise
    except Exception as exc:  # an exporter or quantiser failure, a full disk: say what to do
        for tower, precision in [*missing, ("vision", "fp32"), ("text", "fp32")]:
            cache.staging_path(key(tower, precision)).unlink(missing_ok=True)
        raise PluginError(
            f"exporting {source} to ONNX failed ({type(exc).__name__}: {exc}). Check the free "
            f'space in {cache.folder}, or set runtime = "torch" to run it with PyTorch.'
        ) from exc


def _export(
    cache: OnnxExportCache,
    key: Callable[[str, str], dict[str, Any]],
    folder: Path,
    source: str,
    missing: list[tuple[str, str]],
    found: dict[tuple[str, str], CachedExport],
    report: Callable[[str], None],
    patches: int,
) -> dict[tuple[str, str], CachedExport]:
    """The export part of :func:`ensure_exports` (torch and transformers load here)."""
    from visual_buffet_siglip.onnx_export import (
        export_tower,
        load_float_model,
        model_meta,
        quantize_int8,
        timed,
    )

    fp32 = {t: cache.load(key(t, "fp32")) for t in {t for t, _ in missing}}
    todo = [t for t in ("vision", "text") if t in fp32 and fp32[t] is None]
    if todo and "text" not in fp32 and cache.load(key("text", "fp32")) is None:
        todo.append("text")  # the model is loaded anyway: a first run's text miss needs it
    if todo:
        with timed(report, f"Loading {source} to export it to ONNX"):
            model, naflex = load_float_model(folder)
        meta = model_meta(model, naflex)
        for tower in todo:
            staged = cache.staging_path(key(tower, "fp32"))
            with timed(report, f"Exporting the {tower} tower to ONNX"):
                names = export_tower(model, naflex, tower, staged, patches)
            fp32[tower] = cache.store(key(tower, "fp32"), staged, {**meta, "inputs": names})
        del model
    for tower, precision in missing:
        base = fp32[tower]
        assert base is not None
        if precision == "fp32":
            found[(tower, precision)] = base
            continue
        staged = cache.staging_path(key(tower, precision))
        with timed(report, f"Quantising the {tower} tower to int8"):
            quantize_int8(base.path, staged)
        found[(tower, precision)] = cache.store(key(tower, precision), staged, base.meta)
    return found


@dataclass
class OnnxModel:
    """Verified ONNX towers of one checkpoint, ready to encode views (and labels)."""

    choice: ModelChoice
    folder: Path
    revision: str
    precision: str
    threads: int
    vision: Any  # onnxruntime.InferenceSession
    meta: dict[str, Any]
    preprocessor: ImagePreprocessor
    load_ms: float
    export_ms: float
    model_bytes: int
    vision_entry: CachedExport | None = None  # the optimised form the session was opened from
    prepacked: bool = True  # see encode_views
    _identity: tuple[Any, ...] = field(default=(), repr=False)
    _batches: int = field(default=0, repr=False)
    _text: Any = field(default=None, repr=False)
    _tokenizer: Any = field(default=None, repr=False)  # loaded once: 50 ms a search query

    dtype = "float32"
    attention = "onnx"  # the exported graph's (eager) attention, run by ONNX Runtime

    @property
    def naflex(self) -> bool:
        return bool(self.meta["naflex"])

    def encode_views(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Normalised image features (views, dim) in float32.

        A warm session opens without prepacked weights (instant, weights memory-mapped), which
        costs ~8-12 % per batch of 8; a run with a second batch is likely long enough to repay
        prepacking (1.4-3.5 s for so400m float32 on 2 cores), so the session is swapped for a
        prepacked one then (docs/performance.md, run 16).
        """
        self._batches += 1
        if self._batches == 2 and not self.prepacked:
            self._prepack()
        feed = {name: inputs[name] for name in self.meta["inputs"]}
        (features,) = self.vision.run(["features"], feed)
        return normalise(features)

    def _prepack(self) -> None:
        """Open the verified optimised form again, prepacked, and use that session (the files
        must be the ones that were hash-checked: same inode, size and mtime)."""
        self.prepacked = True  # one try: on a failure the running session stays
        entry = self.vision_entry
        try:
            if entry is None or entry.identity() != self._identity:
                log.info("the ONNX export was replaced since it was checked; not reopened")
                return
            # The unpacked session goes first: its mapping of model.data and the new one's
            # would both count in this process's memory while the weights are packed.
            self.vision = None
            self.vision = open_session(entry.path, self.threads, optimised=True)
        except Exception as exc:  # go on without prepacked weights
            log.warning("prepacking the ONNX weights failed (%s); continuing without", exc)
            if self.vision is None:
                self.vision = open_session(entry.path, self.threads, True, prepack=False)

    def encode_texts(self, texts: Sequence[str], report: Callable[[str], None]) -> np.ndarray:
        """Normalised text features (labels, dim), tokenised as the PyTorch path does.

        Loads the tokenizer with transformers (a text-cache miss only) and the text tower's
        export (exporting it first if it is missing).
        """
        from transformers import AutoProcessor

        from visual_buffet_siglip.loading import quiet_transformers

        quiet_transformers()
        if self._text is None:
            exports = ensure_exports(
                self.folder, self.choice.source, self.revision, [("text", "fp32")], report
            )
            self._text = open_session(exports[("text", "fp32")].path, self.threads)
        if self._tokenizer is None:
            self._tokenizer = AutoProcessor.from_pretrained(self.folder).tokenizer
        tokenizer = self._tokenizer
        names = list(getattr(tokenizer, "model_input_names", ["input_ids"]))
        parts = []
        for start in range(0, len(texts), TEXT_CHUNK):
            batch = tokenizer(
                list(texts[start : start + TEXT_CHUNK]),
                padding="max_length",
                max_length=64,
                truncation=True,
                return_tensors="np",
            )
            feed = {k: v.astype(np.int64) for k, v in batch.items() if k in names}
            (features,) = self._text.run(["features"], feed)
            parts.append(normalise(features))
        return np.concatenate(parts)

    def describe(self) -> dict[str, Any]:
        """Metadata for result records (the same keys as the PyTorch path's)."""
        choice = self.choice
        return {
            "id": choice.source if not choice.is_local else Path(choice.source).name,
            "path": choice.source if choice.is_local else None,
            "variant": choice.variant,
            "revision": self.revision,
            "architecture": "Siglip2Model (NaFlex)" if self.naflex else "SiglipModel",
            "image_size": self.meta["image_size"],
            "patch_size": self.meta["patch_size"],
            "device": "cpu",
            "dtype": "float32",
            "attention": "onnx",
            "quantization": "8bit" if self.precision == "int8" else "none",
            "runtime": "onnx",
            "onnx_precision": self.precision,
            "threads": self.threads,
            "export_ms": round(self.export_ms, 1),
        }


def _open_optimised(
    cache: OnnxExportCache, key: dict[str, Any], threads: int
) -> tuple[CachedExport | None, Any, tuple[Any, ...]]:
    """The warm path: the optimised form under ``key`` opened without prepacking, its files'
    hashes checked while it opens, with the file identity that was checked. ``(None, None,
    ())`` when it is absent, rejected, or replaced or removed while it was opened."""
    entry = cache.load(key, verify=False)
    if entry is None:
        return None, None, ()
    try:
        identity = entry.identity()
        session = verified_session(entry, threads, optimised=True, prepack=False)
        if session is None or entry.identity() != identity:
            return None, None, ()  # rejected, or replaced meanwhile: not what was checked
    except OSError as exc:  # a file went away after the manifest was read
        log.warning("ONNX export %s: %s; rebuilding", key.get("tower"), exc)
        return None, None, ()
    return entry, session, identity


def load_onnx(
    choice: ModelChoice,
    *,
    quantization: str,
    threads: int | str,
    max_num_patches: int,
    report: Callable[[str], None] = log.info,
) -> OnnxModel:
    """Find (or make) the verified vision export of ``choice`` in its optimised form
    (:mod:`~visual_buffet_siglip.onnx_session`) and open it."""
    start = time.perf_counter()
    precision = {"none": "fp32", "8bit": "int8"}.get(quantization)
    if precision is None:
        raise PluginError(
            f'quantization {quantization} has no ONNX form. Use quantization = "8bit" (int8, '
            'faster and smaller) or runtime = "torch" for bitsandbytes 4-bit.'
        )
    folder, revision = checkpoint_folder(choice, report)
    count = compute_threads(threads)
    export_start = time.perf_counter()
    exported: list[str] = []

    def noting(message: str) -> None:  # tells a first run (export) from a warm one
        exported.append(message)
        report(message)

    wanted = ("vision", precision)
    cache = OnnxExportCache(paths.cache_dir("siglip", "onnx"))
    patches = max_num_patches if is_naflex(folder) else None
    fast_key = optimised_key(export_key(revision, choice.source, *wanted, patches))
    entry, session, identity = _open_optimised(cache, fast_key, count)
    prepacked = session is None
    if session is None:  # absent or rejected: made again from the verified export
        source = ensure_exports(folder, choice.source, revision, [wanted], noting, max_num_patches)
        try:
            entry, session = derive_optimised(cache, fast_key, source[wanted], count, noting)
        except Exception as exc:  # onnxruntime could not write it (a full disk, most likely)
            raise PluginError(
                f"preparing the ONNX export of {choice.source} for this CPU failed "
                f"({type(exc).__name__}: {exc}). Check the free space in {cache.folder}, "
                'or set runtime = "torch" to run it with PyTorch.'
            ) from exc
        identity = entry.identity()
    export_ms = (time.perf_counter() - export_start) * 1000 if exported else 0.0
    meta = entry.meta
    preprocessor = ImagePreprocessor.from_checkpoint(folder, bool(meta["naflex"]), max_num_patches)
    return OnnxModel(
        choice=choice,
        folder=folder,
        revision=revision,
        precision=precision,
        threads=count,
        vision=session,
        meta=meta,
        preprocessor=preprocessor,
        load_ms=(time.perf_counter() - start) * 1000,
        export_ms=export_ms,
        model_bytes=entry.size,
        vision_entry=entry,
        prepacked=prepacked,
        _identity=identity,
    )
