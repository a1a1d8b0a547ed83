"""What decides SigLIP's embeddings and tags, computed without loading the model or torch.

A library store reuses a stored result when :func:`result_identity` is equal, and re-scores
stored view embeddings when only :func:`embedding_identity` is equal. Both must be cheap
(they run for every ``visual-buffet tag``, also when nothing needs the model) and must change
whenever the outcome would:

- the checkpoint: a local folder by :func:`~visual_buffet_siglip.loading.checkpoint_revision`
  (content hash), a Hub id by the commit its Hugging Face cache entry points at;
- the views (quality level, NaFlex patch budget) and the numerics (dtype, quantization,
  runtime where a plugin version adds one);
- for tags, also the threshold, the limit and the exact label list (custom vocabulary content
  and ``max_candidates`` included).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from visual_buffet_siglip.variants import ModelChoice

EMBEDDING_FORMAT = 1
"""Bump when the meaning of stored view embeddings changes (views, normalisation)."""

EMBEDDING_SETTINGS: tuple[str, ...] = (
    "quality",
    "dtype",
    "quantization",
    "naflex.max_num_patches",
    "runtime",
)
"""Settings that change which views are embedded or the embedding values."""

RESULT_SETTINGS: tuple[str, ...] = ("threshold", "max_tags")
"""Settings that change the tags drawn from the same embeddings (besides the labels)."""

NOT_CACHED = "not-cached"


def hub_cache_dir() -> Path:
    """The Hugging Face Hub cache folder, as ``huggingface_hub`` finds it (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def hub_revision(model_id: str, revision: str = "main") -> str:
    """The commit the cache's ``refs/<revision>`` names for ``model_id``, or ``not-cached``."""
    folder = hub_cache_dir() / ("models--" + model_id.replace("/", "--"))
    try:
        return (folder / "refs" / revision).read_text(encoding="utf-8").strip() or NOT_CACHED
    except OSError:
        return NOT_CACHED


def model_identity(choice: ModelChoice) -> dict[str, str]:
    """Source and revision of the weights (what the text-embedding cache keys also use)."""
    if choice.is_local:
        from visual_buffet_siglip.loading import checkpoint_revision

        return {"model": "local", "revision": checkpoint_revision(choice, None)}
    return {"model": choice.source, "revision": hub_revision(choice.source)}


def labels_digest(labels: Sequence[str]) -> str:
    """A short hash of the exact label list, in order."""
    text = json.dumps(list(labels), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def embedding_identity(
    model: Mapping[str, str], settings: Mapping[str, Any], extra: Sequence[str] = ()
) -> dict[str, Any]:
    """The identity of view embeddings: model identity + the settings that change them.

    ``extra`` names more settings that do (e.g. a runtime a later plugin version adds).
    """
    names = [*EMBEDDING_SETTINGS, *extra]
    return {
        "format": EMBEDDING_FORMAT,
        **model,
        "settings": {name: settings.get(name) for name in names},
    }


def result_identity(
    version: str, embeddings: Mapping[str, Any], settings: Mapping[str, Any], labels: list[str]
) -> dict[str, Any]:
    """The identity of a tag result: embeddings + threshold, limit and the label list."""
    return {
        "plugin": "siglip",
        "version": version,
        "embeddings": dict(embeddings),
        "settings": {name: settings.get(name) for name in RESULT_SETTINGS},
        "labels": labels_digest(labels),
        "label_count": len(labels),
    }
