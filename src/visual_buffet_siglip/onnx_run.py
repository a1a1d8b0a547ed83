"""Loading a :class:`~visual_buffet_siglip.plugin.SiglipPlugin` run on ONNX Runtime.

The ONNX counterpart of the PyTorch branch of ``SiglipPlugin.load``: it fills the same plugin
state (the model, text embeddings, logit scale and bias, view sizes, batch size, run
metadata), so preparing, batching and scoring stay one code path for both runtimes. A warm
run imports neither torch nor transformers (tests/siglip/test_onnx_hot_path.py checks it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from visual_buffet import paths
from visual_buffet_siglip.onnx_backend import OnnxModel, load_onnx
from visual_buffet_siglip.runtime import CPU_BATCH_SIZE
from visual_buffet_siglip.view_pixels import ModelInputSize
from visual_buffet_siglip.vocabulary import TEMPLATE, prompts

if TYPE_CHECKING:
    from visual_buffet_siglip.plugin import SiglipPlugin
    from visual_buffet_siglip.variants import ModelChoice

log = logging.getLogger(__name__)


def choose(settings: dict[str, Any]) -> tuple[str, str]:
    """(runtime, why) for the plugin's settings (:mod:`~visual_buffet_siglip.runtime_choice`)."""
    from visual_buffet_siglip.runtime_choice import choose_runtime

    return choose_runtime(
        settings["runtime"],
        dtype=settings["dtype"],
        quantization=settings["quantization"],
        attention=settings["attention"],
    )


def setup_onnx(plugin: SiglipPlugin, report: Callable[[str], None]) -> None:
    """``plugins setup``: where ONNX Runtime will run, export the towers and encode the labels
    now, so the first ``tag`` starts warm. Nothing to do for the PyTorch runtime."""
    runtime, why = choose(plugin.settings)
    if runtime != "onnx":
        return
    choice = plugin.model_choice()
    plugin._vocabulary = plugin.vocabulary(choice)
    plugin._labels = plugin._vocabulary.labels
    load_into(plugin, choice, why, report)
    info = plugin._run_info
    labels = "were cached" if info["text_cache"] == "hit" else "computed and cached"
    report(
        f"ONNX Runtime ready ({info['onnx_precision']}, {info['threads']} threads); "
        f"embeddings of {len(plugin._labels)} labels {labels}."
    )
    plugin.close()


def text_key(model: OnnxModel) -> dict[str, Any]:
    """The text-embedding cache key of an ONNX run (without the labels).

    The text tower always runs in float32 (int8 is for the vision tower only: the labels are
    encoded once and cached), so fp32 and int8 runs share their text embeddings.
    """
    choice = model.choice
    return {
        "model": choice.source if not choice.is_local else "local",
        "revision": model.revision,
        "dtype": "float32",
        "quantization": "none",
        "attention": "onnx",
        "template": TEMPLATE,
        "max_length": 64,
    }


def load_into(
    plugin: SiglipPlugin, choice: ModelChoice, why: str, report: Callable[[str], None] = log.info
) -> None:
    """Load ``choice`` on ONNX Runtime and set the plugin's run state (see the docstring)."""
    from visual_buffet_siglip.text_cache import TextEmbeddingCache

    s = plugin.settings
    model = load_onnx(
        choice,
        quantization=s["quantization"],
        threads=s["threads"],
        max_num_patches=s["naflex.max_num_patches"],
        report=report,
    )
    start = time.perf_counter()
    cache = TextEmbeddingCache(paths.cache_dir("siglip", "text-embeddings"))
    plugin._text_key = text_key(model)
    texts = prompts(plugin._labels)
    embeddings, hit = cache.get_or_compute(
        {**plugin._text_key, "labels": plugin._labels},
        len(texts),
        lambda: model.encode_texts(texts, report),
        numpy=True,
    )
    plugin._text = np.ascontiguousarray(embeddings, dtype=np.float32)
    plugin._scale = float(model.meta["logit_scale_exp"])
    plugin._bias = float(model.meta["logit_bias"])
    text_ms = (time.perf_counter() - start) * 1000
    pre = model.preprocessor
    patches = s["naflex.max_num_patches"]
    if model.naflex:
        plugin._input_side = pre.patch_size * int(math.sqrt(patches))
    else:
        plugin._input_side = int(model.meta["image_size"])
    plugin._model_size = ModelInputSize(pre.resample, pre.fixed, pre.patch_size, patches, pre.pad)
    plugin._batch = CPU_BATCH_SIZE if s["batch_size"] == "auto" else int(s["batch_size"])
    plugin._loaded = model
    plugin._runtime = "onnx"
    plugin.record_run_info(
        model.describe(),
        why=why,
        text_hit=hit,
        load_ms=model.load_ms,
        text_ms=text_ms,
        naflex=model.naflex,
    )
