"""The domain-XML corpus check: every <domain> XML of a tree (libvirt's own tests/ data, or the
sample committed in tests/libvirt/libvirt_test_data) is read, written back, given a hostdev (one function,
two functions of one card, and an SR-IOV VF as <interface type='hostdev'>) and has it removed.

What must hold, per domain:
- the round trip is the same document (c14n) and the same bytes up to what libvirt itself
  normalizes (quote characters, <a></a> as <a/>); libvirt's own output (xml2xmlout dirs) comes
  back byte for byte; attribute order, xmlns declarations included, is kept;
- an added element shows in the diff as added lines only, indented like its siblings;
- removing what was added gives back the round-trip bytes exactly;
- a multi-function device goes where libvirt takes it (core.libvirt.guestpci), or is refused
  with a reason; a pcie-root-port is never added to a conventional-PCI guest, nor a pci-bridge
  to a PCIe one.

Used by tests/libvirt/test_corpus.py and scripts/libvirt_corpus.py (prints the counts).
"""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError
from vfio_tui.core.libvirt.guestpci import ENDPOINT_BUSES, GuestPci, machine_family
from vfio_tui.core.libvirt.policy import place_hostdevs
from vfio_tui.core.libvirt.xml import DomainXml, Hostdev, interface_hostdev
from vfio_tui.core.libvirt.xmltext import line_indent

SINGLE = PciAddress(0, 0x0B, 0, 0)
CARD = [PciAddress(0, 0x0A, 0, 0), PciAddress(0, 0x0A, 0, 1)]
VF = PciAddress(0, 0x07, 0x10, 2)
_LEX = re.compile(r"""<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE(?:[^\[>]|\[.*?\])*>|</[^>]*>"""
                  r"""|<([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(/?)>""", re.S)
_ATTR = re.compile(r"""\s+([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass
class Outcome:
    """What happened to one domain XML."""

    path: str
    status: str = "ok"
    """ok, skipped or failed."""
    reason: str = ""
    placement: str = ""
    """Where the two-function card went: port, new pcie-root-port, bus 0, bridge, new pci-bridge, refused."""
    interface_hostdevs: int = 0
    namespaces: int = 0
    edited: dict[str, str] = field(default_factory=dict)
    """The edited XMLs (single, multi, interface) for validation by libvirt."""
    refused: list[str] = field(default_factory=list)
    """Edits the placement refused (no room in the guest): not for libvirt to judge."""

    def fail(self, reason: str) -> Outcome:
        if self.status != "failed":
            self.status, self.reason = "failed", reason
        return self


def body(text: str) -> str:
    """The document without its XML declaration (DomainXml writes none, as virsh dumpxml)."""
    if text.startswith("<?xml"):
        text = text.split("?>", 1)[1].lstrip("\n")
    return text if text.endswith("\n") else text + "\n"


def tokens(text: str) -> list[tuple[object, ...]]:
    """The document as tokens, up to what libvirt normalizes: quote characters (and &apos;/&quot;
    against ' and ") and <a></a> against <a/>. Whitespace, order and everything else count."""
    out: list[tuple[object, ...]] = []
    pos = 0
    for m in _LEX.finditer(text):
        if m.start() > pos:
            out.append(("text", html.unescape(text[pos:m.start()]) if "&" in text[pos:m.start()] else
                        text[pos:m.start()]))
        pos = m.end()
        if m.group(1):
            attrs = tuple((a.group(1), html.unescape(a.group(2) if a.group(2) is not None else a.group(3)))
                          for a in _ATTR.finditer(m.group(2)))
            out.append(("start", m.group(1), attrs))
            if m.group(3):
                out.append(("end",))
        elif m.group(0).startswith("</"):
            out.append(("end",))
        else:
            out.append(("other", m.group(0)))
    if text[pos:].strip():
        out.append(("text", text[pos:]))
    return out


def canonical(text: str) -> bytes:
    return etree.tostring(etree.fromstring(text.encode()), method="c14n")


def is_domain_xml(path: Path) -> bool:
    try:
        return etree.parse(str(path)).getroot().tag == "domain"
    except (etree.XMLSyntaxError, OSError):
        return False


def domain_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.xml")) if is_domain_xml(p)]


def _indent_problem(after: str, element_of: Callable[[etree._Element], etree._Element | None]) -> str:
    """Why the new element in `after` is not laid out like its siblings ("" when it is)."""
    root = etree.fromstring(after.encode())
    el = element_of(root)
    if el is None:
        return "the added element is not in the output"
    indent = line_indent(el)
    if indent is None:
        return ""  # compact XML: nothing to line up
    siblings = [s for s in el.itersiblings(preceding=True) if isinstance(s.tag, str)][:1] or \
               [s for s in el.itersiblings() if isinstance(s.tag, str)][:1]
    if siblings and line_indent(siblings[0]) != indent:
        return f"indented {indent!r}, its sibling {line_indent(siblings[0])!r}"
    parent = el.getparent()
    parent_indent = line_indent(parent) if parent is not None else None
    unit = indent[len(parent_indent):] if parent_indent is not None and indent.startswith(parent_indent) else None
    for depth, node in ((len(list(d.iterancestors())) - len(list(el.iterancestors())), d) for d in el.iterdescendants()):
        if unit is not None and line_indent(node) != indent + unit * depth:
            return f"<{node.tag}> inside is indented {line_indent(node)!r}"
    if len(el) and el[-1].tail != "\n" + indent:
        return f"</{el.tag}> is not at the indentation of <{el.tag}>"
    return ""


def _declares_namespace(el: etree._Element) -> bool:
    parent = el.getparent()
    return el.nsmap != (parent.nsmap if parent is not None else {})


def _only_added(before: str, after: str) -> bool:
    return not any(line.startswith("-") and not line.startswith("---")
                   for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))


def _source_is(address: PciAddress) -> Callable[[etree._Element], etree._Element | None]:
    def find(root: etree._Element) -> etree._Element | None:
        found = DomainXml(etree.tostring(root, encoding="unicode")).find_hostdev(address)
        if found is None:
            return None
        # the same element in `root`: by position among the devices
        devices = root.find("devices")
        assert devices is not None and found.getparent() is not None
        return devices[found.getparent().index(found)]  # type: ignore[union-attr]
    return find


def _placement(layout_new: list[str], bus_model: str, on_new: bool) -> str:
    if on_new:
        return "new " + layout_new[0]
    if bus_model in ("pcie-root-port", "pcie-switch-downstream-port"):
        return "free port"
    if bus_model in ("pci-root",):
        return "bus 0"
    return bus_model


def exercise(path: Path, text: str) -> Outcome:
    """Run every check on one domain XML."""
    out = Outcome(str(path))
    try:
        dom = DomainXml(text)
        rt = dom.to_string()
    except VfioError as exc:
        out.status, out.reason = "skipped", f"not read: {exc}"
        return out
    original = body(text)
    if canonical(rt) != canonical(original):
        return out.fail("round trip changes the document (c14n)")
    if tokens(rt) != tokens(original):
        return out.fail("round trip changes bytes beyond libvirt's quote/empty-element normalization")
    if "xml2xmlout" in path.parent.name and rt != original:
        return out.fail("libvirt's own output does not come back byte for byte")
    out.namespaces = sum(1 for el in dom.root.iter(etree.Element) if _declares_namespace(el))
    try:
        existing = dom.hostdevs()
    except VfioError as exc:
        out.status, out.reason = "skipped", f"its hostdevs are refused (libvirt refuses them too): {exc}"
        return out
    out.interface_hostdevs = sum(1 for h in existing if h.interface)
    taken = {h.address for h in existing}
    if SINGLE in taken or VF in taken or set(CARD) & taken:
        out.status, out.reason = "skipped", "already holds the test addresses"
        return out
    refused = bool(place_hostdevs([SINGLE], domain=dom)[1].problem)
    for label, hostdev in (("single", Hostdev(SINGLE)),
                           ("interface", interface_hostdev(VF, mac="52:54:00:6d:90:02", vlan=42))):
        dom.add_hostdev(hostdev)
        after = dom.to_string()
        if refused:
            out.refused.append(label)  # the text is still checked; libvirt is not asked
        else:
            out.edited[label] = after
        if hostdev.address not in {h.address for h in DomainXml(after).hostdevs()}:
            return out.fail(f"{label}: the added hostdev is not read back")
        if "\n" in rt.split("<devices", 1)[-1][:200] and not _only_added(rt, after):
            return out.fail(f"{label}: the diff removes or changes lines")
        if problem := _indent_problem(after, _source_is(hostdev.address)):
            return out.fail(f"{label}: {problem}")
        if not dom.remove_hostdev(hostdev.address) or dom.to_string() != rt:
            return out.fail(f"{label}: remove does not give back the same bytes")
    return _multifunction(dom, rt, out)


def _multifunction(dom: DomainXml, rt: str, out: Outcome) -> Outcome:
    family = machine_family(dom)
    topo = GuestPci.of(dom)
    used = dom.guest_functions()
    hostdevs, layout = place_hostdevs(CARD, domain=dom)
    if layout.problem:
        out.placement = "refused"
        out.refused.append("multi")
        return out
    new_models = [c.model for c in layout.new_controllers]
    if family == "pci" and "pcie-root-port" in new_models:
        return out.fail("a pcie-root-port for a conventional-PCI guest")
    if family == "pcie" and "pci-bridge" in new_models:
        return out.fail("a pci-bridge for a PCIe guest")
    new_buses = {c.index: c.model for c in layout.new_controllers}
    for h in hostdevs:
        g = h.guest
        assert g is not None
        if (g.bus, g.slot, g.function) in used:
            return out.fail(f"placed on {g}, which a device already uses")
        model = new_buses.get(g.bus) or (topo.buses[g.bus].model if g.bus in topo.buses else "none")
        if model not in ENDPOINT_BUSES:
            return out.fail(f"placed on bus {g.bus}, a {model}, which takes no device")
    first = hostdevs[0].guest
    assert first is not None
    out.placement = _placement(new_models, new_buses.get(first.bus) or topo.buses[first.bus].model,
                               first.bus in new_buses)
    for c in layout.new_controllers:
        dom.add_controller(c)
    for h in hostdevs:
        dom.add_hostdev(h)
    after = dom.to_string()
    out.edited["multi"] = after
    if "\n" in rt.split("<devices", 1)[-1][:200] and not _only_added(rt, after):
        return out.fail("multi: the diff removes or changes lines")
    for h in hostdevs:
        if problem := _indent_problem(after, _source_is(h.address)):
            return out.fail(f"multi: {problem}")
    for h in hostdevs:
        dom.remove_hostdev(h.address)
    for c in reversed(layout.new_controllers):
        dom.remove_controller(c.index)
    if dom.to_string() != rt:
        return out.fail("multi: remove does not give back the same bytes")
    return out


@dataclass
class Summary:
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def lines(self) -> list[str]:
        n = len(self.outcomes)
        lines = [f"domains {n}: ok {self.count('ok')}, skipped {self.count('skipped')},"
                 f" failed {self.count('failed')}"]
        reasons = Counter(o.reason.split(":")[0] for o in self.outcomes if o.status == "skipped")
        lines += [f"  skipped ({k}): {v}" for k, v in reasons.most_common()]
        places = Counter(o.placement for o in self.outcomes if o.placement)
        lines.append("  two-function card placed: " + ", ".join(f"{k} {v}" for k, v in places.most_common()))
        lines.append(f"  domains with <interface type='hostdev'>: {sum(1 for o in self.outcomes if o.interface_hostdevs)}"
                     f"; with namespace declarations: {sum(1 for o in self.outcomes if o.namespaces)}")
        lines += [f"  FAILED {o.path}: {o.reason}" for o in self.outcomes if o.status == "failed"][:20]
        return lines


def run(paths: Iterable[Path]) -> Summary:
    return Summary([exercise(p, p.read_text(encoding="utf-8")) for p in paths])
