"""The XML mapping: generated <hostdev> elements (golden files) and in-place domain edits."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.libvirt import hostdev_xml
from vfio_tui.core.libvirt.xml import DomainXml, GuestAddress, Hostdev, hostdev_from_element, hostdev_to_element

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
    from vfio_tui.core.libvirt import open_hypervisor

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


# --- the issue-20 findings, each on the smallest domain that shows it --------------------------

def test_xmlns_declaration_stays_after_the_attributes_it_followed() -> None:
    text = ("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>ns</name>\n"
            "  <devices>\n  </devices>\n  <qemu:commandline>\n    <qemu:arg value='-S'/>\n  </qemu:commandline>\n"
            "</domain>\n")
    dom = DomainXml(text)
    assert dom.to_string() == text
    dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
    assert dom.to_string().startswith("<domain type='kvm' xmlns:qemu=")


def test_metadata_cache_is_not_metadata() -> None:
    # everything after <metadata_cache> used to keep lxml's double quotes
    text = ("<domain type='kvm'>\n  <name>m</name>\n  <devices>\n    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2'>\n        <metadata_cache>\n"
            "          <max_size unit='bytes'>1234</max_size>\n        </metadata_cache>\n      </driver>\n"
            "      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n</domain>\n")
    assert DomainXml(text).to_string() == text


def test_metadata_keeps_libxml2s_double_quotes_and_nested_metadata_does_not_end_it() -> None:
    text = ("<domain type='kvm'>\n  <name>m</name>\n  <metadata>\n"
            '    <app:x xmlns:app="urn:a" k="v"><metadata a="1"/><metadata>t</metadata><app:y k="w"/></app:x>\n'
            "  </metadata>\n  <devices>\n    <emulator>/bin/true</emulator>\n  </devices>\n</domain>\n")
    assert DomainXml(text).to_string() == text


NO_DEVICES = """<domain type='qemu'>
  <name>nodev</name>
  <os>
    <type>hvm</type>
  </os>
  <seclabel type='none'/>
  <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
    <qemu:arg value='-S'/>
  </qemu:commandline>
</domain>
"""


def test_a_domain_without_devices_gets_them_where_libvirt_puts_them_and_loses_them_again() -> None:
    dom = DomainXml(NO_DEVICES)
    dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
    assert dom.to_string() == NO_DEVICES.replace("  <seclabel", """  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x0b' slot='0x00' function='0x0'/>
      </source>
    </hostdev>
  </devices>
  <seclabel""")
    assert dom.remove_hostdev(PciAddress.parse("0000:0b:00.0"))
    assert dom.to_string() == NO_DEVICES


def test_an_empty_devices_element_is_filled_and_emptied_exactly() -> None:
    for devices in ("<devices/>", "<devices></devices>", "<devices>\n  </devices>"):
        text = f"<domain type='qemu'>\n  <name>e</name>\n  {devices}\n</domain>\n"
        dom = DomainXml(text)
        dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
        assert "\n  <devices>\n    <hostdev mode='subsystem'" in dom.to_string()
        assert "    </hostdev>\n  </devices>\n" in dom.to_string()
        dom.remove_hostdev(PciAddress.parse("0000:0b:00.0"))
        assert dom.to_string() == DomainXml(text).to_string()


def test_new_elements_follow_the_documents_own_indentation() -> None:
    for unit in ("    ", "\t"):
        text = (f"<domain type='qemu'>\n{unit}<name>i</name>\n{unit}<devices>\n{unit * 2}<disk type='file'>\n"
                f"{unit * 3}<target dev='vda'/>\n{unit * 2}</disk>\n{unit}</devices>\n</domain>\n")
        dom = DomainXml(text)
        dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
        out = dom.to_string()
        assert (f"{unit * 2}</disk>\n{unit * 2}<hostdev mode='subsystem' type='pci' managed='yes'>\n"
                f"{unit * 3}<driver name='vfio'/>\n{unit * 3}<source>\n{unit * 4}<address ") in out
        assert f"{unit * 3}</source>\n{unit * 2}</hostdev>\n{unit}</devices>" in out


def test_compact_xml_stays_compact() -> None:
    text = "<domain type='qemu'><name>c</name><devices><disk type='file'/></devices></domain>"
    dom = DomainXml(text)
    dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
    assert dom.to_string().startswith("<domain type='qemu'><name>c</name><devices><disk type='file'/><hostdev ")
    dom.remove_hostdev(PciAddress.parse("0000:0b:00.0"))
    assert dom.to_string() == text + "\n"


def test_a_new_hostdev_goes_where_libvirt_formats_it() -> None:
    # no hostdev yet: after <video>, before <memballoon> (virDomainDefFormatInternal's order),
    # so the diff shows what `virsh dumpxml` shows after the change
    text = ("<domain type='qemu'>\n  <name>o</name>\n  <devices>\n    <video/>\n    <memballoon model='none'/>\n"
            "  </devices>\n</domain>\n")
    dom = DomainXml(text)
    dom.add_hostdev(Hostdev(PciAddress.parse("0000:0b:00.0")))
    out = dom.to_string()
    assert out.index("<video/>") < out.index("<hostdev ") < out.index("<memballoon")


def test_attribute_values_get_libvirts_quoting() -> None:
    text = "<domain type='qemu'>\n  <name>q</name>\n  <description>it's \"quoted\"</description>\n</domain>\n"
    out = DomainXml(text.replace("<name>", "<title x=\"it's\"/>\n  <name>")).to_string()
    assert "<title x='it&apos;s'/>" in out and "<description>it&apos;s &quot;quoted&quot;</description>" in out
