"""``SiglipPlugin``: zero-shot photo tagging with SigLIP / SigLIP 2, as the models were trained.

Per run: resolve the model and runtime, load once, encode the label prompts once (or load
them from the text-embedding cache). Per image (in worker threads): plan the quality views and
turn them into pixel tensors. Per batch of views (possibly from several images): one vision
forward (:meth:`SiglipPlugin.encode_views`) giving normalised view embeddings. Per image, in
:mod:`visual_buffet_siglip.scoring` (NumPy): ``sigmoid(exp(logit_scale) * cos + logit_bias)``
against the cached text embeddings, the highest confidence of each label over its views,
threshold, sort, limit. The view embeddings go with the result (contract v2), so a library
store can re-score them later (:meth:`SiglipPlugin.rescore`) with no vision forward.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visual_buffet import __version__, paths
from visual_buffet.images import LoadedImage
from visual_buffet.plugin_api import ImageEmbeddings, ImageTags, Plugin, PluginError, Tag
from visual_buffet_siglip.rescoring import StoredEmbeddingsMixin
from visual_buffet_siglip.settings import DEFAULT_THRESHOLD, SETTINGS
from visual_buffet_siglip.variants import DEMO_VOCABULARY_FILE, ModelChoice, resolve_model
from visual_buffet_siglip.view_batches import (
    EmbeddedImage,
    PreparedImage,
    embed_views,
    empty_accelerator_cache,
    is_out_of_memory,
)
from visual_buffet_siglip.view_pixels import ModelInputSize, view_pixels
from visual_buffet_siglip.views import max_side_needed, plan_views
from visual_buffet_siglip.vocabulary import (
    TEMPLATE,
    Vocabulary,
    builtin_vocabulary,
    prompts,
    read_vocabulary,
)

if TYPE_CHECKING:
    import numpy as np

    from visual_buffet.hardware import HardwareInfo
    from visual_buffet_siglip.scoring import Scored

# NumPy and the scoring module are imported where they are used: a rerun that finds every
# image in the library store constructs this plugin for its identity only, and NumPy's
# import (~60 ms) would be a sixth of that run's start-up.

log = logging.getLogger(__name__)


class SiglipPlugin(StoredEmbeddingsMixin, Plugin):
    """Zero-shot tagging with SigLIP and SigLIP 2 (FixRes and NaFlex) checkpoints."""

    name = "siglip"
    display_name = "SigLIP"  # the GUI's Settings → Plugins → SigLIP
    version = __version__
    description = "Zero-shot tags from SigLIP / SigLIP 2 image-text models (sigmoid scores)."
    settings_schema = SETTINGS
    calibrated = True
    recommended_threshold = DEFAULT_THRESHOLD
    enabled_by_default = True
    provides_embeddings = True

    def __init__(self, settings: dict[str, Any]) -> None:
        defaults = {s.name: s.default for s in SETTINGS}
        super().__init__({**defaults, **settings})
        self._loaded: Any = None
        self._labels: list[str] = []
        self._vocabulary = Vocabulary([])
        self._text: Any = None  # (labels, dim) float32 NumPy, normalised
        self._text_key: dict[str, Any] = {}  # the text-cache key without the labels
        self._scale = 1.0
        self._bias = 0.0
        self._batch = 1
        self._input_side = 1
        self._model_size: ModelInputSize | None = None
        self._run_info: dict[str, Any] = {}
        self._runtime = "torch"  # or "onnx" (onnx_run.load_into), decided in load()

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
        from visual_buffet_siglip.onnx_run import setup_onnx

        download(self.model_choice(), report)
        setup_onnx(self, report)  # export and label embeddings now, where ONNX will run

    def load(self) -> None:
        if self._loaded is not None:
            return
        from visual_buffet_siglip.onnx_run import choose, load_into

        s = self.settings
        choice = self.model_choice()
        # a bad vocabulary file fails before the model loads
        self._vocabulary = self.vocabulary(choice)
        self._labels = self._vocabulary.labels
        runtime, why = choose(s)  # without torch on a CPU-only machine
        if runtime == "onnx":
            return load_into(self, choice, why)
        import torch

        from visual_buffet_siglip.loading import load_siglip
        from visual_buffet_siglip.runtime import detect_machine, resolve_batch_size
        from visual_buffet_siglip.text_cache import TextEmbeddingCache, encode_texts

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
        self._text_key = {
            "model": choice.source if not choice.is_local else "local",
            "revision": loaded.revision,
            "dtype": loaded.dtype,
            "quantization": loaded.quantization,
            "attention": loaded.attention,
            "template": TEMPLATE,
            "max_length": 64,
        }
        texts = prompts(self._labels)
        tokenizer = loaded.processor.tokenizer
        embeddings, hit = cache.get_or_compute(
            {**self._text_key, "labels": self._labels},
            len(texts),
            lambda: encode_texts(model, tokenizer, texts, loaded.device).cpu().numpy(),
            numpy=True,
        )
        import numpy as np

        self._text = np.ascontiguousarray(embeddings, dtype=np.float32)
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
        self._loaded, self._runtime = loaded, "torch"
        self.record_run_info(
            {**loaded.describe(), "runtime": "torch"},
            why=why,
            text_hit=hit,
            load_ms=loaded.load_ms,
            text_ms=text_ms,
            naflex=loaded.naflex,
        )

    def record_run_info(
        self,
        model: dict[str, Any],
        *,
        why: str,
        text_hit: bool,
        load_ms: float,
        text_ms: float,
        naflex: bool,
    ) -> None:
        """The model metadata every record of this run carries, for either runtime."""
        self._text_cache = "hit" if text_hit else "miss"  # re-scored records say it too
        self._run_info = {
            **model,
            "runtime_reason": why,
            "vocabulary_size": len(self._labels),
            "vocabulary_sha256": self._vocabulary.sha256(),
            "text_cache": "hit" if text_hit else "miss",
            "load_ms": round(load_ms, 1),
            "text_ms": round(text_ms, 1),
        }
        if naflex:
            self._run_info["max_num_patches"] = self.settings["naflex.max_num_patches"]

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
        crops = view_pixels(image.image, planned, self._model_size)
        if self._runtime == "onnx":  # NumPy, bit-identical to the processor (no transformers)
            return PreparedImage([p.view for p in planned], self._loaded.preprocessor(crops))
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
    def encode_views(self, inputs: dict[str, Any]) -> np.ndarray:
        """The vision forward: normalised embeddings (views, dim), float32 NumPy, of a batch
        of view tensors. The one place a runtime backend plugs in."""
        if self._runtime == "onnx":
            return self._loaded.encode_views(inputs)
        import torch

        loaded = self._loaded
        feed = {}
        for k, v in inputs.items():
            v = v.to(loaded.device, non_blocking=True)
            feed[k] = v.to(loaded.torch_dtype) if v.is_floating_point() else v
        with torch.inference_mode():
            features = loaded.model.get_image_features(**feed).pooler_output.float()
            features = torch.nn.functional.normalize(features, dim=-1)
            return features.cpu().numpy()

    def image_probabilities(self, inputs: dict[str, Any]) -> np.ndarray:
        """Sigmoid probabilities (views, labels) for a batch of view tensors."""
        from visual_buffet_siglip import scoring

        return scoring.probabilities(self.encode_views(inputs), self._text, self._scale, self._bias)

    def _forward(self, inputs: dict[str, Any]) -> np.ndarray:
        """Run one batch; on out-of-memory halve the batch size and retry the same views."""
        try:
            return self.encode_views(inputs)
        except Exception as exc:
            size = next(iter(inputs.values())).shape[0]
            if not is_out_of_memory(exc) or size == 1:
                raise
            empty_accelerator_cache()
            self._batch = max(1, size // 2)
            log.warning(
                "out of memory with %d views per batch; retrying with %d", size, self._batch
            )
            halves = [
                {k: v[: self._batch] for k, v in inputs.items()},
                {k: v[self._batch :] for k, v in inputs.items()},
            ]
            import numpy as np

            return np.concatenate([self._forward(h) for h in halves])

    def tag(self, items: Sequence[PreparedImage]) -> list[ImageTags]:
        return list(self.tag_stream(items))

    def tag_stream(self, items: Iterable[PreparedImage]) -> Iterator[ImageTags]:
        """Fill batches with views across images; yield each image when its views are done."""
        if self._runtime == "onnx":
            import numpy as np

            stack = np.stack
        else:
            import torch

            stack = torch.stack
        for image in embed_views(items, lambda: self._batch, self._forward, stack):
            yield self._finish(image)

    def _finish(self, pending: EmbeddedImage) -> ImageTags:
        views = pending.prepared.views
        stored = ImageEmbeddings(views, pending.features, self._scoring_info())
        result = self._tags(stored, self._text)
        result.model = {**self._run_info, "views": len(views)}
        result.timings = {"model_ms": pending.model_ms}
        result.settings = {
            "dtype": self._loaded.dtype,
            "attention": self._loaded.attention,
            "batch_size": self._batch,
        }
        result.embeddings = stored
        return result

    def _tags(self, stored: ImageEmbeddings, text: np.ndarray) -> ImageTags:
        """Tags of one image from its view embeddings: the live path and re-scoring alike."""
        from visual_buffet_siglip import scoring

        scored = scoring.score_image(
            stored.vectors,
            text,
            stored.scoring["scale"],
            stored.scoring["bias"],
            self.settings["threshold"],
            self.settings["max_tags"],
        )
        return self._tags_of(stored, scored)

    def _tags_of(self, stored: ImageEmbeddings, scored: Scored) -> ImageTags:
        """The :class:`ImageTags` of one image's scored labels (names, parents, views)."""
        parents = self._vocabulary.parents
        tags = [
            Tag(
                self._labels[i],
                float(confidence),
                stored.views[int(view)],
                parents.get(self._labels[i], ()),
            )
            for i, confidence, view in zip(
                scored.labels.tolist(), scored.confidences, scored.views, strict=True
            )
        ]
        return ImageTags(tags=tags)

    def _scoring_info(self) -> dict[str, Any]:
        return {"scale": self._scale, "bias": self._bias, "text_key": self._text_key}

    def close(self) -> None:
        self._loaded = None
        self._text = None
        empty_accelerator_cache()


__all__ = ["PluginError", "PreparedImage", "SiglipPlugin"]
