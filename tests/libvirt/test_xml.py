"""The XML mapping: generated <hostdev> elements (golden files) and in-place domain edits."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from core.address import PciAddress
from core.libvirt import hostdev_xml
from core.libvirt.xml import DomainXml, GuestAddress, Hostdev, hostdev_from_element, hostdev_to_element

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def test_seed_hostdev_is_generated_exactly() -> None:
    assert hostdev_xml(["0000:0b:00.0"]) == golden("hostdev-0b00-managed.xml")
    assert hostdev_xml(["0b:00.0"], managed=False) == golden("hostdev-0b00-unmanaged.xml")


def test_multifunction_gpu_keeps_function_numbers_on_one_guest_slot() -> None:
    text = hostdev_xml(["0000:0a:00.0", "0000:0a:00.1"], rom_bar=False, guest_slot=(5, 0))
    assert text == golden("hostdev-gpu-all-functions.xml")


def canonical(text: str) -> bytes:
    return etree.tostring(etree.fromstring(text.encode()), method="c14n")


def test_domain_round_trip_keeps_unknown_elements() -> None:
    text = golden("domain-roundtrip.xml")
    assert canonical(DomainXml(text).to_string()) == canonical(text)


def test_libvirt_formatted_domain_round_trips_byte_for_byte() -> None:
    # libvirt's own formatting (single quotes, two-space indent): the diff must show only real changes.
    from core.libvirt import open_hypervisor

    with open_hypervisor(None, demo=True) as hv:
        for name in ("vfio_test", "router", "win10"):
            text = hv.xml(name, inactive=True)
            assert DomainXml(text).to_string() == text


def test_add_then_remove_restores_the_domain_exactly() -> None:
    text = golden("domain-roundtrip.xml")
    dom = DomainXml(text)
    dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
    edited = dom.to_string()
    assert "qemu:commandline" in edited and "futuredevice" in edited and "a comment the user wrote" in edited
    assert [str(h.address) for h in dom.hostdevs()] == ["0000:02:00.0", "0000:0b:00.0"]
    # the new element sits right after the existing hostdevs, indented like them
    assert "    </hostdev>\n    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <driver name='vfio'/>" in edited
    assert dom.remove_hostdev(PciAddress.parse("0000:0b:00.0"))
    assert dom.to_string() == DomainXml(text).to_string()
    assert canonical(dom.to_string()) == canonical(text)


def test_existing_hostdev_is_read_with_all_its_fields() -> None:
    dom = DomainXml(golden("domain-roundtrip.xml"))
    (h,) = dom.hostdevs()  # the USB hostdev is not a PCI one
    assert h == Hostdev(PciAddress.parse("0000:02:00.0"), managed=False, driver="vfio", rom_bar=True,
                        guest=GuestAddress(0, 0, 4, 0), rom_file="/usr/share/roms/nic.rom")


def test_remove_of_absent_hostdev_changes_nothing() -> None:
    text = golden("domain-roundtrip.xml")
    dom = DomainXml(text)
    assert not dom.remove_hostdev(PciAddress.parse("0000:0b:00.0"))
    assert canonical(dom.to_string()) == canonical(text)


addresses = st.builds(PciAddress, st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))
guests = st.none() | st.builds(GuestAddress, st.just(0), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7),
                               st.booleans())


@given(addresses, st.booleans(), st.none() | st.booleans(), guests)
def test_hostdev_element_round_trip(addr: PciAddress, managed: bool, rom: bool | None, guest: GuestAddress | None) -> None:
    h = Hostdev(addr, managed=managed, rom_bar=rom, guest=guest)
    el = hostdev_to_element(h)
    assert hostdev_from_element(etree.fromstring(etree.tostring(el))) == h
