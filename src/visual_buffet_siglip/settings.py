"""The SigLIP plugin's settings: the one table that config, CLI help and docs come from."""

from __future__ import annotations

from visual_buffet.settings import Setting
from visual_buffet_siglip.variants import VARIANTS
from visual_buffet_siglip.views import QUALITY_LEVELS

DEFAULT_THRESHOLD = 0.01


def _threshold_warning(value: float) -> str | None:
    if value > 0.10:
        return (
            f"threshold {value} is high for SigLIP: sigmoid scores of good matches are usually "
            "0.01-0.10, so few or no tags will pass. Try 0.01-0.05."
        )
    return None


SETTINGS: tuple[Setting, ...] = (
    # Settings panels list a section in this order: variant first, as docs/gui.md shows.
    Setting(
        "variant",
        "choice",
        "so400m",
        "Model size and generation (docs/siglip.md lists the checkpoints).",
        choices=tuple(VARIANTS),
        flag="variant",
        label="Model variant",
        section="main",
    ),
    Setting(
        "quality",
        "choice",
        "standard",
        "Views of each image: quick (whole image), standard (+ windows at 2048 px), "
        "high (+ 1080 px windows), max (+ 4096 px and native-size windows).",
        choices=tuple(QUALITY_LEVELS),
        flag="quality",
        section="main",
    ),
    Setting(
        "threshold",
        "float",
        DEFAULT_THRESHOLD,
        "Lowest confidence reported. SigLIP sigmoid scores are small: 0.01 is a good start.",
        minimum=0.0,
        maximum=1.0,
        flag="threshold",
        section="main",
        slider=(0.001, 0.10, 0.001),
        warn=_threshold_warning,
    ),
    Setting(
        "max_tags",
        "int",
        50,
        "Most tags per image, highest first (0 = unlimited).",
        minimum=0,
        flag="limit",
        aliases=("limit",),
        label="Limit",
        section="main",
    ),
    Setting("use_v2", "bool", False, "Use the SigLIP 2 twin of base, large, so400m and giant."),
    Setting(
        "model",
        "str",
        None,
        "A Hugging Face Hub id or a local folder of a SigLIP/SigLIP 2 checkpoint; "
        "overrides variant.",
    ),
    Setting(
        "batch_size",
        "int",
        "auto",
        "Views per forward pass (auto: from free accelerator memory and the model; 8 on CPU).",
        minimum=1,
        maximum=32,
        auto=True,
        flag="batch-size",
    ),
    Setting(
        "quantization",
        "choice",
        "none",
        "8bit: int8 weights (ONNX Runtime: faster and 4x smaller; PyTorch: bitsandbytes, saves "
        "memory, not time); 4bit: bitsandbytes NF4, PyTorch only (saves memory, slower).",
        choices=("none", "8bit", "4bit"),
        flag="quantization",
        section="main",
    ),
    Setting(
        "runtime",
        "choice",
        "auto",
        "What runs the model: onnx (ONNX Runtime, CPU), torch (PyTorch: CUDA, MPS, 16-bit, "
        "bitsandbytes, flash attention), auto (onnx on a CPU, torch on a GPU).",
        choices=("auto", "torch", "onnx"),
    ),
    Setting(
        "threads",
        "int",
        "auto",
        "CPU threads for ONNX Runtime (auto: the physical cores; the environment variable "
        "VISUAL_BUFFET_THREADS overrides).",
        minimum=1,
        maximum=256,
        auto=True,
    ),
    Setting(
        "attention",
        "choice",
        "auto",
        "Attention kernel (auto: flash_attention_2 where it can run, else sdpa).",
        choices=("auto", "sdpa", "flash_attention_2", "eager"),
        flag="attention",
        label="Attention implementation",
        section="advanced",
    ),
    Setting(
        "dtype",
        "choice",
        "auto",
        "Weights dtype (auto: bfloat16 on CUDA where supported else float16; float16 on "
        "Apple MPS; float32 on CPU).",
        choices=("auto", "float16", "bfloat16", "float32"),
        flag="dtype",
        label="Data type",
        section="advanced",
    ),
    Setting(
        "custom_vocabulary",
        "path",
        None,
        "Text file of tags, one per line (# comments and blank lines ignored); "
        "default: the built-in photo vocabulary.",
        flag="vocabulary",
        label="Custom vocabulary path",
        section="advanced",
    ),
    Setting(
        "max_candidates",
        "int",
        1000,
        "Labels evaluated at most (the first N of the vocabulary).",
        minimum=1,
    ),
    Setting(
        "naflex.max_num_patches",
        "int",
        256,
        "NaFlex checkpoints only: image patches per view (more = finer, slower).",
        minimum=64,
        maximum=512,
    ),
)
