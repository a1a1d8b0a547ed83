"""View embeddings in the store: float32 little-endian blobs and views as JSON.

float32, not float16: with SigLIP's scale (exp(logit_scale) ~ 110) a float16 rounding of the
vectors moves scores by far more than the 1e-5 the store promises (measured by
``python -m visual_buffet.library.measure``; docs/library.md has the figures).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visual_buffet.plugin_api import View

if TYPE_CHECKING:
    import numpy as np

# NumPy is imported by the two functions that need it: a rerun that emits stored records
# reads no vectors, and NumPy's import (~60 ms) would be a sixth of its start-up.

STORED_DTYPE = "float32"


def to_blob(vectors: Any) -> tuple[bytes, str, int]:
    """(bytes, dtype name, dim) of a (views, dim) array, stored as little-endian float32."""
    import numpy as np

    array = np.ascontiguousarray(vectors, dtype="<f4")
    if array.ndim != 2:
        raise ValueError(f"embeddings must be (views, dim), got shape {array.shape}")
    return array.tobytes(), STORED_DTYPE, int(array.shape[1])


def from_blob(blob: bytes, dtype: str, dim: int) -> np.ndarray:
    """The (views, dim) float32 array of a stored blob (a read-only view of the bytes)."""
    if dtype != STORED_DTYPE:
        raise ValueError(f"unknown stored embedding dtype {dtype!r}")
    import numpy as np

    return np.frombuffer(blob, dtype="<f4").reshape(-1, dim)


def views_to_json(views: Sequence[View]) -> str:
    return json.dumps([view.to_dict() for view in views])


def views_from_json(text: str) -> list[View]:
    return [
        View(d["pass"], int(d["resolution"]), d["view"], tuple(d["box"]))  # type: ignore[arg-type]
        for d in json.loads(text)
    ]
