"""Put a run's keywords into a packet, and take back exactly what Visual Buffet added.

The keyword fields (``dc:subject``, ``lr:hierarchicalSubject``, ``digiKam:TagsList``) are
shared with the user and other applications. What this project added is recorded in its own
namespace (:mod:`visual_buffet.xmp.record`). Every write recomputes the wanted values from
the recorded runs, adds the missing ones and removes only values this project added that no
run wants any more; a value the user already had (compared without regard to case) is never
added twice and never removed, and one the user deleted after it was added is not added
again.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from visual_buffet.xmp.packet import (
    CONTAINERS,
    DC_NS,
    DIGIKAM_NS,
    LI,
    LR_NS,
    RDF,
    XmpPacket,
    insert,
    remove,
    text_of,
)
from visual_buffet.xmp.record import (
    FIELDS,
    SUBJECT,
    TAGS_LIST,
    VB_NS,
    KeywordOptions,
    Run,
    State,
    put_state,
    take_state,
)

#: The array a new keyword field is written as, as its owners write it (digiKam and
#: exiftool write TagsList as a Seq); an existing field keeps the container it has.
CONTAINER_OF = {TAGS_LIST: f"{RDF}Seq"}


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
        added, removed, held = _sync_field(
            packet, name, wanted[name], state.added[name], state.deleted[name]
        )
        change.added += added
        change.removed += removed
        if name == SUBJECT:
            user_had = held
    for run in state.runs:
        run.user_keywords = {t.label for t in run.tags if t.label.casefold() in user_had}
    if state.runs:
        put_state(packet, state)
    packet.drop_declarations({VB_NS, LR_NS, DIGIKAM_NS, DC_NS})
    return change


def _sync_field(
    packet: XmpPacket, name: str, wanted: list[str], added: list[str], deleted: list[str]
) -> tuple[int, int, set[str]]:
    """Make field ``name`` hold ``wanted``; updates ``added`` and ``deleted`` in place.

    A value this project added that is no longer there was deleted by the user (in another
    application): it goes to ``deleted`` and is not added again.
    Returns (values added, values removed, casefolded values the user had).
    """
    wanted = list(dict.fromkeys(wanted))
    owner, prop = _find_property(packet, name)
    items = _items(prop) if prop is not None else []
    there = {v.casefold() for _, v in items if v is not None}
    deleted.extend(v for v in added if v.casefold() not in there and v not in deleted)
    deleted[:] = [v for v in deleted if v.casefold() not in there]  # re-added by the user
    refused = set(deleted)
    removed = 0
    ours = set(added)
    for li, value in items:
        if value in ours and value not in wanted:
            remove(_container(prop), li)  # type: ignore[arg-type]
            removed += 1
    items = [(li, v) for li, v in items if not (v in ours and v not in wanted)]
    present = {v.casefold() for _, v in items if v is not None}
    user_had = {v.casefold() for _, v in items if v is not None and v not in ours}
    new_added = [v for v in added if v in wanted and v.casefold() in present]
    missing = []
    for value in wanted:  # one value per spelling, whatever the case ("Dog" and "dog")
        if value.casefold() not in present and value not in refused:
            present.add(value.casefold())
            missing.append(value)
    if missing:
        if prop is None:
            owner = packet.descriptions()[0]
            packet.declare(owner, _uri(name))
            prop = ET.Element(name)
            ET.SubElement(prop, CONTAINER_OF.get(name, f"{RDF}Bag"))
            insert(owner, prop, level=packet.property_level)
        container = _container(prop)
        level = packet.property_level + 2
        for value in missing:
            li = ET.Element(LI)
            li.text = value
            insert(container, li, level=level)
            new_added.append(value)
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
            insert(desc, prop, level=packet.property_level)
            return desc, prop
    return None, None


def _container(prop: ET.Element) -> ET.Element:
    for child in prop:
        if child.tag in CONTAINERS:
            return child
    return ET.SubElement(prop, f"{RDF}Bag")


def _items(prop: ET.Element) -> list[tuple[ET.Element, str | None]]:
    for child in prop:
        if child.tag in CONTAINERS:
            return [(li, text_of(li)) for li in child if li.tag == LI]
    return []


def _uri(name: str) -> str:
    return name[1:].split("}", 1)[0]
