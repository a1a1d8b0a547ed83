"""Tag vocabularies: the built-in list, custom files, and label normalisation."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from visual_buffet.plugin_api import PluginError

TEMPLATE = "This is a photo of {label}."
"""The prompt SigLIP was trained with. Labels are lowercased before templating."""

BUILTIN_NAME = "photo-tags.txt"


def normalise_label(raw: str) -> str:
    """Trim, turn ``_`` into spaces, collapse whitespace, lowercase.

    SigLIP v1's tokenizer drops punctuation (``ceiling_fan`` would become ``ceilingfan``) and
    Gemma-based SigLIP 2 tokenizers are case-sensitive, so both are normalised here.
    """
    return " ".join(raw.replace("_", " ").split()).lower()


def prepare_labels(raw_labels: Iterable[str]) -> list[str]:
    """Normalise labels, dropping empty and duplicate ones (first occurrence kept)."""
    seen: dict[str, None] = {}
    for raw in raw_labels:
        label = normalise_label(raw)
        if label and label not in seen:
            seen[label] = None
    return list(seen)


def prompts(labels: Iterable[str]) -> list[str]:
    """The text the model sees for each (normalised) label."""
    return [TEMPLATE.format(label=label) for label in labels]


def read_vocabulary_file(path: Path, *, what: str = "vocabulary file") -> list[str]:
    """Read a UTF-8 tag file: one tag per line, blank lines and ``#`` comments ignored."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PluginError(
            f"{what} {path} does not exist. Check custom_vocabulary / --vocabulary."
        ) from None
    except IsADirectoryError:
        raise PluginError(
            f"{what} {path} is a folder; give a text file, one tag per line."
        ) from None
    except UnicodeDecodeError as exc:
        raise PluginError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise PluginError(f"cannot read {what} {path}: {exc.strerror}.") from None
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    labels = prepare_labels(lines)
    if not labels:
        raise PluginError(
            f"{what} {path} has no tags: write one tag per line (# starts a comment)."
        )
    return labels


def builtin_vocabulary_path() -> Path:
    """The built-in photo vocabulary (``vocab/photo-tags.txt`` in the repository).

    Wheels carry it inside the package; an editable install of a source checkout reads it
    from the repository's ``vocab/`` folder.
    """
    packaged = Path(str(resources.files("visual_buffet_siglip") / "vocab" / BUILTIN_NAME))
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "vocab" / BUILTIN_NAME
