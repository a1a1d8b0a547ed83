"""The ONNX export cache: verified ONNX graphs per (checkpoint, tower, precision, export
settings), under ``visual_buffet.paths.cache_dir("siglip", "onnx")``.

Each entry is a folder named by the digest of its key, holding its files and a
``manifest.json`` (the full key, each file's size and sha256, and what the runtime needs to
know about the model: logit scale and bias, input names, sizes). An export is one file,
``model.onnx``; the form onnxruntime loads fastest (:mod:`~visual_buffet_siglip.onnx_session`)
is two: ``model.onnx`` (the optimised graph) and ``model.data`` (its weights as external data,
memory-mapped by onnxruntime). The files are written first and the manifest last, all
atomically (temp file + rename), so an interrupted write leaves an entry without a valid
manifest, which counts as absent. On read the key and every file's size and sha256 are checked
(hashing runs at ~1.2 GB/s: 0.3 s for a base vision tower); anything that does not match is
reported and rebuilt, never trusted. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visual_buffet.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
DATA_FILE = "model.data"
"""The external weights of an optimised graph (its ``model.onnx`` names this file)."""
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


def package_version(package: str) -> str:
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
        "torch": package_version("torch").split("+")[0],
        "transformers": package_version("transformers"),
    }
    if patches is not None:
        key["patches"] = patches
    if tower == "vision":  # fused with onnxruntime.transformers (onnx_export.fuse_operators)
        key["fusions"] = FUSIONS
    if precision == "int8" or tower == "vision":
        key["onnxruntime"] = package_version("onnxruntime")  # the fusions' and quantiser's output
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
    """An entry: the graph file onnxruntime opens, its manifest's ``meta``, the bytes of all its
    files, each file's sha256 (by name), and whether the hashes have been checked yet (see
    :meth:`OnnxExportCache.load`)."""

    path: Path
    meta: dict[str, Any]
    size: int
    hashes: dict[str, str] = field(default_factory=dict)
    verified: bool = True

    def hash_matches(self) -> bool:
        """Hash every file now and compare with the manifest (what ``verify=True`` does)."""
        folder = self.path.parent
        return all(sha256_file(folder / name) == digest for name, digest in self.hashes.items())

    def identity(self) -> tuple[tuple[str, int, int, int], ...]:
        """(name, inode, size, mtime) of every file: what tells, without hashing, that the
        files a session was opened from are still the ones now under their names."""
        folder = self.path.parent
        stats = [(name, (folder / name).stat()) for name in sorted(self.hashes)]
        return tuple((n, s.st_ino, s.st_size, s.st_mtime_ns) for n, s in stats)

    def discard(self) -> None:
        """Remove the manifest: the entry counts as absent and is rebuilt on the next load."""
        (self.path.parent / MANIFEST_FILE).unlink(missing_ok=True)


def _manifest_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{file name: {size, sha256}} of a manifest; one written before entries had several files
    (``size`` and ``sha256`` of ``model.onnx`` at the top) reads as that one file."""
    files = manifest.get("files")
    if files is None:
        return {MODEL_FILE: {"size": manifest.get("size"), "sha256": manifest.get("sha256")}}
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ValueError(f"its files do not include {MODEL_FILE}")
    if not all(isinstance(f, dict) and Path(n).name == n for n, f in files.items()):
        raise ValueError("a file entry that is not a plain name with size and sha256")
    return files


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

        ``verify=False`` checks the key and the sizes but leaves the sha256 to the caller
        (:meth:`CachedExport.hash_matches`): the runtime hashes the files in a thread while
        onnxruntime loads them, and throws the session away if a hash does not match.
        """
        entry = self.entry_dir(key)
        manifest_path = entry / MANIFEST_FILE
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = _manifest_files(manifest)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ONNX export %s: unreadable manifest (%s); rebuilding", entry, exc)
            return None
        problem = None if manifest.get("key") == _canonical(key) else "made for another key"
        total = 0
        for name, expected in files.items():
            if problem is not None:
                break
            try:
                size = (entry / name).stat().st_size
            except OSError as exc:
                problem = f"{name} missing ({exc.__class__.__name__})"
                break
            total += size
            if expected.get("size") != size:
                problem = f"{name}: size {size} bytes, manifest says {expected.get('size')}"
            elif verify and expected.get("sha256") != sha256_file(entry / name):
                problem = f"{name}: sha256 mismatch"
        if problem:
            log.warning("ONNX export %s rejected (%s); rebuilding", entry, problem)
            return None
        meta = dict(manifest.get("meta", {}))
        hashes = {name: str(f.get("sha256")) for name, f in files.items()}
        return CachedExport(entry / MODEL_FILE, meta, total, hashes, verify)

    def staging_path(self, key: dict[str, Any]) -> Path:
        """A temp file in the entry's folder for an exporter to write (renamed by
        :meth:`store`; same folder, so the rename is atomic)."""
        entry = self.entry_dir(key)
        entry.mkdir(parents=True, exist_ok=True)
        return entry / f".{MODEL_FILE}.{os.getpid()}.tmp"

    def staging_dir(self, key: dict[str, Any]) -> Path:
        """An empty temp folder in the entry's folder for a writer of several files (published
        by :meth:`store_files`; same file system, so the renames are atomic)."""
        staging = self.entry_dir(key) / f".staging.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def store(self, key: dict[str, Any], staged: Path, meta: dict[str, Any]) -> CachedExport:
        """Publish a staged model file as the entry's ``model.onnx`` (see :meth:`store_files`)."""
        return self.store_files(key, {MODEL_FILE: Path(staged)}, meta)

    def store_files(
        self, key: dict[str, Any], staged: dict[str, Path], meta: dict[str, Any]
    ) -> CachedExport:
        """Publish staged files under their names: the previous manifest goes first (a crash
        from here on leaves no valid entry), then each file is fsynced, hashed and renamed into
        place, then the new manifest (sizes and hashes of all of them) is written atomically.
        A file still mapped by a running session keeps its old content: renaming replaces the
        name, not the data."""
        entry = self.entry_dir(key)
        manifest_path = entry / MANIFEST_FILE
        manifest_path.unlink(missing_ok=True)
        files: dict[str, dict[str, Any]] = {}
        for name, path in staged.items():
            with Path(path).open("rb") as handle:
                os.fsync(handle.fileno())
            files[name] = {"size": Path(path).stat().st_size, "sha256": sha256_file(path)}
            os.replace(path, entry / name)
        manifest = {"key": _canonical(key), "files": files, "meta": meta}
        atomic_write_bytes(manifest_path, json.dumps(manifest, indent=1).encode("utf-8") + b"\n")
        hashes = {name: f["sha256"] for name, f in files.items()}
        total = sum(f["size"] for f in files.values())
        return CachedExport(entry / MODEL_FILE, meta, total, hashes)
