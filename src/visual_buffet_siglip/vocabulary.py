"""Tag vocabularies: the built-in list, custom files, and label normalisation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from visual_buffet.plugin_api import PluginError

TEMPLATE = "This is a photo of {label}."
"""The prompt SigLIP was trained with. Labels are lowercased before templating."""

BUILTIN_NAME = "photo-tags.txt"
BUILTIN_PARENTS_NAME = "tag-parents.txt"
"""``parent|child`` lines giving the built-in tags their categories (vocab/README.md)."""


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


@dataclass(frozen=True)
class Vocabulary:
    """Labels to score, in order, and the parents declared for them.

    ``parents`` maps a label to its ancestors, root first: the line ``animal|bird|eagle``
    scores ``eagle`` and gives it ``("animal", "bird")``. Parents are not scored unless they
    have a line of their own. A parent's own line (``animal|bird``) extends the paths of its
    children, so ``bird|eagle`` alone also yields ``("animal", "bird")``.
    """

    labels: list[str]
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sha256(self) -> str:
        """A hash of what is scored and how it nests: it names the vocabulary in XMP records."""
        data = json.dumps([self.labels, sorted(self.parents.items())], ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


def parse_vocabulary(lines: Iterable[str]) -> Vocabulary:
    """Labels and declared parents from tag lines (``child`` or ``parent|...|child``).

    Each part is normalised like a label (:func:`normalise_label`), so ``Animal|Dog`` and
    ``animal|dog`` are the same; empty parts are dropped.
    """
    labels: dict[str, None] = {}
    direct: dict[str, tuple[str, ...]] = {}
    for line in lines:
        parts = [part for part in map(normalise_label, line.split("|")) if part]
        if not parts:
            continue
        label = parts[-1]
        labels.setdefault(label, None)
        if len(parts) > 1:
            direct.setdefault(label, tuple(parts[:-1]))
    return Vocabulary(list(labels), resolve_parents(direct))


def resolve_parents(direct: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Full ancestor paths from declared ones: ``{dog: (animal,), animal: (living thing,)}``
    gives dog ``(living thing, animal)``. A cycle stops where it would repeat a name."""

    def path(label: str, seen: tuple[str, ...]) -> tuple[str, ...]:
        declared = direct.get(label, ())
        if not declared or declared[0] in seen:
            return declared
        return (*path(declared[0], (*seen, label)), *declared)

    out = {}
    for label in direct:
        full = path(label, (label,))
        out[label] = tuple(dict.fromkeys(p for p in full if p != label))
    return out


def read_vocabulary_file(path: Path, *, what: str = "vocabulary file") -> list[str]:
    """Read a UTF-8 tag file: one tag per line, blank lines and ``#`` comments ignored."""
    return read_vocabulary(path, what=what).labels


def read_vocabulary(path: Path, *, what: str = "vocabulary file") -> Vocabulary:
    """Read a UTF-8 tag file with optional ``parent|child`` lines (:func:`parse_vocabulary`)."""
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
    vocabulary = parse_vocabulary(line.split("#", 1)[0] for line in text.splitlines())
    if not vocabulary.labels:
        raise PluginError(
            f"{what} {path} has no tags: write one tag per line (# starts a comment)."
        )
    return vocabulary


def builtin_vocabulary_path() -> Path:
    """The built-in photo vocabulary (``vocab/photo-tags.txt`` in the repository).

    Wheels carry it inside the package; an editable install of a source checkout reads it
    from the repository's ``vocab/`` folder.
    """
    packaged = Path(str(resources.files("visual_buffet_siglip") / "vocab" / BUILTIN_NAME))
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "vocab" / BUILTIN_NAME


def builtin_vocabulary() -> Vocabulary:
    """The built-in tags with their categories (``vocab/tag-parents.txt``) as parents."""
    labels = read_vocabulary_file(builtin_vocabulary_path(), what="built-in vocabulary")
    parents_file = builtin_vocabulary_path().with_name(BUILTIN_PARENTS_NAME)
    try:
        text = parents_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Vocabulary(labels)  # an install without the categories: flat tags
    declared = parse_vocabulary(line.split("#", 1)[0] for line in text.splitlines()).parents
    return Vocabulary(labels, {label: declared[label] for label in labels if label in declared})
