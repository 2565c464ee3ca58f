"""<interface type='hostdev'> (an SR-IOV VF given as a NIC) is a hostdev to libvirt, so it is one
to vfio-tui: read, owned, found, removed as a whole, and built the way libvirt formats it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.libvirt.connection import Hypervisor, open_hypervisor
from vfio_tui.core.libvirt.usage import domain_uses
from vfio_tui.core.libvirt.xml import DomainXml, Hostdev, element_text, hostdev_text, interface_hostdev

A = PciAddress.parse
HERE = Path(__file__).resolve().parent
CORPUS = HERE / "libvirt_test_data"
#: What libvirt's own test data passes as <interface type='hostdev'>, by file.
INTERFACE_VFS = {
    "qemuxml2xmloutdata/net-hostdev.xml": ["0000:03:07.1"],
    "qemuxml2xmloutdata/net-hostdev-vfio.xml": ["0000:06:12.1"],
    "qemuxml2xmloutdata/net-hostdev-bootorder.xml": ["0000:03:07.1"],
    "qemuxml2xmloutdata/net-virtio-teaming.xml": ["0000:03:07.1", "0000:03:07.2"],
    "qemuxml2argvdata/net-hostdev-vfio-multidomain.xml": ["0021:de:1f.1"],
    "qemuxml2argvdata/pseries-hostdevs-1.xml": ["0005:90:01.0"],
    "qemuxml2xmloutdata/pseries-hostdevs-1.ppc64-latest.xml": ["0005:90:01.0"],
}


@pytest.fixture
def hv() -> Iterator[Hypervisor]:
    with open_hypervisor("test:///default") as conn:
        yield conn


def test_libvirts_interface_hostdevs_are_read_as_hostdevs() -> None:
    for name, vfs in INTERFACE_VFS.items():
        dom = DomainXml((CORPUS / name).read_text())
        interfaces = [h for h in dom.hostdevs() if h.interface]
        assert [str(h.address) for h in interfaces] == vfs, name
        assert all(h.managed for h in interfaces), name
    vf = next(h for h in DomainXml((CORPUS / "qemuxml2xmloutdata/net-hostdev-vfio.xml").read_text()).hostdevs()
              if h.interface)
    assert (vf.mac, vf.vlan, vf.driver, vf.guest is not None) == ("00:11:22:33:44:55", (42,), "vfio", True)


def test_owners_and_the_guard_see_the_vf_in_a_defined_domain(hv: Hypervisor) -> None:
    # each domain under its own name (several of libvirt's test domains are all "QEMUGuest1")
    for name in INTERFACE_VFS:
        root = etree.fromstring((CORPUS / name).read_bytes())
        root.find("name").text = Path(name).stem  # type: ignore[union-attr]
        uuid = root.find("uuid")
        if uuid is not None:
            root.remove(uuid)
        hv.define(etree.tostring(root, encoding="unicode"))
    owners = {str(a): sorted(i.name for i in infos) for a, infos in hv.hostdev_owners().items()}
    for name, vfs in INTERFACE_VFS.items():
        for vf in vfs:
            assert Path(name).stem in owners[vf], (name, vf)
    info = next(i for i in hv.list_domains() if i.name == "net-virtio-teaming")
    assert info.hostdevs == [A("0000:03:07.1"), A("0000:03:07.2")]
    uses = domain_uses(hv)[A("0000:06:12.1")]
    assert "<interface type='hostdev'> of VM 'net-hostdev-vfio'" in uses[0].detail
    assert uses[0].fix == "vfio-tui detach 0000:06:12.1 net-hostdev-vfio"


def test_detach_removes_the_whole_interface() -> None:
    text = (CORPUS / "qemuxml2xmloutdata/net-virtio-teaming.xml").read_text()
    dom = DomainXml(text)
    el = dom.find_hostdev(A("0000:03:07.2"))
    assert el is not None and el.tag == "interface"
    assert element_text(el).startswith("<interface type='hostdev' managed='yes'>\n  <mac address='66:44:33:22:11:00'/>")
    assert dom.remove_hostdev(A("0000:03:07.2"))
    out = dom.to_string()
    # gone with its <mac> and <teaming>; its virtio partner (same MAC, alias ua-backup1) stays
    assert "persistent='ua-backup1'" not in out and out.count("66:44:33:22:11:00") == 1
    assert "<alias name='ua-backup1'/>" in out and "0x03' slot='0x07' function='0x1'" in out
    assert [str(h.address) for h in dom.hostdevs()] == ["0000:03:07.1"]


def test_the_vf_interface_is_generated_as_libvirt_formats_it(hv: Hypervisor) -> None:
    vf = interface_hostdev(A("0000:07:10.2"), mac="52:54:00:6d:90:02", vlan=42)
    text = hostdev_text(vf)
    assert text == (HERE / "golden" / "interface-hostdev-vf.xml").read_text()
    # libvirt gives the same element back after a define (its own formatter, virDomainNetDefFormat)
    dom = DomainXml("<domain type='test'>\n  <name>vf</name>\n  <memory>131072</memory>\n  <os>\n"
                    "    <type>hvm</type>\n  </os>\n  <devices>\n  </devices>\n</domain>\n")
    dom.add_hostdev(vf)
    hv.define(dom.to_string())
    back = DomainXml(hv.xml("vf", inactive=True))
    el = back.find_hostdev(A("0000:07:10.2"))
    assert el is not None
    target = el.find("target")  # the test driver names the guest NIC (testnet0); nothing else differs
    assert target is not None
    el.remove(target)
    assert element_text(el) == text
    assert back.hostdevs() == [vf]
    unmanaged = interface_hostdev(A("0000:07:10.3"), mac="52:54:00:6d:90:03", managed=False)
    assert hostdev_text(unmanaged).startswith("<interface type='hostdev'>\n")  # libvirt writes no managed='no'


def test_a_vf_from_a_hostdev_network_is_read_from_the_status_xml() -> None:
    dom = DomainXml("""<domain type='kvm'><devices>
      <interface type='network'>
        <mac address='52:54:00:11:22:33'/>
        <source network='vf-pool'/>
        <actual type='hostdev' managed='yes'>
          <driver name='vfio'/>
          <source><address type='pci' domain='0x0000' bus='0x07' slot='0x10' function='0x3'/></source>
        </actual>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
      </interface>
      <interface type='network'><source network='default'/></interface>
      <interface type='hostdev' managed='yes'><source><vendor id='0x1'/><product id='0x2'/></source></interface>
    </devices></domain>""")
    (vf,) = dom.hostdevs()  # the plain network NIC and the USB one are no PCI hostdevs
    assert (str(vf.address), vf.interface, vf.network, vf.managed, vf.mac) == (
        "0000:07:10.3", True, "vf-pool", True, "52:54:00:11:22:33")


def test_plain_hostdevs_keep_their_element_name() -> None:
    assert Hostdev(A("0b:00.0")).element_name == "<hostdev>"
    assert interface_hostdev(A("07:10.2")).element_name == "<interface type='hostdev'>"
