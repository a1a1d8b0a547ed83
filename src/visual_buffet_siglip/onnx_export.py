"""Exporting a SigLIP checkpoint's towers to ONNX (fp32) and quantising the vision tower to int8.

This is the one part of the ONNX runtime that needs torch and transformers: it runs once per
checkpoint (first run, or ``visual-buffet plugins setup siglip``) and its output is cached by
:mod:`visual_buffet_siglip.onnx_cache`. The graphs are the transformers towers themselves
(``get_image_features`` / ``get_text_features``, their ``pooler_output``, not normalised),
traced in float32 with eager attention (the plainest graph; eager and sdpa agree to 1e-7).

- Vision, FixRes: ``pixel_values`` (batch, 3, H, W).
- Vision, NaFlex: ``pixel_values`` (batch, patches, 3*p*p), ``pixel_attention_mask``
  (batch, patches) int32 and ``spatial_shapes`` (batch, 2) int64. The batch and the spatial
  shapes are dynamic; the patch count is ``naflex.max_num_patches``, fixed at export: the
  tracer bakes it into the attention-pooling head's reshapes (a graph traced at 16 patches
  failed at 256), so each setting gets its own export.
- Text: ``input_ids`` (batch, 64) int64 (the released tokenizers give input_ids only).

int8 is ONNX Runtime's dynamic quantisation: MatMul / Gemm weights stored as int8 per output
channel, activations quantised per call from their observed range. The patch embedding and
the attention-pooling head stay float32, as in the bitsandbytes path (runtime.py says why).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visual_buffet_siglip.onnx_cache import OPSET

log = logging.getLogger(__name__)

VISION_INPUTS = ("pixel_values",)
NAFLEX_INPUTS = ("pixel_values", "pixel_attention_mask", "spatial_shapes")
TEXT_INPUTS = ("input_ids",)
TEXT_LENGTH = 64

INT8_KEEP_FLOAT = ("patch_embedding", "/head/")
"""Node-name parts left in float32 by the int8 quantiser (see the module docstring)."""


def load_float_model(folder: Path) -> tuple[Any, bool]:
    """(transformers model in float32 with eager attention, naflex) for a checkpoint folder."""
    from transformers import AutoConfig, Siglip2Model, SiglipModel

    from visual_buffet_siglip.loading import quiet_transformers

    quiet_transformers()
    naflex = AutoConfig.from_pretrained(folder).model_type == "siglip2"
    model_class = Siglip2Model if naflex else SiglipModel
    model = model_class.from_pretrained(
        folder, attn_implementation="eager", use_safetensors=True
    ).eval()
    return model, naflex


def model_meta(model: Any, naflex: bool) -> dict[str, Any]:
    """What the ONNX runtime needs besides the graph (no torch at run time)."""
    vision = model.config.vision_config
    return {
        "naflex": naflex,
        "logit_scale_exp": float(model.logit_scale.detach().float().exp()),
        "logit_bias": float(model.logit_bias.detach().float().reshape(-1)[0]),
        "image_size": None if naflex else int(vision.image_size),
        "patch_size": int(vision.patch_size),
        "hidden_size": int(vision.hidden_size),
        "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
    }


def export_tower(model: Any, naflex: bool, tower: str, out: Path, patches: int = 256) -> list[str]:
    """Trace one tower to ``out`` (NaFlex vision at ``patches`` patches); returns its inputs."""
    import torch

    if tower == "vision":
        names = list(NAFLEX_INPUTS if naflex else VISION_INPUTS)
        if naflex:
            p = int(model.config.vision_config.patch_size)
            # Two views of other shapes, one padded: the traced graph sees both cases.
            side = int(patches**0.5)
            mask = torch.ones(2, patches, dtype=torch.int32)
            mask[1, side * (side // 2) :] = 0
            args = (
                torch.zeros(2, patches, 3 * p * p),
                mask,
                torch.tensor([[side, patches // side], [side // 2, side]], dtype=torch.int64),
            )
            axes = {
                "pixel_values": {0: "batch"},
                "pixel_attention_mask": {0: "batch"},
                "spatial_shapes": {0: "batch"},
            }
        else:
            size = int(model.config.vision_config.image_size)
            args = (torch.zeros(2, 3, size, size),)
            axes = {"pixel_values": {0: "batch"}}
    else:
        names = list(TEXT_INPUTS)
        args = (torch.ones(2, TEXT_LENGTH, dtype=torch.int64),)
        axes = {"input_ids": {0: "batch"}}
    axes["features"] = {0: "batch"}
    module = _tower_module(model, tower, names)
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter warns that it is deprecated and about traced shape
        # arithmetic; the shapes that matter are dynamic axes and checked by the tests.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(out),
            input_names=names,
            output_names=["features"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    if tower == "vision":
        vision = model.config.vision_config
        fuse_operators(out, int(vision.num_attention_heads), int(vision.hidden_size))
    return names


def _tower_module(model: Any, tower: str, names: list[str]) -> Any:
    """One tower of ``model`` as a module taking positional inputs (what the tracer wants)."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            kwargs = dict(zip(names, inputs, strict=True))
            if tower == "vision":
                return self.model.get_image_features(**kwargs).pooler_output
            return self.model.get_text_features(**kwargs).pooler_output

    return Tower()


def quantize_int8(source: Path, out: Path) -> None:
    """Dynamic int8 quantisation of an fp32 graph (see the module docstring)."""
    # The quantiser logs a pre-processing hint at WARNING and a line per tensor at INFO:
    # noise for a user, so logging below ERROR is off for the call.
    logging.disable(logging.WARNING)
    try:
        _quantize(source, out)
    finally:
        logging.disable(logging.NOTSET)


def fuse_operators(path: Path, num_heads: int, hidden_size: int) -> None:
    """Rewrite a vision graph in place with onnxruntime's transformer fusions.

    The tanh-approximated GELU of every MLP becomes one ``FastGelu`` kernel (and LayerNorm
    one ``LayerNormalization``): measured 15-20 % faster per image on the base vision tower
    on 2 cores, outputs within 1.2e-6. Attention is not fused (no pattern matches SigLIP's
    eager attention), so nothing else changes.
    """
    from onnxruntime.transformers import optimizer

    # It logs "symbolic shape inference disabled or failed" and print()s "failed in shape
    # inference" (harmless: shapes are not needed for these fusions). A print on stdout would
    # corrupt `tag --format jsonl`, so its output goes to the debug log instead.
    printed = io.StringIO()
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(printed):
            fused = optimizer.optimize_model(
                str(path),
                model_type="vit",
                num_heads=num_heads,
                hidden_size=hidden_size,
                opt_level=0,
            )
            fused.save_model_to_file(str(path))
    finally:
        logging.disable(logging.NOTSET)
    if printed.getvalue().strip():
        log.debug("onnxruntime optimizer said: %s", printed.getvalue().strip())


def _quantize(source: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False)
    keep = [
        node.name
        for node in graph.graph.node
        if node.op_type in ("MatMul", "Gemm") and any(k in node.name for k in INT8_KEEP_FLOAT)
    ]
    del graph
    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gemm"],
        nodes_to_exclude=keep,
        # FastGelu (onnx_export.fuse_operators) is a contrib op the quantiser's shape
        # inference cannot type: its outputs are float32.
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def timed(report: Callable[[str], None], what: str) -> Any:
    """A context manager that reports how long ``what`` took."""

    class _Timer:
        def __enter__(self) -> None:
            self.start = time.perf_counter()
            report(f"{what}...")

        def __exit__(self, *exc: object) -> None:
            if exc[0] is None:
                report(f"{what}: {time.perf_counter() - self.start:.1f} s")

    return _Timer()
