"""A cheap check that a local checkpoint folder is whole, before any backend reads it.

A copy cut short (``model.safetensors`` truncated by a full disk or an interrupted download)
or a hand-edited ``config.json`` without ``model_type`` made transformers, safetensors and
ONNX export raise their own errors as tracebacks. This reads only ``config.json`` and the
safetensors headers (a few KiB, whatever the weights' size), so every start can afford it,
and it gives one :class:`PluginError` naming the folder and the fix.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from visual_buffet.plugin_api import PluginError

SIGLIP_MODEL_TYPES = ("siglip", "siglip2")


def broken_checkpoint_error(folder: str | Path, reason: str) -> PluginError:
    """The error for a local folder whose files are there but cannot be used."""
    return PluginError(
        f"{folder} is not a loadable SigLIP checkpoint folder ({reason}). It needs "
        "config.json (with model_type siglip or siglip2), model.safetensors and the "
        "tokenizer / preprocessor files, complete: copy or download the checkpoint again, "
        "or save it with save_pretrained."
    )


def check_checkpoint_folder(folder: str | Path) -> None:
    """Raise :class:`PluginError` unless ``folder`` has a SigLIP config and whole weights."""
    folder = Path(folder)
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise broken_checkpoint_error(folder, "there is no config.json") from None
    except (OSError, ValueError) as exc:
        raise broken_checkpoint_error(folder, f"config.json cannot be read: {exc}") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise broken_checkpoint_error(folder, "config.json has no model_type")
    if config["model_type"] not in SIGLIP_MODEL_TYPES:
        raise PluginError(
            f"{folder} is a {config['model_type']!r} checkpoint, not SigLIP / SigLIP 2. "
            "Use a variant name or a SigLIP checkpoint."
        )
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise broken_checkpoint_error(folder, "there is no model.safetensors")
    for path in weights:
        problem = _safetensors_problem(path)
        if problem is not None:
            raise broken_checkpoint_error(folder, f"{path.name} {problem}")


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file's framing, or None: header length, JSON header,
    and that the file is exactly as long as the tensors the header lists."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return "is empty or cut short"
            (header_size,) = struct.unpack("<Q", prefix)
            if 8 + header_size > size:
                return "is cut short (its header is incomplete)"
            header = json.loads(handle.read(header_size))
    except (OSError, ValueError) as exc:
        return f"has an unreadable header ({exc})"
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    expected = 8 + header_size + max(ends, default=0)
    if size < expected:
        return f"is cut short ({size} of {expected} bytes)"
    return None
