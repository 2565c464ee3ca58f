"""Provides the text side of editing a domain in place: libvirt's quoting, the attribute order
the user had, and whitespace that makes a new element look like its siblings.

Why all this: lxml serializes what it parsed, but not byte for byte. It writes attribute values
in double quotes, puts namespace declarations (xmlns:qemu=...) before every ordinary attribute,
and knows nothing about indentation. libvirt formats with single quotes and two spaces per
level (virBufferEscapeString, virXMLFormatElement), except inside <metadata>, which it dumps
with libxml2's own formatter (double quotes; virDomainDefFormatInternal -> xmlNodeDump). A diff
of a one-device change must show that device and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from lxml import etree

#: Indentation libvirt uses when it formats domain XML (two spaces per level).
INDENT: Final = "  "

_LEX: Final = re.compile(
    r"""<!--.*?-->
      | <!\[CDATA\[.*?\]\]>
      | <\?.*?\?>
      | <!DOCTYPE(?:[^\[>]|\[.*?\])*>
      | </[^>]*>
      | <(?P<name>[^\s/>!?]+)(?P<attrs>(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(?P<empty>/?)>
    """, re.S | re.X)
_ATTR: Final = re.compile(r"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")


@dataclass(frozen=True, slots=True)
class StartTag:
    """One start tag as written: its name and its attributes (quotes included) in order."""

    name: str
    attrs: list[tuple[str, str]]
    empty: bool

    def render(self, single_quotes: bool) -> str:
        parts = [f"<{self.name}"]
        for key, value in self.attrs:
            if single_quotes and value.startswith('"'):
                value = "'" + value[1:-1].replace("'", "&apos;") + "'"
            parts.append(f" {key}={value}")
        parts.append("/>" if self.empty else ">")
        return "".join(parts)


def _tokens(text: str) -> Iterator[tuple[int, int, StartTag | str]]:
    """(start, end, StartTag or the token text) of every markup token, in order."""
    for m in _LEX.finditer(text):
        if m.group("name") is not None:
            attrs = [(a.group(1), a.group(2)) for a in _ATTR.finditer(m.group("attrs"))]
            yield m.start(), m.end(), StartTag(m.group("name"), attrs, bool(m.group("empty")))
        else:
            yield m.start(), m.end(), m.group(0)


def start_tags(text: str) -> list[StartTag]:
    """Every start tag of a document, in document order (the order of root.iter(etree.Element))."""
    return [tok for _, _, tok in _tokens(text) if isinstance(tok, StartTag)]


def attribute_orders(text: str, root: etree._Element) -> dict[etree._Element, list[str]]:
    """For each element that declares a namespace, the order its attributes were written in.

    lxml keeps attribute order but writes xmlns declarations first; libvirt keeps them where it
    found them (<domain type='kvm' xmlns:qemu='...'>), so they are put back there on output.
    Returns {} when the text cannot be matched to the tree element for element (a DOCTYPE with
    markup inside, say): then lxml's order stands.
    """
    elements = list(root.iter(etree.Element))
    tags = start_tags(text)
    if len(tags) != len(elements):
        return {}
    orders: dict[etree._Element, list[str]] = {}
    for element, tag in zip(elements, tags, strict=True):
        names = [name for name, _ in tag.attrs]
        if any(n == "xmlns" or n.startswith("xmlns:") for n in names) and len(names) > 1:
            orders[element] = names
    return orders


def libvirt_format(text: str, root: etree._Element | None = None,
                   orders: dict[etree._Element, list[str]] | None = None) -> str:
    """Rewrite lxml's serialization of `root` the way libvirt formats XML.

    Attribute values get single quotes, ' and " in text become &apos; and &quot;; comments,
    CDATA, processing instructions and everything inside <metadata> are left as lxml wrote them
    (libxml2's formatter, which is what libvirt uses there). With `orders` (from
    attribute_orders), elements that declared namespaces get their attributes back in the
    order they were read.
    """
    elements = list(root.iter(etree.Element)) if root is not None and orders else []
    out: list[str] = []
    stack: list[str] = []
    foreign = 0  # depth inside <metadata>
    index = 0
    pos = 0

    def text_part(part: str) -> str:
        return part if foreign else part.replace("'", "&apos;").replace('"', "&quot;")

    for start, end, tok in _tokens(text):
        out.append(text_part(text[pos:start]))
        pos = end
        if isinstance(tok, StartTag):
            element = elements[index] if index < len(elements) else None
            index += 1
            order = orders.get(element) if orders and element is not None else None
            if order:
                rank = {name: i for i, name in enumerate(order)}
                tok = StartTag(tok.name, sorted(tok.attrs, key=lambda a: rank.get(a[0], len(rank))), tok.empty)
            out.append(tok.render(single_quotes=not foreign))
            if not tok.empty:
                stack.append(tok.name)
                if tok.name == "metadata" or foreign:
                    foreign += 1
        elif tok.startswith("</"):
            out.append(tok)
            if stack:
                stack.pop()
                if foreign:
                    foreign -= 1
        else:
            out.append(tok)
    out.append(text_part(text[pos:]))
    return "".join(out)


def libvirt_quotes(text: str) -> str:
    """libvirt_format without a tree: quoting only (kept for callers that have just text)."""
    return libvirt_format(text)


# --- whitespace -------------------------------------------------------------------------------

def whitespace_before(element: etree._Element) -> str | None:
    """The text between the previous node (or the parent's start tag) and `element`."""
    prev = element.getprevious()
    if prev is not None:
        return prev.tail
    parent = element.getparent()
    return parent.text if parent is not None else None


def line_indent(element: etree._Element) -> str | None:
    """The indentation of `element`'s line: the whitespace after the last newline before it,
    or None when it does not start a line (compact XML, or text before it)."""
    ws = whitespace_before(element)
    if ws is None or "\n" not in ws or ws.strip():
        return None
    return ws.rsplit("\n", 1)[1]


def indent_unit(root: etree._Element) -> str:
    """One level of indentation as the document uses it (libvirt: two spaces)."""
    for child in root:
        indent = line_indent(child)
        if indent:
            return indent
        break
    return INDENT


def indent_fresh(element: etree._Element, indent: str | None, unit: str) -> None:
    """Lay out a freshly built element (no text of its own) whose start tag sits at `indent`;
    None keeps it compact, like the document around it."""
    children = list(element)
    if not children:
        return
    if indent is None:
        for child in children:
            indent_fresh(child, None, unit)
        return
    element.text = "\n" + indent + unit
    for child in children:
        indent_fresh(child, indent + unit, unit)
        child.tail = "\n" + indent + unit
    children[-1].tail = "\n" + indent


def insert_child(parent: etree._Element, index: int, element: etree._Element, indent: str | None) -> None:
    """Insert `element` as child number `index` of `parent`, on a line of its own at `indent`
    (None: no whitespace of its own, for compact XML).

    The text that was before the node now at `index` (or before the closing tag) moves after
    the new element, and the gap before it becomes a newline + `indent` (or nothing): exactly
    what remove_keeping_layout undoes.
    """
    before = parent.text if index == 0 else parent[index - 1].tail
    if len(parent) == 0 and indent is not None:
        # an empty parent (<devices/>): its closing tag goes on a line of its own
        element.tail, gap = "\n" + (line_indent(parent) or ""), "\n" + indent
    elif indent is not None and before is not None and "\n" in before and not before.strip():
        element.tail, gap = before, "\n" + indent
    else:
        element.tail, gap = before, None  # not a line of its own there: keep it inline
    if index == 0:
        parent.text = gap
    else:
        parent[index - 1].tail = gap
    parent.insert(index, element)


def remove_keeping_layout(element: etree._Element) -> None:
    """Remove `element` and the line it was on: the whitespace after it takes the place of the
    whitespace before it, which is what insert_after/append_first did the other way round."""
    parent = element.getparent()
    assert parent is not None
    prev = element.getprevious()
    if prev is not None:
        prev.tail = element.tail
    else:
        parent.text = element.tail
    parent.remove(element)
