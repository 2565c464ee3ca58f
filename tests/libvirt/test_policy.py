"""The hostdev decisions: which functions a device needs and where they go in the guest."""

from __future__ import annotations

from core.address import PciAddress
from core.host import Host
from core.libvirt.policy import guest_layout, needed_functions, slot_functions
from core.libvirt.xml import DomainXml, GuestAddress

A = PciAddress.parse


def test_single_device_group_needs_only_itself(demo_host: Host) -> None:
    assert needed_functions(demo_host.inventory(), A("0000:0b:00.0")) == [A("0000:0b:00.0")]


def test_multifunction_group_needs_every_function(demo_host: Host) -> None:
    inv = demo_host.inventory()
    assert needed_functions(inv, A("0000:02:00.1")) == [A("0000:02:00.1"), A("0000:02:00.0")]
    assert slot_functions(inv, A("0000:0a:00.1")) == [A("0000:0a:00.0"), A("0000:0a:00.1")]


def test_root_ports_of_a_group_are_never_needed(demo_host: Host) -> None:
    needed = needed_functions(demo_host.inventory(), A("0000:03:00.0"))
    assert A("0000:00:1c.0") not in needed and A("0000:03:00.1") in needed


Q35 = """<domain type='kvm'><os><type machine='pc-q35-7.2'>hvm</type></os><devices>
<controller type='pci' index='0' model='pcie-root'/>
<controller type='pci' index='1' model='pcie-root-port'><address type='pci' bus='0x00' slot='0x02'/></controller>
<controller type='pci' index='2' model='pcie-root-port'><address type='pci' bus='0x00' slot='0x02' function='0x1'/></controller>
<interface type='network'><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
</devices></domain>"""


def test_q35_multifunction_goes_to_a_free_root_port() -> None:
    layout = guest_layout([A("0a:00.0"), A("0a:00.1")], DomainXml(Q35))
    assert layout.guest == {A("0a:00.0"): GuestAddress(0, 2, 0, 0, True), A("0a:00.1"): GuestAddress(0, 2, 0, 1)}
    assert layout.new_root_ports == []


def test_q35_without_a_free_port_gets_a_new_one() -> None:
    layout = guest_layout([A("0a:00.0"), A("0a:00.1"), A("02:00.0"), A("02:00.1")], DomainXml(Q35))
    assert layout.new_root_ports == [3]
    assert layout.guest[A("02:00.1")] == GuestAddress(0, 3, 0, 1)


def test_i440fx_multifunction_uses_a_free_slot_on_bus_0() -> None:
    xml = """<domain><os><type machine='pc-i440fx-7.2'>hvm</type></os><devices>
    <disk><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk></devices></domain>"""
    layout = guest_layout([A("0a:00.0"), A("0a:00.1")], DomainXml(xml))
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 0, 4, 0, True)


def test_single_function_is_left_to_libvirt() -> None:
    assert guest_layout([A("0b:00.0")], DomainXml(Q35)).guest == {A("0b:00.0"): None}
