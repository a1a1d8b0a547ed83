"""Loading a SigLIP / SigLIP 2 checkpoint from a local folder, the Hugging Face cache or Hub.

The Hugging Face cache is tried first without any network request; the Hub only when the
files are not cached. Offline (``HF_HUB_OFFLINE=1`` or no network) with nothing cached gives a
:class:`PluginError` with the two fixes. Never ``trust_remote_code``; safetensors only.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.checkpoint_files import broken_checkpoint_error
from visual_buffet_siglip.runtime import (
    Machine,
    quantization_config,
    resolve_attention,
    resolve_dtype,
)
from visual_buffet_siglip.variants import VARIANTS, ModelChoice

DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"]
"""Files of a checkpoint that tagging needs (no PyTorch pickles, no TF/Flax weights)."""


@dataclass
class LoadedModel:
    """A ready model with its processor and what was resolved on the way."""

    model: Any
    processor: Any
    choice: ModelChoice
    revision: str
    naflex: bool
    device: str
    dtype: str
    attention: str
    quantization: str
    image_size: int | None
    patch_size: int
    hidden_size: int
    weight_bytes: int
    load_ms: float
    warnings: list[str]

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def describe(self) -> dict[str, Any]:
        """Metadata for result records."""
        return {
            "id": self.choice.source if not self.choice.is_local else Path(self.choice.source).name,
            "path": self.choice.source if self.choice.is_local else None,
            "variant": self.choice.variant,
            "revision": self.revision,
            "architecture": "Siglip2Model (NaFlex)" if self.naflex else "SiglipModel",
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "device": self.device,
            "dtype": self.dtype,
            "attention": self.attention,
            "quantization": self.quantization,
        }


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def setup_command(source: str, variant: str | None) -> str:
    """The ``plugins setup`` command that fetches this model (not the configured default)."""
    if variant is None:  # a caller that knows only the Hub id: the variant that names it
        variant = next((v.name for v in VARIANTS.values() if v.model_id == source), None)
    if variant is not None:
        return f"visual-buffet plugins setup siglip --variant {variant}"
    return f"visual-buffet plugins setup siglip --set model={source}"


def not_available_error(source: str, cause: str, variant: str | None = None) -> PluginError:
    """The model is neither cached nor downloadable now: the ways on, demo model included."""
    hf_home = os.environ.get("HF_HOME") or "~/.cache/huggingface"
    return PluginError(
        f"model {source} is not in the Hugging Face cache ({hf_home}) and {cause}. Fix: run "
        f"`{setup_command(source, variant)}` on a machine with a network (it downloads the "
        "model into the cache), or point the plugin at a local copy with "
        '`model = "/path/to/checkpoint"` under [plugins.siglip] in the config. To try the '
        "tool without any download, use `--variant demo`: a tiny model shipped with the "
        "package that knows only colours and shapes."
    )


def _damaged(source: str, is_local: bool, exc: BaseException) -> PluginError:
    """Files that are there but cannot be read (truncated, edited, foreign)."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    if is_local:
        return broken_checkpoint_error(source, reason)
    return PluginError(
        f"the cached files of model {source} are damaged ({reason}). Fix: delete its folder "
        "in the Hugging Face cache (`hf cache delete`, or remove models--"
        f"{source.replace('/', '--')} under ~/.cache/huggingface/hub) and download it again "
        "with `visual-buffet plugins setup siglip`."
    )


def _pretrained(
    loader: Any, source: str, is_local: bool, variant: str | None = None, **kwargs: Any
) -> Any:
    """Call ``loader.from_pretrained``: cache first, then (if allowed) the Hub.

    Damaged files (a truncated ``model.safetensors``, a ``config.json`` without
    ``model_type``) raise :class:`PluginError` naming the folder and the fix: transformers
    reports them as ValueError, safetensors' own error or OSError, never as a user message.
    """
    from safetensors import SafetensorError

    broken = (ValueError, KeyError, SafetensorError)
    if is_local:
        try:
            return loader.from_pretrained(source, **kwargs)
        except (OSError, *broken) as exc:
            raise _damaged(source, True, exc) from None
    try:
        return loader.from_pretrained(source, local_files_only=True, **kwargs)
    except broken as exc:
        raise _damaged(source, False, exc) from None
    except OSError:
        if _offline_env():
            raise not_available_error(source, "HF_HUB_OFFLINE is set", variant) from None
    try:
        return loader.from_pretrained(source, **kwargs)
    except broken as exc:
        raise _damaged(source, False, exc) from None
    except OSError as exc:
        text = str(exc)
        if "connect" in text.lower() or "offline" in text.lower() or "resolve" in text.lower():
            raise not_available_error(source, "the Hub cannot be reached", variant) from None
        raise PluginError(f"cannot load model {source}: {text}") from None


def checkpoint_revision(choice: ModelChoice, config: Any) -> str:
    """Identity of the weights for cache keys: Hub commit, or a content hash of a folder.

    Local folders hash config and tokenizer files fully; weight files by size, mtime and a
    hash of their first and last MiB (hashing gigabytes on every start would cost seconds).
    """
    if not choice.is_local:
        return getattr(config, "_commit_hash", None) or "unknown"
    digest = hashlib.sha256()
    for path in sorted(Path(choice.source).iterdir()):
        if not path.is_file():
            continue
        digest.update(path.name.encode())
        if path.suffix in (".safetensors", ".bin") and path.stat().st_size > 4 << 20:
            stat = path.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
            with path.open("rb") as handle:
                digest.update(handle.read(1 << 20))
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read(1 << 20))
        else:
            digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]


def quiet_transformers() -> None:
    """Silence transformers' progress bars and notices (the plugin's loader, the demo tools).

    Our own messages say what matters; transformers' would bury them: the PIL image-processor
    fallback without torchvision (expected), and a token-id check that fails on transformers'
    own default text config while it loads a SiglipModel (not on the checkpoint's config).
    """
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_siglip(
    choice: ModelChoice,
    *,
    dtype: str,
    attention: str,
    quantization: str,
    machine: Machine,
) -> LoadedModel:
    """Load model + processor with resolved dtype, attention and quantization."""
    start = time.perf_counter()
    from transformers import AutoConfig, AutoProcessor, Siglip2Model, SiglipModel

    quiet_transformers()

    config = _pretrained(AutoConfig, choice.source, choice.is_local, choice.variant)
    model_type = getattr(config, "model_type", None)
    if model_type not in ("siglip", "siglip2"):
        raise PluginError(
            f"{choice.source} is a {model_type!r} checkpoint, not SigLIP / SigLIP 2. "
            "Use a variant name or a SigLIP checkpoint."
        )
    naflex = model_type == "siglip2"
    model_class = Siglip2Model if naflex else SiglipModel
    dtype_name, warnings = resolve_dtype(dtype, machine)
    attn = resolve_attention(
        attention, machine, dtype_name, bool(getattr(model_class, "_supports_flash_attn", False))
    )
    quant = quantization_config(quantization, machine, naflex)
    import torch

    kwargs: dict[str, Any] = {
        "dtype": getattr(torch, dtype_name),
        "attn_implementation": attn,
        "use_safetensors": True,
    }
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": machine.device}
    model = _pretrained(model_class, choice.source, choice.is_local, choice.variant, **kwargs)
    if quant is None:
        model = model.to(machine.device)
    model.eval()
    processor = _pretrained(AutoProcessor, choice.source, choice.is_local, choice.variant)
    vision = config.vision_config
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return LoadedModel(
        model=model,
        processor=processor,
        choice=choice,
        revision=checkpoint_revision(choice, config),
        naflex=naflex,
        device=machine.device,
        dtype=dtype_name,
        attention=attn,
        quantization=quantization,
        image_size=None if naflex else int(vision.image_size),
        patch_size=int(vision.patch_size),
        hidden_size=int(vision.hidden_size),
        weight_bytes=weight_bytes,
        load_ms=(time.perf_counter() - start) * 1000,
        warnings=warnings,
    )


def download(choice: ModelChoice, report: Any) -> Path:
    """Fetch a Hub checkpoint into the Hugging Face cache, with a progress display."""
    if choice.is_local:
        report(f"{choice.source} is a local checkpoint: nothing to download.")
        return Path(choice.source)
    from huggingface_hub import snapshot_download

    report(f"Downloading {choice.source} into the Hugging Face cache...")
    try:
        path = snapshot_download(choice.source, allow_patterns=DOWNLOAD_PATTERNS)
    except Exception as exc:
        raise PluginError(
            f"could not download {choice.source}: {type(exc).__name__}: {exc}. Check the "
            "network (and HF_TOKEN for gated models), or copy the checkpoint to a folder and "
            'set `model = "/path/to/checkpoint"`.'
        ) from None
    report(f"Ready: {path}")
    return Path(path)
