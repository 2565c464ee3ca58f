"""Provides the XML mapping: DomainXml, a domain definition edited in place, and the text of
single device elements (the Hostdev <-> element mapping itself is in core.libvirt.devicexml,
re-exported here).

Only mapping lives here, no policy: which devices to pass and where they go in the guest
is decided in core.libvirt.policy. Editing keeps every element and attribute this module
does not know about (the round trip is tested on libvirt's own test data), because a user's
domain XML carries things like <qemu:commandline>, metadata from virt-manager and comments.
"""

from __future__ import annotations

import difflib
from typing import Final

from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.devicexml import (
    GuestAddress,
    Hostdev,
    PciController,
    controller_to_element,
    hostdev_from_element,
    hostdev_to_element,
    interface_hostdev,
    interface_hostdev_node,
    is_passthrough,
    is_pci_hostdev,
    is_pci_interface,
)
from vfio_tui.core.libvirt.xmlattrs import read_uint_or_none, try_pci_address
from vfio_tui.core.libvirt.xmltext import (
    INDENT,
    attribute_orders,
    indent_fresh,
    indent_unit,
    insert_child,
    libvirt_format,
    libvirt_quotes,
    line_indent,
    remove_keeping_layout,
)

__all__ = ["INDENT", "DomainXml", "GuestAddress", "Hostdev", "PciController", "controller_to_element",
           "element_text", "hostdev_from_element", "hostdev_text", "hostdev_to_element", "interface_hostdev",
           "is_passthrough", "is_pci_hostdev", "is_pci_interface", "libvirt_quotes", "print_diff"]

#: The order libvirt formats devices in (virDomainDefFormatInternal): a new element goes after
#: the last device of its kind, or where libvirt would put the first one, so that the XML libvirt
#: gives back after the change is the one the diff showed.
DEVICE_ORDER: Final = (
    "emulator", "disk", "controller", "lease", "filesystem", "interface", "smartcard", "serial", "parallel",
    "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video", "hostdev", "redirdev",
    "redirfilter", "hub", "watchdog", "memballoon", "rng", "nvram", "panic", "shmem", "memory", "iommu", "vsock")
#: What libvirt formats after </devices>: a new <devices> goes before the first of these.
_AFTER_DEVICES: Final = ("seclabel", "keywrap", "launchSecurity")


def element_text(element: etree._Element, level: int = 0) -> str:
    """Serialize one element with libvirt's indentation (no XML declaration)."""
    copy = etree.fromstring(etree.tostring(element))
    etree.indent(copy, space=INDENT)
    text = libvirt_quotes(etree.tostring(copy, encoding="unicode"))
    if level:
        text = "\n".join(INDENT * level + line for line in text.splitlines())
    return text + "\n"


def hostdev_text(hostdev: Hostdev) -> str:
    """The element as text, ready for `virsh attach-device`."""
    return element_text(hostdev_to_element(hostdev))


def _sibling_indent(children: list[etree._Element], index: int) -> str | None:
    """The indentation for a node inserted at `index` among `children`: that of its neighbours
    (the one before, else the one after, else any), None when they do not start lines."""
    order = [index - 1, index, *range(len(children))]
    for i in order:
        if 0 <= i < len(children) and (indent := line_indent(children[i])) is not None:
            return indent
    return None


def _kind_rank(tag: object) -> int | None:
    return DEVICE_ORDER.index(tag) if isinstance(tag, str) and tag in DEVICE_ORDER else None


class DomainXml:
    """A domain definition, parsed with lxml and edited in place.

    Everything not touched by an edit (unknown elements, namespaced metadata, comments,
    attribute order, indentation) is serialized back as it was read; an edit undone (remove
    what was added) gives back the same bytes.
    """

    def __init__(self, text: str) -> None:
        parser = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
        try:
            self.root = etree.fromstring(text.encode(), parser)
        except (etree.XMLSyntaxError, UnicodeError, ValueError) as exc:
            raise InputError(f"domain XML does not parse: {exc}") from None
        if self.root.tag != "domain":
            raise InputError(f"not a domain definition: the root element is <{self.root.tag}>")
        self._orders = attribute_orders(text, self.root)
        self._created_devices: etree._Element | None = None
        self._empty_text: dict[etree._Element, str | None] = {}

    @property
    def name(self) -> str:
        return (self.root.findtext("name") or "").strip()

    @property
    def machine(self) -> str:
        """The machine type (pc-q35-7.2, q35, pc-i440fx-7.2, ...); "" when unset."""
        el = self.root.find("os/type")
        return (el.get("machine") or "") if el is not None else ""

    @property
    def arch(self) -> str:
        el = self.root.find("os/type")
        return (el.get("arch") or "") if el is not None else ""

    @property
    def devices(self) -> etree._Element:
        """The <devices> element (created, where libvirt puts it, when the domain has none)."""
        devices = self.root.find("devices")
        if devices is None:
            devices = etree.Element("devices")
            children = list(self.root)
            index = next((i for i, c in enumerate(children) if c.tag in _AFTER_DEVICES
                          or (isinstance(c.tag, str) and c.tag.startswith("{"))), len(children))
            indent = _sibling_indent(children, index) if children else INDENT
            insert_child(self.root, index, devices, indent)
            self._created_devices = devices
        return devices

    def hostdev_elements(self) -> list[etree._Element]:
        """<hostdev> and <interface> elements of PCI devices, in document order."""
        devices = self.root.find("devices")
        return [] if devices is None else [el for el in devices if is_passthrough(el)]

    def hostdevs(self) -> list[Hostdev]:
        """The domain's PCI hostdevs (<interface type='hostdev'> included), in document order."""
        return [hostdev_from_element(el) for el in self.hostdev_elements()]

    def find_hostdev(self, address: PciAddress) -> etree._Element | None:
        """The element that passes `address`: a <hostdev>, or the whole <interface> of a VF."""
        for el in self.hostdev_elements():
            node = interface_hostdev_node(el) if el.tag == "interface" else el
            src = node.find("source/address") if node is not None else None
            if src is not None and (a := try_pci_address(src)) is not None and PciAddress(*a) == address:
                return el
        return None

    def used_guest_slots(self) -> set[tuple[int, int]]:
        """(bus, slot) pairs that some device of the domain occupies on the guest's PCI buses."""
        return {(bus, slot) for bus, slot, _ in self.guest_functions()}

    def guest_functions(self) -> set[tuple[int, int, int]]:
        """(bus, slot, function) of every explicit guest PCI address (host addresses, which sit
        inside a <source>, are not guest addresses)."""
        used: set[tuple[int, int, int]] = set()
        for el in self.root.iter("address"):
            parent = el.getparent()
            if el.get("type") == "pci" and parent is not None and parent.tag != "source":
                a = try_pci_address(el)
                if a is not None:
                    used.add((a[1], a[2], a[3]))
        return used

    def pci_controllers(self) -> list[tuple[int, str]]:
        """(index, model) of every <controller type='pci'> (model "" when unset)."""
        out = []
        for el in self.root.iterfind("devices/controller"):
            index = read_uint_or_none(el, "index", base=10)
            if el.get("type") == "pci" and index is not None:
                out.append((index, el.get("model", "")))
        return out

    def _insert_device(self, element: etree._Element) -> None:
        """Insert after the last device of the same kind (libvirt appends to its list of that
        kind), else where libvirt formats the first one; indented like its siblings."""
        devices = self.devices
        children = list(devices)
        rank = _kind_rank(element.tag)
        same = [i for i, c in enumerate(children) if c.tag == element.tag]
        if same:
            index = same[-1] + 1
        elif rank is not None:
            earlier = [i for i, c in enumerate(children) if (r := _kind_rank(c.tag)) is not None and r <= rank]
            index = earlier[-1] + 1 if earlier else 0
        else:
            index = len(children)
        unit = indent_unit(self.root)
        own = line_indent(devices)
        if children:
            indent = _sibling_indent(children, index)
            if indent and own is not None and indent.startswith(own) and len(indent) > len(own):
                unit = indent[len(own):]  # the step this document uses below <devices>
        else:
            indent = None if own is None else own + unit
            self._empty_text.setdefault(devices, devices.text)
        indent_fresh(element, indent, unit)
        insert_child(devices, index, element, indent)

    def add_hostdev(self, hostdev: Hostdev) -> None:
        self._insert_device(hostdev_to_element(hostdev))

    def add_controller(self, controller: PciController) -> None:
        """Add a <controller type='pci'> after the last controller: where libvirt itself appends a
        controller whose index is above all others (virDomainControllerInsertPreAlloced)."""
        self._insert_device(controller_to_element(controller))

    def add_pci_root_port(self, index: int) -> None:
        """Add a <controller type='pci' model='pcie-root-port' index=N/> (libvirt gives it an address)."""
        self.add_controller(PciController(index, "pcie-root-port"))

    def _remove(self, element: etree._Element) -> None:
        parent = element.getparent()
        assert parent is not None
        remove_keeping_layout(element)
        if len(parent) == 0:
            if parent is self._created_devices:
                remove_keeping_layout(parent)
                self._created_devices = None
                self._empty_text.pop(parent, None)
            elif parent in self._empty_text:
                parent.text = self._empty_text.pop(parent)

    def remove_hostdev(self, address: PciAddress) -> bool:
        """Remove the <hostdev> (or the <interface>) of `address`; False when the domain has none."""
        el = self.find_hostdev(address)
        if el is None:
            return False
        self._remove(el)
        return True

    def remove_controller(self, index: int) -> bool:
        """Remove the <controller type='pci' index=N> (one this tool added and nothing uses).

        Raises:
            InputError: a device still sits on its bus.
        """
        for el in self.root.iterfind("devices/controller"):
            if el.get("type") == "pci" and read_uint_or_none(el, "index", base=10) == index:
                if any(bus == index for bus, _ in self.used_guest_slots()):
                    raise InputError(f"PCI controller {index} still has devices on its bus")
                self._remove(el)
                return True
        return False

    def to_string(self) -> str:
        return libvirt_format(etree.tostring(self.root, encoding="unicode"), self.root, self._orders) + "\n"


def print_diff(before: str, after: str) -> str:
    """A unified diff of two domain XMLs, labelled like `virt-xml --print-diff`."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile="Original XML", tofile="Altered XML"))
