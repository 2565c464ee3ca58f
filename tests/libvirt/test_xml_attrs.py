"""Numbers and switches in PCI addresses, read as libvirt reads them (virXMLPropUInt ->
virStrToLong_uip = strtoul base 0; virPCIDeviceAddressParseXML), over every form libvirt accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.xml import DomainXml, GuestAddress, Hostdev, hostdev_from_element
from vfio_tui.core.libvirt.xmlattrs import UINT_MAX, read_pci_address, strtoul_uint


def c_forms(value: int) -> st.SearchStrategy[str]:
    """Every spelling of `value` strtoul(base 0) reads back as `value`."""
    spellings = [f"0x{value:x}", f"0X{value:X}", f"0x{value:04x}", str(value), f"0{value:o}"]
    return st.tuples(st.sampled_from(spellings), st.sampled_from(["", " ", "\t", "  "]),
                     st.sampled_from(["", "+"])).map(lambda t: t[1] + t[2] + t[0])


@given(st.integers(0, UINT_MAX).flatmap(lambda v: st.tuples(st.just(v), c_forms(v))))
def test_every_spelling_libvirt_accepts_reads_the_same_number(case: tuple[int, str]) -> None:
    value, text = case
    assert strtoul_uint(text) == value


@pytest.mark.parametrize("text", ["", " ", "-1", "-0", "0x", "0xg", "08", "09", "1 ", "1x", "0x1f ", "+-1",
                                  "4294967296", "0x100000000", "١", "1.0", "1e3", "0b1", "++1"])
def test_what_strtoul_or_libvirt_refuses(text: str) -> None:
    assert strtoul_uint(text) is None


def test_octal_is_octal_as_in_libvirt() -> None:
    # bus='010' is bus 8 to libvirt (C's base 0), not 10 and not an error
    el = etree.fromstring("<address domain='0' bus='010' slot='0x1f' function='07'/>")
    assert read_pci_address(el) == (0, 8, 31, 7)


addresses = st.builds(PciAddress, st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))


@given(addresses, st.data())
@settings(max_examples=300)
def test_host_and_guest_addresses_in_any_accepted_spelling(addr: PciAddress, data: st.DataObject) -> None:
    def spell(v: int) -> str:
        return data.draw(c_forms(v))

    guest = GuestAddress(0, data.draw(st.integers(0, 255)), data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7)))
    xml = (f"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='{spell(addr.domain)}'"
           f" bus='{spell(addr.bus)}' slot='{spell(addr.slot)}' function='{spell(addr.function)}'/></source>"
           f"<address type='pci' domain='{spell(0)}' bus='{spell(guest.bus)}' slot='{spell(guest.slot)}'"
           f" function='{spell(guest.function)}'/></hostdev>")
    h = hostdev_from_element(etree.fromstring(xml))
    assert h.address == addr and h.guest == guest


@pytest.mark.parametrize(("attrs", "message"), [
    ("bus='0x100'", "bus='0x100', must be <= 0xFF"),
    ("slot='0x20'", "slot='0x20', must be <= 0x1F"),
    ("bus='1' function='8'", "function=0x8, must be <= 7"),
    ("bus='x'", "Invalid value for attribute 'bus' in element 'address': 'x'"),
    ("bus='1' multifunction='yes'", "attribute 'multifunction'"),
])
def test_an_address_libvirt_refuses_is_a_clean_error(attrs: str, message: str) -> None:
    el = etree.fromstring(f"<hostdev mode='subsystem' type='pci'><source><address {attrs}/></source></hostdev>")
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        hostdev_from_element(el)


def test_optional_attributes_are_zero_and_the_all_zero_address_is_not_range_checked() -> None:
    # virPCIDeviceAddressIsEmpty: 0000:00:00 skips the bounds (PciAddress still wants function <= 7)
    assert read_pci_address(etree.fromstring("<address bus='3'/>")) == (0, 3, 0, 0)
    assert read_pci_address(etree.fromstring("<address function='9'/>")) == (0, 0, 0, 9)


def test_every_hostdev_variant_is_read_right() -> None:
    dom = DomainXml("""<domain type='kvm'><devices>
      <hostdev mode='subsystem' type='pci' managed='yes'>
        <source writeFiltering='no'><address domain='0x10000' bus='0xe1' slot='0x00' function='0x0'/></source>
        <rom enabled='no'/>
      </hostdev>
      <hostdev type='pci'>
        <driver name='vfio'/>
        <source><address domain='0' bus='2' slot='0' function='1'/></source>
        <rom bar='off' file='/usr/share/roms/x.rom'/>
        <alias name='hostdev1'/>
        <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x1'/>
      </hostdev>
      <hostdev mode='subsystem' type='pci' managed='no'>
        <source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source>
        <rom file=''/>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0' multifunction='on'>
          <zpci uid='0x0001' fid='0x00000000'/>
        </address>
      </hostdev>
      <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
      <hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>
    </devices></domain>""")
    assert dom.hostdevs() == [
        Hostdev(PciAddress(0x10000, 0xE1, 0, 0), managed=True, driver=None, rom_enabled=False),
        Hostdev(PciAddress(0, 2, 0, 1), managed=False, driver="vfio", rom_bar=False, rom_file="/usr/share/roms/x.rom",
                alias="hostdev1", guest=GuestAddress(0, 5, 0, 1)),
        Hostdev(PciAddress(0, 3, 0, 0), managed=False, driver=None, rom_file="",
                guest=GuestAddress(0, 0, 7, 0, multifunction=True)),
    ]


@given(addresses, st.booleans(), st.none() | st.booleans(), st.none() | st.text(max_size=20), st.none() | st.booleans(),
       st.none() | st.builds(GuestAddress, st.just(0), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7),
                             st.booleans()))
def test_every_field_survives_write_then_read(addr: PciAddress, managed: bool, rom: bool | None, rom_file: str | None,
                                              rom_enabled: bool | None, guest: GuestAddress | None) -> None:
    from vfio_tui.core.libvirt.xml import hostdev_to_element

    if rom_file is not None:
        rom_file = "".join(c for c in rom_file if c.isprintable() and c not in "\x00")
    h = Hostdev(addr, managed=managed, rom_bar=rom, rom_file=rom_file, rom_enabled=rom_enabled, guest=guest)
    assert hostdev_from_element(etree.fromstring(etree.tostring(hostdev_to_element(h)))) == h
