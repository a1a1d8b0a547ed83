"""An XMP packet read and written with the standard library, changing only what is asked.

Why not a re-serialising XMP toolkit: docs/xmp.md. The packet is parsed into an ElementTree,
keeping what ElementTree alone would lose: each namespace declaration on the element that
made it (so prefixes and their places survive), comments, processing instructions (the
``<?xpacket?>`` wrapper) and the whitespace between elements. Elements this module does not
touch are written back as they were read; a darktable history or a Lightroom develop setting
is never interpreted, only carried.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

X_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
DC_NS = "http://purl.org/dc/elements/1.1/"
LR_NS = "http://ns.adobe.com/lightroom/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"

#: Prefixes used when this module has to declare a namespace itself.
PREFERRED_PREFIXES = {
    X_NS: "x",
    RDF_NS: "rdf",
    DC_NS: "dc",
    LR_NS: "lr",
    DIGIKAM_NS: "digiKam",
}

RDF = f"{{{RDF_NS}}}"
DESCRIPTION = f"{RDF}Description"
LI = f"{RDF}li"
CONTAINERS = (f"{RDF}Bag", f"{RDF}Seq", f"{RDF}Alt")
PARSE_TYPE = f"{RDF}parseType"


class XmpError(ValueError):
    """A sidecar is not XMP that can be updated safely; it is left as it was."""


class _Builder:
    """An XMLParser target: an ElementTree plus what the tree alone would drop."""

    def __init__(self) -> None:
        self._tree = ET.TreeBuilder(insert_comments=True, insert_pis=True)
        self._pending: list[tuple[str, str]] = []
        self._depth = 0
        self._root_done = False
        self.declarations: dict[int, list[tuple[str, str]]] = {}
        self.prolog: list[str] = []  # comments and PIs before the root (<?xpacket begin?>)
        self.epilog: list[str] = []  # ... and after it (<?xpacket end?>)
        self.keep: list[ET.Element] = []  # ids in `declarations` stay valid while these live

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        elem = self._tree.start(tag, attrs)
        if self._pending:
            self.declarations[id(elem)] = self._pending
            self.keep.append(elem)
            self._pending = []
        self._depth += 1
        return elem

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        if self._depth == 0:
            self._root_done = True
        return self._tree.end(tag)

    def data(self, data: str) -> None:
        if self._depth:
            self._tree.data(data)

    def comment(self, text: str) -> None:
        if self._depth:
            self._tree.comment(text)
        else:
            (self.epilog if self._root_done else self.prolog).append(f"<!--{text}-->")

    def pi(self, target: str, text: str | None) -> None:
        if self._depth:
            self._tree.pi(target, text)
        else:
            body = f"<?{target} {text}?>" if text else f"<?{target}?>"
            (self.epilog if self._root_done else self.prolog).append(body)

    def close(self) -> ET.Element:
        return self._tree.close()


class XmpPacket:
    """One parsed sidecar. Edit through :meth:`descriptions` and the helpers below."""

    def __init__(self, data: bytes | None = None, *, toolkit: str = "Visual Buffet") -> None:
        if data is None:
            data = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<x:xmpmeta xmlns:x="{X_NS}" x:xmptk="{_attr(toolkit)}">\n'
                f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
                '  <rdf:Description rdf:about=""/>\n'
                " </rdf:RDF>\n"
                "</x:xmpmeta>\n"
            ).encode()
        builder = _Builder()
        parser = ET.XMLParser(target=builder)
        try:
            parser.feed(data)
            self.root: ET.Element = parser.close()
        except ET.ParseError as exc:
            raise XmpError(f"not well-formed XML ({exc})") from None
        self._builder = builder
        self.xml_declaration = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml")
        self.rdf = self._find_rdf()

    # -- structure -----------------------------------------------------------------------
    def _find_rdf(self) -> ET.Element:
        if self.root.tag == f"{RDF}RDF":
            return self.root
        if self.root.tag not in (f"{{{X_NS}}}xmpmeta", f"{{{X_NS}}}xapmeta"):
            raise XmpError(f"the root element is {_local(self.root.tag)}, not x:xmpmeta")
        found = self.root.find(f"{RDF}RDF")
        if found is None:
            raise XmpError("no rdf:RDF element inside x:xmpmeta")
        return found

    def descriptions(self) -> list[ET.Element]:
        """The rdf:Description elements, in order; one is created when there is none."""
        found = [child for child in self.rdf if child.tag == DESCRIPTION]
        if not found:
            desc = ET.Element(DESCRIPTION, {f"{RDF}about": ""})
            insert(self.rdf, desc, level=2)
            found = [desc]
        return found

    @property
    def property_level(self) -> int:
        """Nesting level of a property element (x:xmpmeta / rdf:RDF / rdf:Description / here)."""
        return 3 if self.root is not self.rdf else 2

    def is_empty(self) -> bool:
        """True when no description holds a property (only rdf:about and declarations)."""
        for desc in self.rdf:
            if desc.tag != DESCRIPTION:
                if isinstance(desc.tag, str):
                    return False
                continue
            if any(key != f"{RDF}about" for key in desc.attrib):
                return False
            if any(isinstance(child.tag, str) for child in desc):
                return False
        return True

    def drop_declarations(self, uris: set[str]) -> None:
        """Forget declarations of ``uris`` that nothing in the packet uses any more."""
        used = _used_namespaces(self.root)
        for decls in self._builder.declarations.values():
            decls[:] = [(p, u) for p, u in decls if u not in uris or u in used]

    def declare(self, elem: ET.Element, uri: str) -> None:
        """Declare ``uri`` on ``elem`` (a description) unless it or its ancestors already do.

        Without this, the serialiser would declare a new namespace on each property element
        that uses it; on the description it reads like every other tool's output.
        """
        chain = [self.root] if elem is self.root else [self.root, self.rdf, elem]
        bound: dict[str, str] = {}
        for node in chain:
            bound.update(dict(self._builder.declarations.get(id(node), ())))
        if uri in bound.values():
            return
        base = PREFERRED_PREFIXES.get(uri) or _EXTRA_PREFIXES.get(uri) or "ns"
        prefix, n = base, 1
        while prefix in bound:
            prefix, n = f"{base}{n}", n + 1
        self._builder.declarations.setdefault(id(elem), []).append((prefix, uri))
        self._builder.keep.append(elem)

    # -- writing -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The packet as UTF-8 XML, untouched parts as they were read."""
        out: list[str] = []
        if self.xml_declaration:
            out.append('<?xml version="1.0" encoding="UTF-8"?>\n')
        for item in self._builder.prolog:
            if not item.startswith("<?xml "):
                out.append(item + "\n")
        _serialise(self.root, out, _Scope({"xml": XML_NS}), self._builder.declarations)
        out.append("\n")
        for item in self._builder.epilog:
            out.append(item + "\n")
        return "".join(out).encode("utf-8")


# -- tree editing helpers ----------------------------------------------------------------
def insert(parent: ET.Element, child: ET.Element, *, level: int, unit: str = " ") -> None:
    """Append ``child`` (at nesting ``level``) with indentation matching its siblings."""
    ET.indent(child, space=unit, level=level)
    if len(parent):
        child.tail = parent[-1].tail
        parent[-1].tail = "\n" + unit * level
    else:
        parent.text = "\n" + unit * level
        child.tail = "\n" + unit * (level - 1)
    parent.append(child)


def remove(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child``, keeping the indentation of what stays."""
    index = list(parent).index(child)
    if index == len(parent) - 1:
        if index > 0:
            parent[index - 1].tail = child.tail
        else:
            parent.text = None
    parent.remove(child)


def text_of(elem: ET.Element) -> str | None:
    """A simple value's text, or None for a structure or an array."""
    if len(elem) or elem.get(PARSE_TYPE) or elem.get(f"{RDF}resource") is not None:
        return None
    return elem.text or ""


def rdf_value(elem: ET.Element) -> Any:
    """A property element's value in any RDF form XMP allows: str, list or dict.

    Other tools may rewrite this project's own structures in another equivalent form
    (attributes instead of elements, an inner rdf:Description); all read the same.
    """
    for child in elem:
        if child.tag in CONTAINERS:
            return [rdf_value(li) for li in child if li.tag == LI]
    if elem.get(PARSE_TYPE) == "Resource":
        return {_local(c.tag): rdf_value(c) for c in elem if isinstance(c.tag, str)}
    for child in elem:
        if child.tag == DESCRIPTION:
            fields = {_local(k): v for k, v in child.attrib.items() if not k.startswith(RDF)}
            fields.update({_local(c.tag): rdf_value(c) for c in child if isinstance(c.tag, str)})
            return fields
    attrs = {
        _local(k): v
        for k, v in elem.attrib.items()
        if not k.startswith(RDF) and not k.startswith(f"{{{XML_NS}}}")
    }
    if attrs:
        return attrs
    value = elem.get(f"{RDF}resource")
    return value if value is not None else (elem.text or "")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        uri, local = name[1:].split("}", 1)
        return uri, local
    return "", name


def _used_namespaces(root: ET.Element) -> set[str]:
    used: set[str] = set()
    for elem in root.iter():
        if isinstance(elem.tag, str):
            used.add(_split(elem.tag)[0])
            used.update(_split(key)[0] for key in elem.attrib)
    return used


# -- serialisation -----------------------------------------------------------------------
_ATTR_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_ATTR_ESCAPES.update({"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
_ATTR_RE = re.compile('[&<>"\n\r\t]')
_TEXT_RE = re.compile("[&<>\r]")
_TEXT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _attr(value: str) -> str:
    if _ATTR_RE.search(value) is None:  # the common case: nothing to escape
        return value
    return _ATTR_RE.sub(lambda m: _ATTR_ESCAPES[m.group()], value)


def _text(value: str) -> str:
    if value.isspace() or _TEXT_RE.search(value) is None:  # indentation, plain keywords
        return value
    return _TEXT_RE.sub(lambda m: _TEXT_ESCAPES[m.group()], value)


class _Scope:
    """Namespace bindings in force at an element, with a memo of names already qualified.

    Elements without declarations of their own share their parent's scope (and its memo):
    most of a packet resolves each name once.
    """

    __slots__ = ("memo", "prefixes")

    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        self.memo: dict[tuple[str, bool], str] = {}

    def with_declarations(self, decls: list[tuple[str, str]]) -> _Scope:
        return _Scope({**self.prefixes, **dict(decls)})

    def lookup(self, name: str, element: bool) -> str | None:
        """``prefix:local`` when ``name``'s namespace is bound here, else None."""
        key = (name, element)
        found = self.memo.get(key)
        if found is not None:
            return found
        uri, local = _split(name)
        if not uri:
            if element and self.prefixes.get(""):
                return None  # needs xmlns=""
            found = local
        else:
            for prefix, bound in reversed(list(self.prefixes.items())):
                if bound == uri and (prefix or element):
                    found = f"{prefix}:{local}" if prefix else local
                    break
            else:
                return None
        self.memo[key] = found
        return found


def _serialise(
    elem: ET.Element,
    out: list[str],
    scope: _Scope,
    declarations: dict[int, list[tuple[str, str]]],
) -> None:
    if elem.tag is ET.Comment:
        out.append(f"<!--{elem.text or ''}-->")
    elif elem.tag is ET.ProcessingInstruction:
        out.append(f"<?{elem.text or ''}?>")
    else:
        decls = list(declarations.get(id(elem), ()))
        if decls:
            scope = scope.with_declarations(decls)
        attrib = elem.attrib
        tag = scope.lookup(elem.tag, True)
        if not attrib and not decls and tag is not None:  # most elements: <rdf:li>, <rdf:Bag>
            out.append(f"<{tag}")
        else:
            names = [elem.tag, *attrib]
            qualified = [scope.lookup(name, i == 0) for i, name in enumerate(names)]
            if None in qualified:  # a namespace nobody declared yet: declare it here
                scope = _declare_missing(names, scope, decls)
                qualified = [scope.lookup(name, i == 0) for i, name in enumerate(names)]
            tag = qualified[0]
            parts = [f"<{tag}"]
            parts += [f' xmlns:{p}="{_attr(u)}"' if p else f' xmlns="{_attr(u)}"' for p, u in decls]
            parts += [
                f' {name}="{_attr(value)}"'
                for name, value in zip(qualified[1:], attrib.values(), strict=True)
            ]
            out.append("".join(parts))
        if len(elem) or elem.text:
            out.append(">")
            if elem.text:
                out.append(_text(elem.text))
            for child in elem:
                _serialise(child, out, scope, declarations)
            out.append(f"</{tag}>")
        else:
            out.append("/>")
    if elem.tail:
        out.append(_text(elem.tail))


def _declare_missing(names: list[str], scope: _Scope, decls: list[tuple[str, str]]) -> _Scope:
    """Add declarations (to ``decls``) for the namespaces of ``names`` not bound in ``scope``."""
    prefixes = dict(scope.prefixes)
    for i, name in enumerate(names):
        if _Scope(prefixes).lookup(name, i == 0) is not None:
            continue
        uri, _ = _split(name)
        if not uri:
            decls.append(("", ""))
            prefixes[""] = ""
            continue
        base = PREFERRED_PREFIXES.get(uri) or _EXTRA_PREFIXES.get(uri) or "ns"
        prefix, n = base, 1
        while prefix in prefixes:
            prefix, n = f"{base}{n}", n + 1
        decls.append((prefix, uri))
        prefixes[prefix] = uri
    return _Scope(prefixes)


_EXTRA_PREFIXES: dict[str, str] = {}


def register_prefix(uri: str, prefix: str) -> None:
    """The prefix to declare ``uri`` with when a packet does not declare it yet."""
    _EXTRA_PREFIXES[uri] = prefix
