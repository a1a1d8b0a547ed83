"""Sidecar files beside images: which name, writing a record, removing what was added.

An original image is never opened: only ``*.xmp`` files are read and replaced (temp file +
rename, keeping the old file's permissions; :mod:`visual_buffet.atomic`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from visual_buffet import __version__
from visual_buffet.atomic import atomic_write_bytes
from visual_buffet.images import IMAGE_SUFFIXES, RAW_SUFFIXES
from visual_buffet.xmp.merge import apply_run, remove_runs
from visual_buffet.xmp.packet import XmpError, XmpPacket
from visual_buffet.xmp.record import KeywordOptions, Run, RunTag

Naming = Literal["image", "stem"]


class SidecarError(Exception):
    """A sidecar could not be written or read; the message names the file and the fix."""


@dataclass(frozen=True)
class XmpSettings:
    """How sidecars are named and filled (settings ``images.xmp.*``, docs/xmp.md)."""

    naming: Naming = "image"
    keywords: KeywordOptions = field(default_factory=KeywordOptions)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> XmpSettings:
        """From resolved host settings (``{"xmp.naming": Value, ...}`` or plain values)."""

        def get(key: str) -> Any:
            value = values[key]
            return getattr(value, "value", value)

        return cls(
            naming=get("xmp.naming"),
            keywords=KeywordOptions(
                hierarchy=get("xmp.hierarchy"),
                digikam=get("xmp.digikam"),
                parents_as_keywords=get("xmp.parents_as_keywords"),
            ),
        )


class SidecarLocator:
    """Finds an image's sidecar; reads each folder's listing once.

    The rules (docs/xmp.md): an existing ``IMG.jpg.xmp`` is used; else an existing
    ``IMG.xmp`` when this image owns that name; else the ``naming`` setting decides. An
    image owns ``IMG.xmp`` when it is the only image with that stem, or when the stem has
    exactly one camera RAW: the RAW owns it and the other images of the stem (the JPEG of
    a RAW+JPEG pair) share it, as Lightroom treats the JPEG as a sidecar of the RAW. Stems
    with several RAWs or several non-RAW images get full names, never a shared one.
    """

    def __init__(self, naming: Naming = "image") -> None:
        self.naming = naming
        self._folders: dict[Path, _Folder] = {}

    def _folder(self, folder: Path) -> _Folder:
        if folder not in self._folders:
            try:
                names = os.listdir(folder or ".")
            except OSError:
                names = []
            self._folders[folder] = _Folder(names)
        return self._folders[folder]

    def created(self, sidecar: Path) -> None:
        """Note a sidecar this process just made (the cached listing lacks it)."""
        self._folder(sidecar.parent).add_xmp(sidecar.name)

    def deleted(self, sidecar: Path) -> None:
        self._folder(sidecar.parent).remove_xmp(sidecar.name)

    def candidates(self, image: Path) -> list[Path]:
        """Existing sidecars that may hold this image's tags: full name first, then stem."""
        folder = self._folder(image.parent)
        found = [image.parent / n for n in folder.xmp_named(image.name)]
        if folder.shares_stem(image):
            found += [image.parent / n for n in folder.xmp_named(image.stem)]
        return found

    def sidecar_for(self, image: Path) -> Path:
        """The one sidecar to write for ``image``."""
        folder = self._folder(image.parent)
        full = folder.xmp_named(image.name)
        if full:
            return image.parent / full[0]
        if folder.shares_stem(image):
            stem = folder.xmp_named(image.stem)
            if stem:
                return image.parent / stem[0]
            if self.naming == "stem":
                return image.parent / f"{image.stem}.xmp"
        return image.parent / f"{image.name}.xmp"


class _Folder:
    """One folder's images by stem and sidecars by base name (constant time per image)."""

    def __init__(self, names: list[str]) -> None:
        self.images: dict[str, list[str]] = {}
        self.sidecars: dict[str, list[str]] = {}
        for name in sorted(names):
            if name[-4:].lower() == ".xmp":
                self.add_xmp(name)
            else:
                path = Path(name)
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    self.images.setdefault(path.stem, []).append(name)

    def add_xmp(self, name: str) -> None:
        found = self.sidecars.setdefault(name[:-4], [])
        if name not in found:
            found.append(name)
            found.sort(key=lambda n: n[-4:] != ".xmp")  # lower-case suffix first

    def remove_xmp(self, name: str) -> None:
        found = self.sidecars.get(name[:-4], [])
        if name in found:
            found.remove(name)

    def xmp_named(self, base: str) -> list[str]:
        """``base.xmp`` / ``base.XMP`` in this folder."""
        return list(self.sidecars.get(base, ()))

    def shares_stem(self, image: Path) -> bool:
        """Whether ``image`` may use ``stem.xmp`` (the rule in :class:`SidecarLocator`)."""
        group = set(self.images.get(image.stem, ())) | {image.name}
        if len(group) == 1:
            return True
        raws = [n for n in group if Path(n).suffix.lower() in RAW_SUFFIXES]
        return len(raws) == 1


@dataclass
class SidecarResult:
    """What happened to one image's sidecar."""

    image: Path
    sidecar: Path | None
    added: int = 0
    removed: int = 0
    created: bool = False
    deleted: bool = False


def run_from_record(record: dict[str, Any], date: datetime | None = None) -> Run:
    """The :class:`Run` a result record describes (output.py's record format)."""
    model = record.get("model") or {}
    settings = record.get("settings") or {}
    when = record.get("date") or (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    threshold = settings.get("threshold")
    tags = [
        RunTag(
            str(tag["label"]),
            float(tag["confidence"]),
            tuple(str(p) for p in tag.get("parents") or ()),
        )
        for tag in record.get("tags") or []
    ]
    return Run(
        file=Path(record["file"]).name,
        plugin=str(record.get("plugin", "")),
        model=_model_name(model),
        vocabulary_hash=str(model.get("vocabulary_sha256") or ""),
        threshold="" if threshold is None else str(threshold),
        date=str(when),
        tags=tags,
        generator=f"visual-buffet {__version__}",
    )


def _model_name(model: dict[str, Any]) -> str:
    """``google/siglip-base-patch16-224``, with the variant when the id does not say it."""
    name = str(model.get("id") or model.get("name") or "")
    variant = model.get("variant")
    if variant and str(variant) not in name:
        name = f"{name} ({variant})" if name else str(variant)
    return name


def write_record(
    record: dict[str, Any],
    locator: SidecarLocator,
    options: KeywordOptions,
    *,
    date: datetime | None = None,
) -> SidecarResult:
    """Merge one result record's tags into its image's sidecar.

    Raises :class:`SidecarError` when the sidecar cannot be read, parsed or replaced; the
    existing file is then left exactly as it was.
    """
    image = Path(record["file"])
    sidecar = locator.sidecar_for(image)
    data = _read(sidecar)
    run = run_from_record(record, date)
    if data is None and not run.tags:
        return SidecarResult(image, None)  # nothing to say, and no file to make for it
    packet = _parse(sidecar, data)
    change = apply_run(packet, run, options, created=data is None)
    _write(sidecar, packet.to_bytes())
    if data is None:
        locator.created(sidecar)
    return SidecarResult(image, sidecar, change.added, change.removed, created=data is None)


def remove_image(image: Path, locator: SidecarLocator) -> SidecarResult:
    """Take back what Visual Buffet wrote for ``image`` from each sidecar that holds it.

    A sidecar this project created is deleted once nothing else is left in it.
    """
    result = SidecarResult(image, None)
    for sidecar in locator.candidates(image):
        data = _read(sidecar)
        if data is None:
            continue
        packet = _parse(sidecar, data)
        change = remove_runs(packet, {image.name})
        if not change.matched:
            continue
        result.sidecar = sidecar
        result.removed += change.removed
        if change.state.created_sidecar and not change.state.runs and packet.is_empty():
            try:
                _target(sidecar).unlink()
            except OSError as exc:
                raise SidecarError(f"{sidecar}: cannot delete it: {exc.strerror}.") from None
            locator.deleted(sidecar)
            result.deleted = True
        else:
            _write(sidecar, packet.to_bytes())
    return result


def _target(sidecar: Path) -> Path:
    # A symlinked sidecar is updated where it points, not replaced by a plain file.
    return sidecar.resolve() if sidecar.is_symlink() else sidecar


def _read(sidecar: Path) -> bytes | None:
    try:
        return sidecar.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SidecarError(f"{sidecar} is a folder, not a sidecar file; rename it.") from None
    except OSError as exc:
        raise SidecarError(f"{sidecar}: cannot read it: {exc.strerror}.") from None


def _parse(sidecar: Path, data: bytes | None) -> XmpPacket:
    try:
        return XmpPacket(data)
    except XmpError as exc:
        raise SidecarError(
            f"{sidecar} is not an XMP sidecar that can be updated safely: {exc}. It was left "
            "as it is; repair or move it, then run again."
        ) from None


def _write(sidecar: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(_target(sidecar), data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SidecarError(
            f"{sidecar}: cannot write the sidecar ({reason}). Check that the folder is "
            "writable; the image itself is never changed."
        ) from None


class SidecarSink:
    """A record sink (the ``ResultWriter`` protocol of output.py): one sidecar per image.

    A sidecar that cannot be written is reported through ``on_error`` and counted; the run
    goes on with the next image.
    """

    def __init__(
        self,
        settings: XmpSettings,
        on_error: Callable[[str], None] | None = None,
        *,
        date: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.locator = SidecarLocator(settings.naming)
        self.on_error = on_error
        # One date for the whole run: every sidecar of a run records the same moment.
        self.date = date or datetime.now(UTC)
        self.written = 0
        self.failed = 0

    def write(self, record: dict[str, Any]) -> None:
        if record.get("error") is not None:
            return
        try:
            result = write_record(record, self.locator, self.settings.keywords, date=self.date)
        except SidecarError as exc:
            self.failed += 1
            if self.on_error is not None:
                self.on_error(str(exc))
            return
        if result.sidecar is not None:
            self.written += 1

    def close(self, summary: dict[str, Any]) -> None:
        """Every sidecar was complete when its image finished; nothing is left to do."""

    def abort(self) -> None:
        """Interrupted: sidecars written so far are complete (each was an atomic rename)."""
