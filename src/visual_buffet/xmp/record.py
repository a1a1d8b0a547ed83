"""This project's own record in a sidecar: the ``vbuffet`` namespace, read and written.

What it holds (docs/xmp.md): whether Visual Buffet created the file, the values it added
to each keyword field, the values it added and the user later deleted, and one entry per
(image file, plugin) run with the model, vocabulary hash, threshold, date and each tag's
confidence and parents. :func:`take_state` reads it in any of RDF's equivalent forms (other
tools rewrite it: exiv2 as attributes, exiftool as nested descriptions) and removes it from
the packet; :func:`put_state` writes it back in one form.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from visual_buffet.xmp.packet import (
    DC_NS,
    DIGIKAM_NS,
    LI,
    LR_NS,
    PARSE_TYPE,
    RDF,
    XmpPacket,
    insert,
    rdf_value,
    register_prefix,
    remove,
)

VB_NS = "https://visual-buffet.invalid/ns/xmp/1.0/"
"""Visual Buffet's own XMP namespace (prefix ``vbuffet``); docs/xmp.md describes it."""
VB_PREFIX = "vbuffet"
register_prefix(VB_NS, VB_PREFIX)
VB = f"{{{VB_NS}}}"

SUBJECT = f"{{{DC_NS}}}subject"
HIERARCHY = f"{{{LR_NS}}}hierarchicalSubject"
TAGS_LIST = f"{{{DIGIKAM_NS}}}TagsList"
#: Keyword field -> the name of its list of added values in this project's namespace.
FIELDS = {SUBJECT: "subject", HIERARCHY: "hierarchicalSubject", TAGS_LIST: "tagsList"}


@dataclass(frozen=True)
class KeywordOptions:
    """Which keyword fields a write fills (docs/xmp.md, settings ``images.xmp.*``)."""

    hierarchy: bool = True
    """``lr:hierarchicalSubject`` with ``parent|child`` paths (Lightroom, darktable)."""
    digikam: bool = True
    """``digiKam:TagsList`` with ``parent/child`` paths (digiKam, Immich)."""
    parents_as_keywords: bool = True
    """A tag's parents also go into ``dc:subject``, for readers that ignore hierarchy."""


@dataclass(frozen=True)
class RunTag:
    """One tag of a run: the label scored, its confidence, and its parents (root first)."""

    label: str
    confidence: float
    parents: tuple[str, ...] = ()


@dataclass
class Run:
    """The tags one plugin gave one image file, with what produced them."""

    file: str
    plugin: str
    model: str
    vocabulary_hash: str
    threshold: str
    date: str
    tags: list[RunTag] = field(default_factory=list)
    generator: str = ""
    user_keywords: set[str] = field(default_factory=set)
    """Labels the user already had as keywords (found when the run is written)."""

    def values(self, options: KeywordOptions) -> dict[str, list[str]]:
        """The value of each keyword field this run wants."""
        wanted: dict[str, list[str]] = {name: [] for name in FIELDS}
        for tag in self.tags:
            if options.parents_as_keywords:
                wanted[SUBJECT].extend(tag.parents)
            wanted[SUBJECT].append(tag.label)
            path = [*tag.parents, tag.label]
            if options.hierarchy:
                wanted[HIERARCHY].append("|".join(path))
            if options.digikam:
                wanted[TAGS_LIST].append("/".join(path))
        return wanted


@dataclass
class State:
    """What this project recorded in a packet."""

    created_sidecar: bool = False
    runs: list[Run] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in FIELDS})
    deleted: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in FIELDS})
    """Values this project added that the user deleted afterwards: never added again."""


def take_state(packet: XmpPacket) -> State:
    """Read this project's record from every description and remove it from the packet."""
    state = State()
    for desc in packet.descriptions():
        for key in [k for k in desc.attrib if k.startswith(VB)]:
            _read_into(state, key[len(VB) :], desc.attrib.pop(key))
        for child in [c for c in desc if isinstance(c.tag, str) and c.tag.startswith(VB)]:
            _read_into(state, child.tag[len(VB) :], rdf_value(child))
            remove(desc, child)
    return state


def _read_into(state: State, name: str, value: Any) -> None:
    if name == "createdSidecar":
        state.created_sidecar = str(value).strip().lower() == "true"
    elif name in ("added", "deleted") and isinstance(value, dict):
        for field_name, key in FIELDS.items():
            items = value.get(key) or []
            getattr(state, name)[field_name] = [str(v) for v in items if isinstance(v, str)]
    elif name == "runs" and isinstance(value, list):
        state.runs += [_run_from(v) for v in value if isinstance(v, dict)]


def _run_from(value: dict[str, Any]) -> Run:
    tags = []
    for item in value.get("tags") or []:
        if not isinstance(item, dict) or not item.get("label"):
            continue
        try:
            confidence = float(item.get("confidence", 0))
        except ValueError:
            confidence = 0.0
        parents = item.get("parents") or []
        if isinstance(parents, str):  # written as "animal|pet"; a list by other tools
            parents = parents.split("|")
        tags.append(RunTag(str(item["label"]), confidence, tuple(str(p) for p in parents if p)))
    return Run(
        file=str(value.get("file", "")),
        plugin=str(value.get("plugin", "")),
        model=str(value.get("model", "")),
        vocabulary_hash=str(value.get("vocabularyHash", "")),
        threshold=str(value.get("threshold", "")),
        date=str(value.get("date", "")),
        tags=tags,
        generator=str(value.get("generator", "")),
    )


def put_state(packet: XmpPacket, state: State) -> None:
    desc = packet.descriptions()[0]
    packet.declare(desc, VB_NS)
    level = packet.property_level
    created = _simple("createdSidecar", "True" if state.created_sidecar else "False")
    insert(desc, created, level=level)
    added = {FIELDS[name]: _array("Bag", values) for name, values in state.added.items()}
    insert(desc, _struct("added", added), level=level)
    if any(state.deleted.values()):
        deleted = {FIELDS[name]: _array("Bag", values) for name, values in state.deleted.items()}
        insert(desc, _struct("deleted", deleted), level=level)
    runs = []
    for run in state.runs:
        user = run.user_keywords
        tags = ET.Element(f"{RDF}Seq")
        for tag in run.tags:
            # One element per tag, its fields as attributes (RDF's short form of a struct,
            # as darktable writes its history): a third of the elements of the long form.
            attrs = {f"{VB}label": tag.label, f"{VB}confidence": f"{tag.confidence:.4f}"}
            if tag.parents:
                attrs[f"{VB}parents"] = "|".join(tag.parents)
            attrs[f"{VB}userKeyword"] = "True" if tag.label in user else "False"
            ET.SubElement(tags, LI, attrs)
        fields = {
            "file": run.file,
            "plugin": run.plugin,
            "model": run.model,
            "vocabularyHash": run.vocabulary_hash,
            "threshold": run.threshold,
            "date": run.date,
            "generator": run.generator,
            "tags": tags,
        }
        runs.append(fields)
    prop = ET.Element(f"{VB}runs")
    bag = ET.SubElement(prop, f"{RDF}Bag")
    for fields in runs:
        bag.append(_struct_li(fields))
    insert(desc, prop, level=level)


def _simple(name: str, text: str) -> ET.Element:
    elem = ET.Element(f"{VB}{name}")
    elem.text = text
    return elem


def _array(kind: str, values: list[Any]) -> ET.Element:
    container = ET.Element(f"{RDF}{kind}")
    for value in values:
        if isinstance(value, dict):
            container.append(_struct_li(value))
        else:
            ET.SubElement(container, LI).text = value
    return container


def _struct(name: str, fields: dict[str, Any]) -> ET.Element:
    elem = ET.Element(f"{VB}{name}", {PARSE_TYPE: "Resource"})
    _fill(elem, fields)
    return elem


def _struct_li(fields: dict[str, Any]) -> ET.Element:
    li = ET.Element(LI, {PARSE_TYPE: "Resource"})
    _fill(li, fields)
    return li


def _fill(elem: ET.Element, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value is None or value == "":
            continue
        child = ET.SubElement(elem, f"{VB}{key}")
        if isinstance(value, ET.Element):
            if len(value):  # an empty array is left out: RDF has no use for it
                child.append(value)
            else:
                elem.remove(child)
        else:
            child.text = str(value)
