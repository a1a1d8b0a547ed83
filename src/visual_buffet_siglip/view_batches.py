"""Batches of views across images for the vision tower, and the out-of-memory fallback.

A quality level turns one photo into 1 to ~44 views; the vision tower runs best on full
batches of ``batch_size`` views whatever image they come from. :func:`embed_views` fills each
batch from as many prepared images as it takes and yields each image, in input order, as
soon as all of its views have their embeddings. It knows nothing of SigLIP: the plugin
passes the forward (its runtime's vision tower) and the stacking function (NumPy for ONNX
Runtime, torch otherwise).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from visual_buffet.plugin_api import View

if TYPE_CHECKING:
    import numpy as np


@dataclass
class PreparedImage:
    """Views of one image, ready for the vision tower (built in a worker thread)."""

    views: list[View]
    inputs: dict[str, Any]  # tensors with the view as first dimension


@dataclass
class EmbeddedImage:
    """An image whose views are (partly) still waiting for the vision tower."""

    prepared: PreparedImage
    features: Any = None  # (views, dim) float32 normalised view embeddings, filled as scored
    scored: int = 0
    model_ms: float = 0.0
    views_total: int = field(init=False)

    def __post_init__(self) -> None:
        self.views_total = len(self.prepared.views)

    def add(self, index: int, feature: np.ndarray) -> None:
        if self.features is None:
            import numpy as np  # here: a stored rerun imports this module but no NumPy

            self.features = np.empty((self.views_total, feature.shape[-1]), dtype=np.float32)
        self.features[index] = feature
        self.scored += 1

    @property
    def done(self) -> bool:
        return self.scored == self.views_total


def embed_views(
    items: Iterable[PreparedImage],
    batch_size: Callable[[], int],
    forward: Callable[[dict[str, Any]], np.ndarray],
    stack: Callable[[list[Any]], Any],
) -> Iterator[EmbeddedImage]:
    """Run the views of ``items`` through ``forward`` in batches of ``batch_size()`` views
    (asked again before every batch: the out-of-memory fallback may shrink it) and yield
    each image with its embeddings, in input order, once its last view is done. Each image's
    ``model_ms`` is its views' share of the batches' forward time."""
    order: deque[EmbeddedImage] = deque()
    queue: deque[tuple[EmbeddedImage, int]] = deque()  # views waiting for the model
    source = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(queue) < batch_size():
            prepared = next(source, None)
            if prepared is None:
                exhausted = True
                break
            pending = EmbeddedImage(prepared)
            order.append(pending)
            queue.extend((pending, i) for i in range(pending.views_total))
        if not queue:
            return
        batch = [queue.popleft() for _ in range(min(batch_size(), len(queue)))]
        inputs = {
            key: stack([p.prepared.inputs[key][i] for p, i in batch])
            for key in batch[0][0].prepared.inputs
        }
        start = time.perf_counter()
        features = forward(inputs)
        per_view_ms = (time.perf_counter() - start) * 1000 / len(batch)
        for row, (pending, view_index) in enumerate(batch):
            pending.add(view_index, features[row])
            pending.model_ms += per_view_ms
        while order and order[0].done:
            yield order.popleft()


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the accelerator (or the host) running out of memory."""
    torch = sys.modules.get("torch")  # not imported on the ONNX path: no torch error then
    if torch is not None and isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def empty_accelerator_cache() -> None:
    """Give cached CUDA memory back (after an out-of-memory error, when closing)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
