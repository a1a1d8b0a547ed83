"""Text embeddings computed once per (checkpoint, dtype, quantization, template, labels).

Encoding 1,000 labels with the base text tower takes ~100 s on a laptop CPU; loading them
back takes milliseconds. Files live in the user cache dir, are written atomically, and are
verified on read (key, shape, checksum, finite values): a corrupt or mismatched file is
recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from visual_buffet.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def cache_key(**parts: Any) -> tuple[str, str]:
    """Return (hex digest, canonical JSON) of the parts that decide the embeddings."""
    canonical = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest(), canonical


class TextEmbeddingCache:
    """A folder of ``<key>.safetensors`` files holding normalised text embeddings."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, digest: str) -> Path:
        return self.folder / f"{digest[:32]}.safetensors"

    def load(
        self, digest: str, canonical: str, expected_rows: int, *, numpy: bool = False
    ) -> Any | None:
        """Return the cached float32 embeddings, or None when absent, corrupt or mismatched.

        Read with ``safetensors.numpy``, so a hit needs no torch (the ONNX runtime's hot path);
        ``numpy=False`` hands back a torch tensor for the PyTorch runtime.
        """
        import numpy as np
        from safetensors import SafetensorError
        from safetensors.numpy import load as st_load

        path = self.path_for(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("text cache %s unreadable (%s); recomputing", path, exc)
            return None
        try:
            tensors = st_load(data)
            metadata = _metadata(data)
        except (SafetensorError, ValueError, KeyError, json.JSONDecodeError) as exc:
            log.warning("text cache %s is corrupt (%s); recomputing", path, exc)
            return None
        embeddings = tensors.get("embeddings")
        problem = None
        if embeddings is None or metadata.get("key") != canonical:
            problem = "key mismatch"
        elif embeddings.ndim != 2 or embeddings.shape[0] != expected_rows:
            problem = f"shape {tuple(embeddings.shape)}"
        elif metadata.get("sha256") != _checksum(embeddings):
            problem = "checksum mismatch"
        elif not bool(np.isfinite(embeddings).all()):
            problem = "non-finite values"
        if problem:
            log.warning("text cache %s rejected (%s); recomputing", path, problem)
            return None
        if numpy:
            return embeddings
        import torch

        return torch.from_numpy(embeddings)

    def save(self, digest: str, canonical: str, embeddings: Any) -> Path:
        """Write embeddings (a float32 NumPy array or torch tensor) atomically; returns the path."""
        from safetensors.numpy import save as st_save

        embeddings = _as_numpy(embeddings)
        data = st_save(
            {"embeddings": embeddings},
            metadata={"key": canonical, "sha256": _checksum(embeddings)},
        )
        path = self.path_for(digest)
        atomic_write_bytes(path, data)
        return path

    def get_or_compute(
        self,
        parts: dict[str, Any],
        rows: int,
        compute: Callable[[], Any],
        *,
        numpy: bool = False,
    ) -> tuple[Any, bool]:
        """Return (embeddings, hit). On a miss, ``compute()`` runs and the result is saved.

        A hit is a NumPy array with ``numpy=True`` (no torch import), else a torch tensor; a
        miss returns what ``compute()`` returned. A cache folder that cannot be written is not
        fatal: the embeddings are still returned.
        """
        digest, canonical = cache_key(**parts)
        cached = self.load(digest, canonical, rows, numpy=numpy)
        if cached is not None:
            return cached, True
        embeddings = compute()
        try:
            self.save(digest, canonical, embeddings)
        except OSError as exc:
            log.warning("cannot write text cache in %s (%s); continuing without", self.folder, exc)
        return embeddings, False


def encode_texts(
    model: Any, tokenizer: Any, texts: Sequence[str], device: str, chunk: int = 256
) -> Any:
    """Normalised text embeddings (float32, on ``device``), in memory-bounded chunks.

    Tokenised exactly as SigLIP was trained: ``padding="max_length"``, ``max_length=64``,
    truncation, and only the inputs the tokenizer declares (``input_ids`` for the released
    checkpoints: passing an attention mask they never saw changes the embeddings).
    """
    import torch

    names = list(getattr(tokenizer, "model_input_names", ["input_ids"]))
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), chunk):
            batch = tokenizer(
                list(texts[start : start + chunk]),
                padding="max_length",
                max_length=64,
                truncation=True,
                return_tensors="pt",
            )
            inputs = {k: v.to(device) for k, v in batch.items() if k in names}
            features = model.get_text_features(**inputs).pooler_output.float()
            parts.append(torch.nn.functional.normalize(features, dim=-1))
    return torch.cat(parts)


def _as_numpy(embeddings: Any) -> Any:
    """A C-contiguous float32 NumPy copy of a NumPy array or a torch tensor (any device)."""
    import numpy as np

    if not isinstance(embeddings, np.ndarray):
        embeddings = embeddings.detach().to("cpu", dtype=_float32()).numpy()
    return np.ascontiguousarray(embeddings, dtype=np.float32)


def _checksum(array: Any) -> str:
    return hashlib.sha256(_as_numpy(array).tobytes()).hexdigest()


def _metadata(data: bytes) -> dict[str, str]:
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    return header.get("__metadata__", {})


def _float32() -> Any:
    import torch

    return torch.float32
