"""Provides the XML mapping: Hostdev <-> lxml <hostdev> element, and DomainXml, a domain
definition edited in place.

Only mapping lives here, no policy: which devices to pass and where they go in the guest
is decided in core.libvirt.policy. Editing keeps every element and attribute this module
does not know about (the round trip is tested), because a user's domain XML carries
things like <qemu:commandline>, metadata from virt-manager and comments.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Final

from lxml import etree

from core.address import PciAddress
from core.errors import InputError

_TOKEN: Final = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<[^>]*>", re.S)
_DQ_ATTR: Final = re.compile(r'(\s[\w:.-]+)="([^"\']*)"')

#: Indentation libvirt uses when it formats domain XML (virXMLFormat: two spaces per level).
INDENT: Final = "  "


@dataclass(frozen=True, slots=True)
class GuestAddress:
    """Where a device sits on the guest's PCI bus (<address type='pci' .../> inside <hostdev>)."""

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0
    multifunction: bool = False
    """multifunction='on' on function 0: tells the guest to probe the other functions of the slot."""

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"


@dataclass(frozen=True, slots=True)
class Hostdev:
    """A PCI <hostdev mode='subsystem' type='pci'> of a domain."""

    address: PciAddress
    """The host device (<source><address .../></source>)."""
    managed: bool = True
    """managed='yes': libvirt detaches the device from its host driver at start and gives it back at stop."""
    driver: str | None = "vfio"
    """<driver name='vfio'/>; None when the element is absent (libvirt then picks VFIO anyway)."""
    rom_bar: bool | None = None
    """<rom bar='on|off'/>; None leaves the element out (QEMU exposes the ROM BAR)."""
    guest: GuestAddress | None = None
    """The guest PCI address; None lets libvirt choose one."""
    alias: str | None = None
    """libvirt's <alias name='hostdev0'/> (live XML only)."""


def _hex(value: str | None, what: str) -> int:
    if value is None:
        return 0
    try:
        return int(value, 0)
    except ValueError:
        raise InputError(f"bad {what} {value!r} in a <hostdev> address") from None


def _pci_address(element: etree._Element) -> tuple[int, int, int, int]:
    return (_hex(element.get("domain"), "domain"), _hex(element.get("bus"), "bus"),
            _hex(element.get("slot"), "slot"), _hex(element.get("function"), "function"))


def is_pci_hostdev(element: etree._Element) -> bool:
    """Whether an element is a PCI <hostdev> (not USB/SCSI/mdev, not a <hostdev> inside <interface>)."""
    return (element.tag == "hostdev" and element.get("mode", "subsystem") == "subsystem"
            and element.get("type") == "pci")


def hostdev_from_element(element: etree._Element) -> Hostdev:
    """Read a PCI <hostdev> element.

    Raises:
        InputError: the element is not a PCI hostdev or has no source address.
    """
    if not is_pci_hostdev(element):
        raise InputError("not a PCI <hostdev mode='subsystem' type='pci'> element")
    src = element.find("source/address")
    if src is None:
        raise InputError("<hostdev> without <source><address/></source>")
    address = PciAddress(*_pci_address(src))
    drv = element.find("driver")
    rom = element.find("rom")
    rom_bar = None if rom is None or rom.get("bar") is None else rom.get("bar") == "on"
    guest = None
    gaddr = element.find("address")
    if gaddr is not None and gaddr.get("type", "pci") == "pci":
        d, b, s, f = _pci_address(gaddr)
        guest = GuestAddress(d, b, s, f, multifunction=gaddr.get("multifunction") == "on")
    alias = element.find("alias")
    return Hostdev(
        address=address,
        managed=element.get("managed", "no") == "yes",
        driver=drv.get("name") if drv is not None else None,
        rom_bar=rom_bar,
        guest=guest,
        alias=alias.get("name") if alias is not None else None,
    )


def hostdev_to_element(hostdev: Hostdev) -> etree._Element:
    """Build the <hostdev> element libvirt documents (formatdomain.html#pci-devices), child order as
    libvirt formats it: driver, source, rom, address."""
    el = etree.Element("hostdev", mode="subsystem", type="pci", managed="yes" if hostdev.managed else "no")
    if hostdev.driver is not None:
        etree.SubElement(el, "driver", name=hostdev.driver)
    src = etree.SubElement(el, "source")
    a = hostdev.address
    etree.SubElement(src, "address", domain=f"0x{a.domain:04x}", bus=f"0x{a.bus:02x}",
                     slot=f"0x{a.slot:02x}", function=f"0x{a.function:x}")
    if hostdev.rom_bar is not None:
        etree.SubElement(el, "rom", bar="on" if hostdev.rom_bar else "off")
    if hostdev.guest is not None:
        g = hostdev.guest
        attrs = {"type": "pci", "domain": f"0x{g.domain:04x}", "bus": f"0x{g.bus:02x}",
                 "slot": f"0x{g.slot:02x}", "function": f"0x{g.function:x}"}
        if g.multifunction:
            attrs["multifunction"] = "on"
        etree.SubElement(el, "address", attrs)
    return el


def libvirt_quotes(text: str) -> str:
    """Quote the way libvirt formats XML (virBufferEscapeString): attribute values in single
    quotes, and ' and " in text as &apos; and &quot; (lxml writes double quotes and bare
    apostrophes). Comments, CDATA and processing instructions are left alone, and so is the
    inside of <metadata>, which libvirt dumps with libxml2's own formatter (double quotes)."""
    out: list[str] = []
    pos = 0
    foreign = 0

    def text_part(part: str) -> str:
        return part if foreign else part.replace("'", "&apos;").replace('"', "&quot;")

    for m in _TOKEN.finditer(text):
        out.append(text_part(text[pos:m.start()]))
        token = m.group(0)
        if token == "</metadata>":
            foreign = 0
        if token.startswith(("<!", "<?")) or foreign:
            out.append(token)
        else:
            out.append(_DQ_ATTR.sub(r"\1='\2'", token))
        if token.startswith("<metadata") and not token.endswith("/>"):
            foreign = 1
        pos = m.end()
    out.append(text_part(text[pos:]))
    return "".join(out)


def _indent(element: etree._Element, level: int) -> None:
    """Indent a fresh element the way libvirt does, so a diff shows only the new lines."""
    etree.indent(element, space=INDENT, level=level)


def element_text(element: etree._Element, level: int = 0) -> str:
    """Serialize one element with libvirt's indentation (no XML declaration)."""
    copy = etree.fromstring(etree.tostring(element))
    _indent(copy, 0)
    text = libvirt_quotes(etree.tostring(copy, encoding="unicode"))
    if level:
        text = "\n".join(INDENT * level + line for line in text.splitlines())
    return text + "\n"


def hostdev_text(hostdev: Hostdev) -> str:
    """The <hostdev> element as text, ready for `virsh attach-device`."""
    return element_text(hostdev_to_element(hostdev))


class DomainXml:
    """A domain definition, parsed with lxml and edited in place.

    Everything not touched by an edit (unknown elements, namespaced metadata, comments,
    attribute order) is serialized back as it was read.
    """

    def __init__(self, text: str) -> None:
        parser = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
        try:
            self.root = etree.fromstring(text.encode(), parser)
        except etree.XMLSyntaxError as exc:
            raise InputError(f"domain XML does not parse: {exc}") from None
        if self.root.tag != "domain":
            raise InputError(f"not a domain definition: the root element is <{self.root.tag}>")

    @property
    def name(self) -> str:
        return (self.root.findtext("name") or "").strip()

    @property
    def machine(self) -> str:
        """The machine type (pc-q35-7.2, q35, pc-i440fx-7.2, ...); "" when unset."""
        el = self.root.find("os/type")
        return (el.get("machine") or "") if el is not None else ""

    @property
    def devices(self) -> etree._Element:
        """The <devices> element (created when the domain has none)."""
        devices = self.root.find("devices")
        if devices is None:
            devices = etree.SubElement(self.root, "devices")
            devices.text = "\n" + INDENT * 2
            devices.tail = "\n"
        return devices

    def hostdev_elements(self) -> list[etree._Element]:
        devices = self.root.find("devices")
        return [] if devices is None else [el for el in devices if is_pci_hostdev(el)]

    def hostdevs(self) -> list[Hostdev]:
        """The domain's PCI hostdevs, in document order."""
        return [hostdev_from_element(el) for el in self.hostdev_elements()]

    def find_hostdev(self, address: PciAddress) -> etree._Element | None:
        for el in self.hostdev_elements():
            src = el.find("source/address")
            if src is not None and PciAddress(*_pci_address(src)) == address:
                return el
        return None

    def used_guest_slots(self) -> set[tuple[int, int]]:
        """(bus, slot) pairs that some device of the domain occupies on the guest's PCI buses."""
        used: set[tuple[int, int]] = set()
        for el in self.root.iter("address"):
            parent = el.getparent()
            if el.get("type") == "pci" and parent is not None and parent.tag != "source":
                _, bus, slot, _ = _pci_address(el)
                used.add((bus, slot))
        return used

    def pci_controllers(self) -> list[tuple[int, str]]:
        """(index, model) of every <controller type='pci'>."""
        out = []
        for el in self.root.iterfind("devices/controller"):
            if el.get("type") == "pci":
                out.append((int(el.get("index", "0")), el.get("model", "")))
        return out

    def _append_device(self, element: etree._Element) -> None:
        """Append after the last device of the same kind (or at the end), indented like its siblings."""
        devices = self.devices
        _indent(element, 2)
        children = list(devices)
        same = [c for c in children if c.tag == element.tag]
        anchor = same[-1] if same else (children[-1] if children else None)
        if anchor is None:
            devices.text = "\n" + INDENT * 2
            element.tail = "\n" + INDENT
            devices.append(element)
            return
        # The anchor's tail holds the whitespace before the next sibling (or before </devices>).
        element.tail = anchor.tail
        anchor.tail = "\n" + INDENT * 2
        anchor.addnext(element)

    def add_hostdev(self, hostdev: Hostdev) -> None:
        self._append_device(hostdev_to_element(hostdev))

    def add_pci_root_port(self, index: int) -> None:
        """Add a <controller type='pci' model='pcie-root-port' index=N/> (libvirt gives it an address)."""
        el = etree.Element("controller", type="pci", index=str(index), model="pcie-root-port")
        self._append_device(el)

    def remove_hostdev(self, address: PciAddress) -> bool:
        """Remove the hostdev of `address`; False when the domain has none."""
        el = self.find_hostdev(address)
        if el is None:
            return False
        parent = el.getparent()
        assert parent is not None
        prev = el.getprevious()
        # Give the removed element's trailing whitespace to whatever came before it.
        if prev is not None:
            prev.tail = el.tail
        else:
            parent.text = el.tail
        parent.remove(el)
        return True

    def to_string(self) -> str:
        return libvirt_quotes(etree.tostring(self.root, encoding="unicode")) + "\n"


def print_diff(before: str, after: str) -> str:
    """A unified diff of two domain XMLs, labelled like `virt-xml --print-diff`."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile="Original XML", tofile="Altered XML"))
