"""The ONNX export cache: one verified ``model.onnx`` per (checkpoint, tower, precision, export
settings), under ``visual_buffet.paths.cache_dir("siglip", "onnx")``.

Each entry is a folder named by the digest of its key, holding ``model.onnx`` and a
``manifest.json`` (the full key, the file's size and sha256, and what the runtime needs to know
about the model: logit scale and bias, input names, sizes). The model file is written first and
the manifest last, both atomically (temp file + rename), so an interrupted export leaves an
entry without a valid manifest, which counts as absent. On read the key, size and sha256 are
checked (hashing runs at ~1 GB/s: 0.35 s for a base vision tower); anything that does not match
is reported and rebuilt, never trusted. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visual_buffet.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"

OPSET = 17
"""ONNX opset of the exports (LayerNormalization is an op from 17; ORT >= 1.14 runs it)."""

EXPORTER = "torch.onnx.export(dynamo=False)"
"""Which exporter made the graph. The torch.export-based one (``dynamo=True``) fails on the
SigLIP towers with torch 2.13 / transformers 5 (torch.export errors in step 1 of 3); the
TorchScript tracer exports them, NaFlex's variable patch count and spatial shapes included,
and matches transformers to 2e-6 (tests/siglip/test_onnx_export.py)."""


FUSIONS = "onnxruntime.transformers.optimizer(model_type=vit, opt_level=0)"
"""How vision graphs are rewritten after export (part of their cache key)."""


def _version(package: str) -> str:
    """Installed version of a distribution, from its metadata (no import: milliseconds)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def export_key(
    revision: str, source: str, tower: str, precision: str, patches: int | None = None
) -> dict[str, Any]:
    """What decides an exported graph: the checkpoint's content identity, the tower, the
    precision, the NaFlex patch count (traced into the attention-pooling head's reshapes, so
    each ``naflex.max_num_patches`` has its own vision export) and the tools that made it."""
    key: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "model": source,
        "revision": revision,
        "tower": tower,
        "precision": precision,
        "opset": OPSET,
        "exporter": EXPORTER,
        "torch": _version("torch").split("+")[0],
        "transformers": _version("transformers"),
    }
    if patches is not None:
        key["patches"] = patches
    if tower == "vision":  # fused with onnxruntime.transformers (onnx_export.fuse_operators)
        key["fusions"] = FUSIONS
    if precision == "int8" or tower == "vision":
        key["onnxruntime"] = _version("onnxruntime")  # the fusions' and quantiser's output
    return key


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 16 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedExport:
    """An export: the model file, its manifest's ``meta`` and sha256, and whether the file's
    hash has been checked yet (see :meth:`OnnxExportCache.load`)."""

    path: Path
    meta: dict[str, Any]
    size: int
    sha256: str = ""
    verified: bool = True

    def hash_matches(self) -> bool:
        """Hash the file now and compare with the manifest (what ``verify=True`` does)."""
        return sha256_file(self.path) == self.sha256

    def discard(self) -> None:
        """Remove the manifest: the entry counts as absent and is rebuilt on the next load."""
        (self.path.parent / MANIFEST_FILE).unlink(missing_ok=True)


class OnnxExportCache:
    """A folder of export entries (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def entry_dir(self, key: dict[str, Any]) -> Path:
        digest = hashlib.sha256(_canonical(key).encode("utf-8")).hexdigest()
        return self.folder / digest[:32]

    def load(self, key: dict[str, Any], verify: bool = True) -> CachedExport | None:
        """The verified export for ``key``; None (with a log line saying why) when it is
        absent, incomplete, corrupt or made for another key.

        ``verify=False`` checks the key and size but leaves the sha256 to the caller
        (:meth:`CachedExport.hash_matches`): the runtime hashes the file in a thread while
        onnxruntime loads it, and throws the session away if the hash does not match.
        """
        entry = self.entry_dir(key)
        manifest_path = entry / MANIFEST_FILE
        model = entry / MODEL_FILE
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ONNX export %s: unreadable manifest (%s); rebuilding", entry, exc)
            return None
        problem = None
        try:
            size = model.stat().st_size
        except OSError as exc:
            size, problem = -1, f"model file missing ({exc.__class__.__name__})"
        if problem is None and manifest.get("key") != _canonical(key):
            problem = "made for another key"
        elif problem is None and manifest.get("size") != size:
            problem = f"size {size} bytes, manifest says {manifest.get('size')}"
        elif problem is None and verify and manifest.get("sha256") != sha256_file(model):
            problem = "sha256 mismatch"
        if problem:
            log.warning("ONNX export %s rejected (%s); rebuilding", entry, problem)
            return None
        meta = dict(manifest.get("meta", {}))
        return CachedExport(model, meta, size, str(manifest.get("sha256")), verify)

    def staging_path(self, key: dict[str, Any]) -> Path:
        """A temp file in the entry's folder for an exporter to write (renamed by
        :meth:`store`; same folder, so the rename is atomic)."""
        entry = self.entry_dir(key)
        entry.mkdir(parents=True, exist_ok=True)
        return entry / f".{MODEL_FILE}.{os.getpid()}.tmp"

    def store(self, key: dict[str, Any], staged: Path, meta: dict[str, Any]) -> CachedExport:
        """Publish a staged model file: the previous manifest goes first (a crash from here on
        leaves no valid entry), then the model is fsynced and renamed into place, then the new
        manifest is written atomically."""
        entry = self.entry_dir(key)
        manifest_path = entry / MANIFEST_FILE
        manifest_path.unlink(missing_ok=True)
        with Path(staged).open("rb") as handle:
            os.fsync(handle.fileno())
        size = Path(staged).stat().st_size
        digest = sha256_file(staged)
        model = entry / MODEL_FILE
        os.replace(staged, model)
        manifest = {"key": _canonical(key), "size": size, "sha256": digest, "meta": meta}
        atomic_write_bytes(manifest_path, json.dumps(manifest, indent=1).encode("utf-8") + b"\n")
        return CachedExport(model, meta, size, digest)
