"""The variant table (one source of truth) and checking of model ids before any download."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from visual_buffet.plugin_api import PluginError
from visual_buffet_siglip.checkpoint_files import check_checkpoint_folder


@dataclass(frozen=True)
class Variant:
    """A named model choice. ``params_m`` is the whole model (both towers), in millions."""

    name: str
    model_id: str
    family: str  # "SigLIP" or "SigLIP 2"
    params_m: float
    note: str = ""

    @property
    def is_bundled(self) -> bool:
        return self.model_id.startswith("bundled:")


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("base", "google/siglip-base-patch16-224", "SigLIP", 203),
        Variant(
            "large",
            "google/siglip-large-patch16-384",
            "SigLIP",
            652,
            "there is no SigLIP v1 large at 512 px",
        ),
        Variant(
            "so400m",
            "google/siglip-so400m-patch14-384",
            "SigLIP",
            878,
            "the default: best accuracy per cost",
        ),
        Variant(
            "giant",
            "google/siglip2-giant-opt-patch16-384",
            "SigLIP 2",
            1871,
            "there is no SigLIP v1 giant: giant is always SigLIP 2",
        ),
        Variant("v2-base", "google/siglip2-base-patch16-224", "SigLIP 2", 375),
        Variant("v2-large", "google/siglip2-large-patch16-512", "SigLIP 2", 882),
        Variant("v2-so400m", "google/siglip2-so400m-patch14-384", "SigLIP 2", 1136),
        Variant(
            "v2-naflex",
            "google/siglip2-base-patch16-naflex",
            "SigLIP 2 NaFlex",
            375,
            "keeps the aspect ratio; max_num_patches sets the resolution",
        ),
        Variant("v2-giant", "google/siglip2-giant-opt-patch16-384", "SigLIP 2", 1871),
        Variant(
            "demo",
            "bundled:demo",
            "SigLIP (tiny, trained on shapes)",
            0.4,
            "ships with the package, works offline; knows only colours and shapes",
        ),
    )
}
"""Variant name -> model. ``docs/siglip.md`` is tested against this table."""

V2_TWIN = {"base": "v2-base", "large": "v2-large", "so400m": "v2-so400m", "giant": "v2-giant"}
"""What ``use_v2 = true`` maps each SigLIP v1 name to."""

KNOWN_CHECKPOINTS: tuple[str, ...] = (
    "google/siglip-base-patch16-224",
    "google/siglip-base-patch16-256",
    "google/siglip-base-patch16-384",
    "google/siglip-base-patch16-512",
    "google/siglip-base-patch16-256-multilingual",
    "google/siglip-large-patch16-256",
    "google/siglip-large-patch16-384",
    "google/siglip-so400m-patch14-224",
    "google/siglip-so400m-patch14-384",
    "google/siglip-so400m-patch16-256-i18n",
    "google/siglip2-base-patch16-224",
    "google/siglip2-base-patch16-256",
    "google/siglip2-base-patch16-384",
    "google/siglip2-base-patch16-512",
    "google/siglip2-base-patch32-256",
    "google/siglip2-base-patch16-naflex",
    "google/siglip2-large-patch16-256",
    "google/siglip2-large-patch16-384",
    "google/siglip2-large-patch16-512",
    "google/siglip2-so400m-patch14-224",
    "google/siglip2-so400m-patch14-384",
    "google/siglip2-so400m-patch16-256",
    "google/siglip2-so400m-patch16-384",
    "google/siglip2-so400m-patch16-512",
    "google/siglip2-so400m-patch16-naflex",
    "google/siglip2-giant-opt-patch16-256",
    "google/siglip2-giant-opt-patch16-384",
)
"""Google's published SigLIP / SigLIP 2 checkpoints. Other ``google/siglip*`` names are typos."""


DEMO_VOCABULARY_FILE = "vocabulary.txt"
"""The demo checkpoint's own tags, one per line, in its folder: the demo's vocabulary."""


def demo_model_dir() -> Path:
    """The trained demo checkpoint that ships inside the package."""
    return Path(str(resources.files("visual_buffet_siglip") / "demo" / "model"))


@dataclass(frozen=True)
class ModelChoice:
    """What the settings resolve to: a Hub id or a local folder, and the variant name if any."""

    source: str  # Hub id, or a local folder as a string
    variant: str | None
    is_local: bool


def resolve_model(variant: str, use_v2: bool, model: str | None) -> ModelChoice:
    """Turn ``variant`` / ``use_v2`` / ``model`` into a model source, checked before download.

    ``model`` (a Hub id or a local folder) overrides the variant. Unknown ``google/siglip*``
    names and missing local folders raise :class:`PluginError` listing what would work.
    """
    if model:
        path = Path(model).expanduser()
        if path.is_dir():
            check_checkpoint_folder(path)  # whole? before a backend raises its own traceback
            return ModelChoice(str(path), None, True)
        looks_like_path = model.startswith((".", "/", "~")) or "\\" in model or path.suffix
        if looks_like_path or model.count("/") != 1:
            raise PluginError(
                f"model = {model!r}: no such folder, and not a Hugging Face Hub id "
                "(owner/name). Point it at a folder holding a SigLIP checkpoint "
                "(config.json, model.safetensors, tokenizer files) or use a Hub id such as "
                "google/siglip-so400m-patch14-384."
            )
        if model.lower().startswith("google/siglip") and model not in KNOWN_CHECKPOINTS:
            close = difflib.get_close_matches(model, KNOWN_CHECKPOINTS, n=3, cutoff=0.8)
            hint = f" Closest: {', '.join(close)}." if close else ""
            raise PluginError(
                f"model = {model!r} is not a published SigLIP checkpoint.{hint} "
                f"Valid Google checkpoints: {', '.join(KNOWN_CHECKPOINTS)}."
            )
        return ModelChoice(model, None, False)
    name = V2_TWIN.get(variant, variant) if use_v2 else variant
    chosen = VARIANTS[name]
    if chosen.is_bundled:
        return ModelChoice(str(demo_model_dir()), name, True)
    return ModelChoice(chosen.model_id, name, False)
