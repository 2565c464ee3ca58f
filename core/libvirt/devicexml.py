"""Provides the device elements of a domain: Hostdev <-> <hostdev mode='subsystem' type='pci'> or
<interface type='hostdev'>, and PciController -> <controller type='pci'>.

A PCI device reaches a guest through libvirt in two shapes, and both are hostdevs to libvirt:
<hostdev mode='subsystem' type='pci'>, and <interface type='hostdev'> (an SR-IOV NIC VF whose
MAC and VLAN libvirt sets on the PF first). virDomainNetDefParseXML parses the interface's
<source><address type='pci'/> with the same virDomainHostdevDefParseXMLSubsys, and
virDomainDefParseXML inserts that hostdev into def->hostdevs, so virHostdevPreparePCIDevices
claims it at start like any other (src/conf/domain_conf.c, src/hypervisor/virhostdev.c). Owners,
the guard and detach must see it too. In status XML an <interface type='network'> from a
hostdev network carries it as <actual type='hostdev'>.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.xmlattrs import read_pci_address, read_switch, read_uint, read_yes_no


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
    """A PCI device passed to a domain: <hostdev mode='subsystem' type='pci'>, or (interface=True)
    <interface type='hostdev'>."""

    address: PciAddress
    """The host device (<source><address .../></source>)."""
    managed: bool = True
    """managed='yes': libvirt detaches the device from its host driver at start and gives it back at stop."""
    driver: str | None = "vfio"
    """<driver name='vfio'/>; None when the element is absent (libvirt then picks VFIO anyway)."""
    rom_bar: bool | None = None
    """<rom bar='on|off'/>; None leaves the attribute out (QEMU exposes the ROM BAR)."""
    guest: GuestAddress | None = None
    """The guest PCI address; None lets libvirt choose one."""
    alias: str | None = None
    """libvirt's <alias name='hostdev0'/> (live XML only)."""
    interface: bool = False
    """<interface type='hostdev'>: a NIC VF whose MAC/VLAN libvirt programs through the PF."""
    mac: str | None = None
    """<mac address=.../> of an interface hostdev (None: libvirt generates one)."""
    vlan: tuple[int, ...] = ()
    """<vlan><tag id=.../></vlan> of an interface hostdev; SR-IOV VFs take exactly one."""
    network: str | None = None
    """The libvirt network an <interface type='network'> took this VF from (status XML)."""
    rom_file: str | None = None
    """<rom file=.../>; "" means no ROM at all."""
    rom_enabled: bool | None = None
    """<rom enabled='yes|no'/>."""

    @property
    def element_name(self) -> str:
        """What libvirt calls it in messages: <hostdev> or <interface type='hostdev'>."""
        return "<interface type='hostdev'>" if self.interface else "<hostdev>"


@dataclass(frozen=True, slots=True)
class PciController:
    """A <controller type='pci'> to add: its index is the bus number devices behind it use."""

    index: int
    model: str
    """pcie-root-port, pci-bridge, ..."""
    address: GuestAddress | None = None
    """Where it plugs in; None lets libvirt choose (it aggregates root ports into one slot)."""


def is_pci_hostdev(element: etree._Element) -> bool:
    """Whether an element is a PCI <hostdev> (not USB/SCSI/mdev)."""
    return (element.tag == "hostdev" and element.get("mode", "subsystem") == "subsystem"
            and element.get("type") == "pci")


def interface_hostdev_node(element: etree._Element) -> etree._Element | None:
    """The node holding an interface's hostdev (managed, driver, source): the <interface> itself
    for type='hostdev', its <actual type='hostdev'> for a network-allocated VF; None otherwise."""
    if element.tag != "interface":
        return None
    if element.get("type") == "hostdev":
        return element
    actual = element.find("actual")
    if element.get("type") == "network" and actual is not None and actual.get("type") == "hostdev":
        return actual
    return None


def is_pci_interface(element: etree._Element) -> bool:
    """Whether an element is an <interface> backed by a PCI hostdev (source address type='pci';
    libvirt takes a <source><vendor> without a type for USB)."""
    node = interface_hostdev_node(element)
    if node is None:
        return False
    src = node.find("source/address")
    return src is not None and src.get("type") == "pci"


def is_passthrough(element: etree._Element) -> bool:
    """A PCI <hostdev> or an <interface> backed by one."""
    return is_pci_hostdev(element) or is_pci_interface(element)


def _guest_address(element: etree._Element) -> GuestAddress | None:
    gaddr = element.find("address")
    if gaddr is None:
        return None
    kind = gaddr.get("type")
    if kind is None:
        raise InputError("No type specified for device address")  # virDomainDeviceAddressParseXML
    if kind != "pci":
        return None
    d, b, s, f = read_pci_address(gaddr)
    return GuestAddress(d, b, s, f, multifunction=read_switch(gaddr, "multifunction") is True)


def hostdev_from_element(element: etree._Element) -> Hostdev:
    """Read a PCI <hostdev> or <interface type='hostdev'> element as libvirt does.

    Raises:
        InputError: not such an element, no source address, or a value libvirt refuses.
    """
    interface = element.tag == "interface"
    node = interface_hostdev_node(element) if interface else element
    if node is None or not is_passthrough(element):
        raise InputError("not a PCI <hostdev mode='subsystem' type='pci'> or <interface type='hostdev'> element")
    src = node.find("source/address")
    if src is None:
        raise InputError("<hostdev> without <source><address/></source>")
    address = PciAddress(*read_pci_address(src))
    drv = node.find("driver")
    rom = element.find("rom")
    rom_bar = rom_file = rom_enabled = None
    if rom is not None:
        rom_bar, rom_file, rom_enabled = read_switch(rom, "bar"), rom.get("file"), read_yes_no(rom, "enabled")
    alias = element.find("alias")
    mac = element.find("mac") if interface else None
    tags = element.findall("vlan/tag") if interface else []
    net_src = element.find("source") if interface and node is not element else None
    return Hostdev(
        address=address,
        managed=node.get("managed") == "yes",
        driver=drv.get("name") if drv is not None else None,
        rom_bar=rom_bar,
        guest=_guest_address(element),
        alias=alias.get("name") if alias is not None else None,
        interface=interface,
        mac=mac.get("address") if mac is not None else None,
        vlan=tuple(read_uint(t, "id", base=10) for t in tags),
        network=net_src.get("network") if net_src is not None else None,
        rom_file=rom_file,
        rom_enabled=rom_enabled,
    )


def _pci_attrs(a: PciAddress | GuestAddress, typed: bool) -> dict[str, str]:
    attrs = {"type": "pci"} if typed else {}
    attrs.update(domain=f"0x{a.domain:04x}", bus=f"0x{a.bus:02x}", slot=f"0x{a.slot:02x}",
                 function=f"0x{a.function:x}")
    if isinstance(a, GuestAddress) and a.multifunction:
        attrs["multifunction"] = "on"
    return attrs


def hostdev_to_element(hostdev: Hostdev) -> etree._Element:
    """Build the element libvirt documents (formatdomain.html#pci-devices, #interface-types), child
    order as libvirt formats it (virDomainHostdevDefFormat, virDomainNetDefFormat)."""
    h = hostdev
    if h.interface:
        el = etree.Element("interface", type="hostdev")
        if h.managed:
            el.set("managed", "yes")  # libvirt writes only managed='yes' on an interface
        if h.mac is not None:
            etree.SubElement(el, "mac", address=h.mac)
    else:
        el = etree.Element("hostdev", mode="subsystem", type="pci", managed="yes" if h.managed else "no")
    if h.driver is not None:
        etree.SubElement(el, "driver", name=h.driver)
    src = etree.SubElement(el, "source")
    etree.SubElement(src, "address", _pci_attrs(h.address, typed=h.interface))
    if h.interface and h.vlan:
        vlan = etree.SubElement(el, "vlan", {"trunk": "yes"} if len(h.vlan) > 1 else {})
        for tag in h.vlan:
            etree.SubElement(vlan, "tag", id=str(tag))
    if h.rom_bar is not None or h.rom_file is not None or h.rom_enabled is not None:
        rom = etree.SubElement(el, "rom")
        if h.rom_enabled is not None:
            rom.set("enabled", "yes" if h.rom_enabled else "no")
        if h.rom_bar is not None:
            rom.set("bar", "on" if h.rom_bar else "off")
        if h.rom_file is not None:
            rom.set("file", h.rom_file)
    if h.guest is not None:
        etree.SubElement(el, "address", _pci_attrs(h.guest, typed=True))
    return el


def interface_hostdev(address: PciAddress, *, mac: str | None = None, vlan: int | None = None,
                      managed: bool = True, driver: str | None = "vfio",
                      guest: GuestAddress | None = None) -> Hostdev:
    """An <interface type='hostdev'> for a NIC VF: libvirt sets `mac` (and the `vlan` tag) on the VF
    through its PF before the guest sees it (virHostdevNetConfigReplace)."""
    return Hostdev(address, managed=managed, driver=driver, guest=guest, interface=True, mac=mac,
                   vlan=(vlan,) if vlan is not None else ())


def controller_to_element(controller: PciController) -> etree._Element:
    el = etree.Element("controller", type="pci", index=str(controller.index), model=controller.model)
    if controller.address is not None:
        etree.SubElement(el, "address", _pci_attrs(controller.address, typed=True))
    return el
