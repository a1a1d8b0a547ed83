"""``SiglipPlugin``: zero-shot photo tagging with SigLIP / SigLIP 2, as the models were trained.

Per run: resolve the model and runtime, load once, encode the label prompts once (or load
them from the text-embedding cache). Per image (in worker threads): plan the quality views and
turn them into pixel tensors. Per batch of views (possibly from several images): one vision
forward, cosine against the cached text embeddings, ``sigmoid(exp(logit_scale) * cos +
logit_bias)``. Per image: the highest confidence of each label over its views, threshold,
sort, limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from visual_buffet import __version__, paths
from visual_buffet.images import LoadedImage
from visual_buffet.plugin_api import ImageTags, Plugin, PluginError, Tag, View
from visual_buffet_siglip.settings import DEFAULT_THRESHOLD, SETTINGS
from visual_buffet_siglip.variants import DEMO_VOCABULARY_FILE, ModelChoice, resolve_model
from visual_buffet_siglip.views import PlannedView, max_side_needed, plan_views
from visual_buffet_siglip.vocabulary import (
    TEMPLATE,
    Vocabulary,
    builtin_vocabulary,
    prompts,
    read_vocabulary,
)

if TYPE_CHECKING:
    from visual_buffet.hardware import HardwareInfo

log = logging.getLogger(__name__)


@dataclass
class PreparedImage:
    """Views of one image, ready for the vision tower (built in a worker thread)."""

    views: list[View]
    inputs: dict[str, Any]  # tensors with the view as first dimension


@dataclass
class _Pending:
    """An image whose views are (partly) still waiting for the model."""

    prepared: PreparedImage
    best: Any = None  # (labels,) highest probability over the views scored so far
    best_view: Any = None  # (labels,) index of the view that gave it
    scored: int = 0
    model_ms: float = 0.0
    views_total: int = field(init=False)

    def __post_init__(self) -> None:
        self.views_total = len(self.prepared.views)

    @property
    def done(self) -> bool:
        return self.scored == self.views_total


class SiglipPlugin(Plugin):
    """Zero-shot tagging with SigLIP and SigLIP 2 (FixRes and NaFlex) checkpoints."""

    name = "siglip"
    version = __version__
    description = "Zero-shot tags from SigLIP / SigLIP 2 image-text models (sigmoid scores)."
    settings_schema = SETTINGS
    calibrated = True
    recommended_threshold = DEFAULT_THRESHOLD
    enabled_by_default = True

    def __init__(self, settings: dict[str, Any]) -> None:
        defaults = {s.name: s.default for s in SETTINGS}
        super().__init__({**defaults, **settings})
        self._loaded: Any = None
        self._labels: list[str] = []
        self._vocabulary = Vocabulary([])
        self._text: Any = None
        self._scale = 1.0
        self._bias = 0.0
        self._batch = 1
        self._input_side = 1
        self._model_size: ModelInputSize | None = None
        self._run_info: dict[str, Any] = {}

    # -- configuration --------------------------------------------------------------------
    def model_choice(self) -> ModelChoice:
        """Where the weights come from (checked before any download)."""
        s = self.settings
        return resolve_model(s["variant"], s["use_v2"], s["model"])

    def labels(self, choice: ModelChoice) -> list[str]:
        """Normalised labels to score: custom file, the demo's own, or the built-in list."""
        return self.vocabulary(choice).labels

    def vocabulary(self, choice: ModelChoice) -> Vocabulary:
        """The labels to score (the first ``max_candidates``) with their declared parents."""
        custom = self.settings["custom_vocabulary"]
        if custom is not None:
            vocabulary = read_vocabulary(custom)
        elif choice.variant == "demo":
            vocabulary = read_vocabulary(Path(choice.source) / DEMO_VOCABULARY_FILE)
        else:
            vocabulary = builtin_vocabulary()
        labels = vocabulary.labels[: self.settings["max_candidates"]]
        kept = {label: vocabulary.parents[label] for label in labels if label in vocabulary.parents}
        return Vocabulary(labels, kept)

    def max_image_side(self) -> int | None:
        return max_side_needed(self.settings["quality"], self._input_side if self._loaded else None)

    def batch_size(self) -> int:
        """Images per batch, as the host counts them to decode ahead (bounded memory).

        The model batches *views* (``batch_size`` setting); a typical 12 MP photo gives
        between 1 (quick) and ~44 (max) views, so fewer images are needed per batch.
        """
        typical = plan_views(self.settings["quality"], (4032, 3024), min_window=self._input_side)
        return max(1, self._batch // len(typical))

    @classmethod
    def hardware_advice(cls, hardware: HardwareInfo) -> list[str]:
        from visual_buffet_siglip.advice import hardware_advice

        return hardware_advice(hardware)

    # -- loading --------------------------------------------------------------------------
    def setup(self, report: Callable[[str], None]) -> None:
        from visual_buffet_siglip.loading import download

        download(self.model_choice(), report)

    def load(self) -> None:
        if self._loaded is not None:
            return
        import torch

        from visual_buffet_siglip.loading import load_siglip
        from visual_buffet_siglip.runtime import detect_machine, resolve_batch_size
        from visual_buffet_siglip.text_cache import TextEmbeddingCache, encode_texts

        s = self.settings
        choice = self.model_choice()
        # a bad vocabulary file fails before the model loads
        self._vocabulary = self.vocabulary(choice)
        self._labels = self._vocabulary.labels
        machine = detect_machine()
        loaded = load_siglip(
            choice,
            dtype=s["dtype"],
            attention=s["attention"],
            quantization=s["quantization"],
            machine=machine,
        )
        for message in loaded.warnings:
            log.warning("%s", message)
        model = loaded.model
        start = time.perf_counter()
        cache = TextEmbeddingCache(paths.cache_dir("siglip", "text-embeddings"))
        key = {
            "model": choice.source if not choice.is_local else "local",
            "revision": loaded.revision,
            "dtype": loaded.dtype,
            "quantization": loaded.quantization,
            "attention": loaded.attention,
            "template": TEMPLATE,
            "max_length": 64,
            "labels": self._labels,
        }
        texts = prompts(self._labels)
        tokenizer = loaded.processor.tokenizer
        embeddings, hit = cache.get_or_compute(
            key, len(texts), lambda: encode_texts(model, tokenizer, texts, loaded.device)
        )
        self._text = embeddings.to(loaded.device, dtype=torch.float32)
        with torch.inference_mode():
            self._scale = float(model.logit_scale.float().exp())
            self._bias = float(model.logit_bias.float().reshape(-1)[0])
        text_ms = (time.perf_counter() - start) * 1000
        if loaded.naflex:
            side = loaded.patch_size * int(math.sqrt(s["naflex.max_num_patches"]))
            tokens = s["naflex.max_num_patches"]
        else:
            side = loaded.image_size
            tokens = (loaded.image_size // loaded.patch_size) ** 2
        self._input_side = side
        self._model_size = ModelInputSize.for_processor(
            loaded.processor.image_processor, loaded.naflex, s["naflex.max_num_patches"]
        )
        self._batch = resolve_batch_size(
            s["batch_size"], machine, loaded.weight_bytes, tokens, loaded.hidden_size
        )
        self._loaded = loaded
        self._run_info = {
            **loaded.describe(),
            "vocabulary_size": len(self._labels),
            "vocabulary_sha256": self._vocabulary.sha256(),
            "text_cache": "hit" if hit else "miss",
            "load_ms": round(loaded.load_ms, 1),
            "text_ms": round(text_ms, 1),
        }
        if loaded.naflex:
            self._run_info["max_num_patches"] = s["naflex.max_num_patches"]

    # -- per image (worker threads) ------------------------------------------------------
    def prepare(self, image: LoadedImage) -> PreparedImage:
        if self._loaded is None:
            raise RuntimeError("SiglipPlugin.prepare called before load()")
        planned = plan_views(
            self.settings["quality"],
            image.original_size,
            image.image.size,
            min_window=self._input_side,
        )
        crops = _view_pixels(image.image, planned, self._model_size)
        image_processor = self._loaded.processor.image_processor
        if self._loaded.naflex:
            encoded = image_processor(
                images=crops,
                max_num_patches=self.settings["naflex.max_num_patches"],
                return_tensors="pt",
            )
            inputs = {
                k: encoded[k] for k in ("pixel_values", "pixel_attention_mask", "spatial_shapes")
            }
        else:
            inputs = {
                "pixel_values": image_processor(images=crops, return_tensors="pt")["pixel_values"]
            }
        return PreparedImage([p.view for p in planned], inputs)

    # -- model work ------------------------------------------------------------------------
    def image_probabilities(self, inputs: dict[str, Any]) -> Any:
        """Sigmoid probabilities (views, labels) for a batch of view tensors."""
        import torch

        loaded = self._loaded
        feed = {}
        for k, v in inputs.items():
            v = v.to(loaded.device, non_blocking=True)
            feed[k] = v.to(loaded.torch_dtype) if v.is_floating_point() else v
        with torch.inference_mode():
            features = loaded.model.get_image_features(**feed).pooler_output.float()
            features = torch.nn.functional.normalize(features, dim=-1)
            logits = features @ self._text.T * self._scale + self._bias
            return torch.sigmoid(logits).cpu()

    def _forward(self, inputs: dict[str, Any]) -> Any:
        """Run one batch; on out-of-memory halve the batch size and retry the same views."""
        try:
            return self.image_probabilities(inputs)
        except Exception as exc:
            size = next(iter(inputs.values())).shape[0]
            if not _is_out_of_memory(exc) or size == 1:
                raise
            _empty_accelerator_cache()
            self._batch = max(1, size // 2)
            log.warning(
                "out of memory with %d views per batch; retrying with %d", size, self._batch
            )
            import torch

            halves = [
                {k: v[: self._batch] for k, v in inputs.items()},
                {k: v[self._batch :] for k, v in inputs.items()},
            ]
            return torch.cat([self._forward(h) for h in halves])

    def tag(self, items: Sequence[PreparedImage]) -> list[ImageTags]:
        return list(self.tag_stream(items))

    def tag_stream(self, items: Iterable[PreparedImage]) -> Iterator[ImageTags]:
        """Fill batches with views across images; yield each image when its views are done."""
        import torch

        order: deque[_Pending] = deque()
        queue: deque[tuple[_Pending, int]] = deque()  # views waiting for the model
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(queue) < self._batch:
                prepared = next(source, None)
                if prepared is None:
                    exhausted = True
                    break
                pending = _Pending(prepared)
                order.append(pending)
                queue.extend((pending, i) for i in range(pending.views_total))
            if not queue:
                break
            batch = [queue.popleft() for _ in range(min(self._batch, len(queue)))]
            inputs = {
                key: torch.stack([p.prepared.inputs[key][i] for p, i in batch])
                for key in batch[0][0].prepared.inputs
            }
            start = time.perf_counter()
            probs = self._forward(inputs)
            per_view_ms = (time.perf_counter() - start) * 1000 / len(batch)
            for row, (pending, view_index) in enumerate(batch):
                _merge(pending, probs[row], view_index)
                pending.model_ms += per_view_ms
            while order and order[0].done:
                yield self._finish(order.popleft())

    def _finish(self, pending: _Pending) -> ImageTags:
        import torch

        threshold = self.settings["threshold"]
        limit = self.settings["max_tags"]
        best = pending.best
        keep = torch.nonzero(best >= threshold).flatten()
        keep = keep[torch.argsort(best[keep], descending=True, stable=True)]
        if limit:
            keep = keep[:limit]
        views = pending.prepared.views
        tags = [
            Tag(
                self._labels[i],
                float(best[i]),
                views[int(pending.best_view[i])],
                self._vocabulary.parents.get(self._labels[i], ()),
            )
            for i in keep.tolist()
        ]
        return ImageTags(
            tags=tags,
            model={**self._run_info, "views": len(views)},
            timings={"model_ms": pending.model_ms},
            settings={
                "dtype": self._loaded.dtype,
                "attention": self._loaded.attention,
                "batch_size": self._batch,
            },
        )

    def close(self) -> None:
        self._loaded = None
        self._text = None
        _empty_accelerator_cache()


@dataclass(frozen=True)
class ModelInputSize:
    """Resize a view exactly as the checkpoint's image processor would, but from PIL directly.

    The processors' PIL backend converts to NumPy and back around its resize (measured 70 ms
    for a 1500 px view, 14 ms this way). Resizing first to the very size and with the filter
    the processor uses gives bit-identical pixel values (tested against the joint forward):
    its own resize is then a no-op. NaFlex sizes come from transformers' own search.
    """

    resample: Image.Resampling
    fixed: tuple[int, int] | None  # (width, height) of FixRes checkpoints
    patch_size: int = 16
    max_num_patches: int = 256

    @classmethod
    def for_processor(cls, image_processor: Any, naflex: bool, max_num_patches: int) -> Any:
        resample = Image.Resampling(int(image_processor.resample))
        if naflex:
            return cls(resample, None, int(image_processor.patch_size), max_num_patches)
        size = image_processor.size
        return cls(resample, (int(size["width"]), int(size["height"])))

    def target(self, width: int, height: int) -> tuple[int, int]:
        if self.fixed is not None:
            return self.fixed
        from transformers.models.siglip2.image_processing_pil_siglip2 import (
            get_image_size_for_max_num_patches,
        )

        h, w = get_image_size_for_max_num_patches(
            height, width, self.patch_size, self.max_num_patches
        )
        return w, h

    def __call__(self, view: Image.Image) -> Image.Image:
        return view.resize(self.target(*view.size), self.resample)


def _view_pixels(
    image: Image.Image, planned: list[PlannedView], model_size: ModelInputSize
) -> list[Image.Image]:
    """The pixels of each view at the model's input size.

    The whole image goes from the decoded pixels straight to the input size (what the
    processor would do with it). Windows are cut from the image scaled once per pass, which
    is what a pass means and far cheaper than resizing every full-resolution window on its
    own (measured 170 ms per view at quality max on a 24 MP photo before this); windows
    more than twice the input size are first box-reduced by an integer factor.
    """
    decoded_long = max(image.size)
    passes: dict[int, tuple[Image.Image, float]] = {}
    views = []
    for p in planned:
        if p.view.kind == "whole":
            views.append(model_size(image))
            continue
        resolution = p.view.resolution
        if resolution not in passes:
            scale = min(1.0, resolution / decoded_long)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            scaled = (
                image
                if scale == 1.0
                else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            )
            passes[resolution] = (scaled, scale)
        pass_image, scale = passes[resolution]
        window = pass_image.crop(tuple(round(v * scale) for v in p.crop))
        width, height = model_size.target(*window.size)
        factor = min(window.width // width, window.height // height) // 2
        views.append(model_size(window.reduce(factor) if factor >= 2 else window))
    return views


def _merge(pending: _Pending, probs: Any, view_index: int) -> None:
    import torch

    if pending.best is None:
        pending.best = probs.clone()
        pending.best_view = torch.full_like(probs, view_index, dtype=torch.long)
    else:
        better = probs > pending.best
        pending.best = torch.where(better, probs, pending.best)
        pending.best_view = torch.where(better, view_index, pending.best_view)
    pending.scored += 1


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def _empty_accelerator_cache() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["PluginError", "PreparedImage", "SiglipPlugin"]
