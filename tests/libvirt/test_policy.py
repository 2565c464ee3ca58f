"""The hostdev decisions: which functions a device needs and where they go in the guest."""

from __future__ import annotations

import pytest

from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.policy import (
    NoGuestSlotError,
    build_hostdevs,
    guest_layout,
    needed_functions,
    slot_functions,
)
from vfio_tui.core.libvirt.xml import DomainXml, GuestAddress, PciController

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
    <disk><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk><video/></devices></domain>"""
    layout = guest_layout([A("0a:00.0"), A("0a:00.1")], DomainXml(xml))
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 0, 4, 0, True)  # 1: PIIX3, 2: the video, 3: the disk
    # no video at all: libvirt leaves 00:02 free, and so does the placement not skip it
    layout = guest_layout([A("0a:00.0"), A("0a:00.1")], DomainXml(xml.replace("<video/>", "")))
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 0, 2, 0, True)


def test_single_function_is_left_to_libvirt() -> None:
    assert guest_layout([A("0b:00.0")], DomainXml(Q35)).guest == {A("0b:00.0"): None}


CARD = [A("0a:00.0"), A("0a:00.1")]


def i440fx(bus0_free: set[int], extra: str = "") -> DomainXml:
    """An i440fx guest whose bus 0 has devices on every slot 3-31 except `bus0_free`."""
    disks = "".join(f"<disk><address type='pci' domain='0x0000' bus='0x00' slot='{s:#04x}' function='0x0'/></disk>"
                    for s in range(3, 32) if s not in bus0_free)
    return DomainXml(f"""<domain><name>full</name><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
    <devices><controller type='pci' index='0' model='pci-root'/>{extra}{disks}<video><model type='vga'/>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video></devices></domain>""")


BRIDGE = """<controller type='pci' index='1' model='pci-bridge'>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x0'/></controller>"""


def test_i440fx_with_bus_0_full_uses_a_pci_bridge_never_a_root_port() -> None:
    # the issue-20 finding: this used to add a pcie-root-port, which libvirt refuses on i440fx
    dom = i440fx({0x1F}, BRIDGE)  # bus 0: disks in 3-30, the bridge in 31
    layout = guest_layout(CARD, dom)
    assert layout.problem == "" and layout.new_controllers == []
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 1, 1, 0, True)
    assert layout.guest[A("0a:00.1")] == GuestAddress(0, 1, 1, 1)


def test_i440fx_uses_a_pci_expander_bus_from_slot_0() -> None:
    pxb = """<controller type='pci' index='1' model='pci-expander-bus'><target busNr='254'/></controller>"""
    layout = guest_layout(CARD, i440fx(set(), pxb))
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 1, 0, 0, True) and layout.new_controllers == []


def test_i440fx_with_one_free_slot_for_two_cards_adds_a_pci_bridge_there() -> None:
    two_cards = [*CARD, A("0c:00.0"), A("0c:00.1")]
    layout = guest_layout(two_cards, i440fx({0x1E}))
    assert layout.new_controllers == [PciController(1, "pci-bridge", GuestAddress(0, 0, 0x1E, 0))]
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 1, 1, 0, True)
    assert layout.guest[A("0c:00.1")] == GuestAddress(0, 1, 2, 1)
    assert layout.new_root_ports == []


def test_i440fx_with_nothing_free_is_refused_with_the_reason() -> None:
    layout = guest_layout(CARD, i440fx(set()))
    assert "no free guest PCI slot" in layout.problem and "pcie-root-port" in layout.problem
    assert "virsh edit full" in layout.fix
    with pytest.raises(NoGuestSlotError) as err:
        build_hostdevs(CARD, domain=i440fx(set()))
    assert err.value.exit_code == 3
    # a single function too: libvirt's own attempt ends in "index must be larger than bus"
    assert guest_layout([A("0b:00.0")], i440fx(set())).problem


def test_q35_uses_a_free_switch_downstream_port() -> None:
    xml = Q35.replace("</devices>", """<controller type='pci' index='3' model='pcie-switch-upstream-port'>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></controller>
      <controller type='pci' index='4' model='pcie-switch-downstream-port'>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></controller></devices>""")
    layout = guest_layout([A("02:00.0"), A("02:00.1"), *CARD], DomainXml(xml))
    # port 1 is taken by the NIC, port 2 by the upstream port: the downstream port 4 is free
    assert layout.guest[A("02:00.0")] == GuestAddress(0, 4, 0, 0, True)
    assert layout.guest[A("0a:00.1")] == GuestAddress(0, 5, 0, 1)  # and the next card gets a new root port
    assert layout.new_controllers == [PciController(5, "pcie-root-port")]


def test_q35_with_pcie_root_full_is_refused() -> None:
    ports = "".join(f"<controller type='pci' index='{i}' model='pcie-root-port'><address type='pci' domain='0x0000'"
                    f" bus='0x00' slot='{(i - 1) // 8 + 1:#04x}' function='{(i - 1) % 8:#x}'/></controller>"
                    f"<disk><address type='pci' domain='0x0000' bus='{i:#04x}' slot='0x00' function='0x0'/></disk>"
                    for i in range(1, 8 * 30 + 1))
    dom = DomainXml(f"<domain><name>q</name><os><type machine='q35'>hvm</type></os><devices>"
                    f"<controller type='pci' index='0' model='pcie-root'/>{ports}</devices></domain>")
    layout = guest_layout(CARD, dom)
    assert "no free pcie-root-port" in layout.problem and layout.new_controllers == []


def test_a_pcie_guest_never_gets_a_bridge_nor_a_pci_guest_a_root_port() -> None:
    for dom in (i440fx({0x1E}), i440fx({0x1F}, BRIDGE), DomainXml(Q35)):
        for n in range(1, 6):
            cards = [A(f"{0x10 + i:02x}:00.{f}") for i in range(n) for f in (0, 1)]
            models = {c.model for c in guest_layout(cards, dom).new_controllers}
            assert models <= ({"pcie-root-port"} if "q35" in dom.machine else {"pci-bridge"})


def test_hostdev_xml_without_a_domain_uses_placeholder_slots() -> None:
    layout = guest_layout([*CARD, A("0c:00.0"), A("0c:00.1")])
    assert layout.guest[A("0a:00.0")] == GuestAddress(0, 0, 0x10, 0, True)
    assert layout.guest[A("0c:00.0")] == GuestAddress(0, 0, 0x11, 0, True)
