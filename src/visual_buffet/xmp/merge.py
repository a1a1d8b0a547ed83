"""Put a run's keywords into a packet, and take back exactly what Visual Buffet added.

The keyword fields (``dc:subject``, ``lr:hierarchicalSubject``, ``digiKam:TagsList``) are
shared with the user and other applications. What this project added is recorded in its own
namespace (:data:`VB_NS`): the runs (image file, plugin, model, vocabulary hash, threshold,
date, each tag with its confidence and parents) and, per field, the values that were not
there before. Every write recomputes the wanted values from the recorded runs, adds the
missing ones and removes only values this project added that no run wants any more; a value
the user already had (compared without regard to case) is never added twice and never
removed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from visual_buffet.xmp.packet import (
    CONTAINERS,
    DC_NS,
    DESCRIPTION,
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
    text_of,
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


@dataclass
class Change:
    """What one write or removal did to a packet."""

    added: int = 0
    removed: int = 0
    matched: int = 0
    """Runs a removal took back."""
    state: State = field(default_factory=State)


def apply_run(packet: XmpPacket, run: Run, options: KeywordOptions, *, created: bool) -> Change:
    """Record ``run`` (replacing the same file's earlier run of the same plugin) and sync."""
    state = take_state(packet)
    state.created_sidecar = state.created_sidecar or created
    state.runs = [r for r in state.runs if (r.file, r.plugin) != (run.file, run.plugin)]
    state.runs.append(run)
    return _sync(packet, state, options)


def remove_runs(packet: XmpPacket, files: set[str] | None = None) -> Change:
    """Forget the runs of ``files`` (all runs when None) and take back their keywords.

    Keywords another remaining run still wants stay (a RAW+JPEG pair sharing a sidecar).
    """
    state = take_state(packet)
    before = len(state.runs)
    if files is None:
        state.runs = []
    else:
        state.runs = [r for r in state.runs if r.file not in files]
    # Paths and parents were chosen when the runs were written; a removal keeps them.
    change = _sync(packet, state, KeywordOptions(), keep_fields=True)
    change.matched = before - len(state.runs)
    return change


def _sync(
    packet: XmpPacket, state: State, options: KeywordOptions, *, keep_fields: bool = False
) -> Change:
    change = Change(state=state)
    wanted: dict[str, list[str]] = {name: [] for name in FIELDS}
    for run in state.runs:
        for name, values in run.values(options).items():
            wanted[name].extend(values)
    if keep_fields:  # only drop values; never add a field the options would not have written
        wanted = {n: [v for v in vals if v in state.added[n]] for n, vals in wanted.items()}
    user_had: set[str] = set()
    for name in FIELDS:
        added, removed, held = _sync_field(packet, name, wanted[name], state.added[name])
        change.added += added
        change.removed += removed
        if name == SUBJECT:
            user_had = held
    for run in state.runs:
        run.user_keywords = {t.label for t in run.tags if t.label.casefold() in user_had}
    if state.runs:
        _put_state(packet, state)
    packet.drop_declarations({VB_NS, LR_NS, DIGIKAM_NS, DC_NS})
    return change


def _sync_field(
    packet: XmpPacket, name: str, wanted: list[str], added: list[str]
) -> tuple[int, int, set[str]]:
    """Make field ``name`` hold ``wanted``; updates ``added`` in place.

    Returns (values added, values removed, casefolded values the user had).
    """
    wanted = list(dict.fromkeys(wanted))
    owner, prop = _find_property(packet, name)
    items = _items(prop) if prop is not None else []
    removed = 0
    ours = set(added)
    for li, value in items:
        if value in ours and value not in wanted:
            remove(li_parent(prop), li)
            removed += 1
    items = [(li, v) for li, v in items if not (v in ours and v not in wanted)]
    present = {v.casefold() for _, v in items if v is not None}
    user_had = {v.casefold() for _, v in items if v is not None and v not in ours}
    new_added = [v for v in added if v in wanted and v.casefold() in present]
    missing = [v for v in wanted if v.casefold() not in present]
    if missing:
        if prop is None:
            owner = packet.descriptions()[0]
            packet.declare(owner, _uri(name))
            prop = ET.Element(name)
            ET.SubElement(prop, f"{RDF}Bag")
            insert(owner, prop, level=_level(packet))
        container = _container(prop)
        level = _level(packet) + 2
        for value in missing:
            li = ET.Element(LI)
            li.text = value
            insert(container, li, level=level)
            new_added.append(value)
            present.add(value.casefold())
    if prop is not None and owner is not None and removed and not _items(prop):
        remove(owner, prop)
    added[:] = new_added
    return len(missing), removed, user_had


def _find_property(packet: XmpPacket, name: str) -> tuple[ET.Element | None, ET.Element | None]:
    for desc in packet.descriptions():
        for child in desc:
            if child.tag == name:
                return desc, child
        if name in desc.attrib:  # not valid XMP for an array, but seen: make it one
            value = desc.attrib.pop(name)
            prop = ET.Element(name)
            li = ET.SubElement(ET.SubElement(prop, f"{RDF}Bag"), LI)
            li.text = value
            insert(desc, prop, level=_level(packet))
            return desc, prop
    return None, None


def _container(prop: ET.Element) -> ET.Element:
    for child in prop:
        if child.tag in CONTAINERS:
            return child
    return ET.SubElement(prop, f"{RDF}Bag")


def li_parent(prop: ET.Element | None) -> ET.Element:
    assert prop is not None
    return _container(prop)


def _items(prop: ET.Element) -> list[tuple[ET.Element, str | None]]:
    for child in prop:
        if child.tag in CONTAINERS:
            return [(li, text_of(li)) for li in child if li.tag == LI]
    return []


def _uri(name: str) -> str:
    return name[1:].split("}", 1)[0]


def _level(packet: XmpPacket) -> int:
    """Nesting level of a property element (x:xmpmeta / rdf:RDF / rdf:Description / here)."""
    return 3 if packet.root is not packet.rdf else 2


# -- this project's own record -------------------------------------------------------------
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
    elif name == "added" and isinstance(value, dict):
        for field_name, key in FIELDS.items():
            items = value.get(key) or []
            state.added[field_name] = [str(v) for v in items if isinstance(v, str)]
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


def _put_state(packet: XmpPacket, state: State) -> None:
    desc = packet.descriptions()[0]
    packet.declare(desc, VB_NS)
    level = _level(packet)
    created = _simple("createdSidecar", "True" if state.created_sidecar else "False")
    insert(desc, created, level=level)
    added = {FIELDS[name]: _array("Bag", values) for name, values in state.added.items()}
    insert(desc, _struct("added", added), level=level)
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


__all__ = [
    "DESCRIPTION",
    "FIELDS",
    "HIERARCHY",
    "SUBJECT",
    "TAGS_LIST",
    "VB_NS",
    "Change",
    "KeywordOptions",
    "Run",
    "RunTag",
    "State",
    "apply_run",
    "remove_runs",
    "take_state",
]
