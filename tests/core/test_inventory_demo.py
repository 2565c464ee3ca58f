"""The demo host's inventory: the seed's three cases and the verdicts a user sees."""

from __future__ import annotations

from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import Host


def test_seed_hba_is_alone_in_group_19(demo_host: Host) -> None:
    inv = demo_host.inventory()
    group = inv.groups[19]
    assert group.members == (PciAddress.parse("0000:0b:00.0"),)
    dev = inv.devices[group.members[0]]
    assert (dev.vendor_id, dev.device_id, dev.class_short, dev.driver) == ("1077", "2432", "0c04", "qla2xxx")
    assert inv.verdicts[19].kind == "bindable"


def test_dual_port_nic_shares_a_group(demo_host: Host) -> None:
    inv = demo_host.inventory()
    assert [str(a) for a in inv.groups[13].members] == ["0000:02:00.0", "0000:02:00.1"]
    assert all(inv.devices[a].multifunction for a in inv.groups[13].members)


def test_ich10_root_ports_share_group_8_with_what_is_behind_them(demo_host: Host) -> None:
    inv = demo_host.inventory()
    members = inv.members(8)
    bridges = {str(d.address) for d in members if d.is_bridge}
    assert bridges == {"0000:00:1c.0", "0000:00:1c.2", "0000:00:1c.4"}
    assert all(d.acs is None for d in members if d.is_bridge)
    assert inv.devices[PciAddress.parse("0000:05:00.1")].boot_vga


def test_vf_already_on_vfio_is_ready(demo_host: Host) -> None:
    inv = demo_host.inventory()
    assert inv.verdicts[17].kind == "ready"
    vf = inv.devices[PciAddress.parse("0000:07:10.2")]
    assert vf.physfn == PciAddress.parse("0000:07:00.0")
    pf = inv.devices[PciAddress.parse("0000:07:00.0")]
    assert (pf.sriov_total_vfs, pf.sriov_num_vfs) == (63, 2)
    assert inv.verdicts[14].kind == "blocked"


def test_vf_with_hardware_ffff_ids_uses_the_kernel_ids(sim_root) -> None:  # type: ignore[no-untyped-def]
    from vfio_tui.core.sysfs_reader import read_inventory

    cfg = sim_root.pci_device("0000:07:10.0") / "config"
    raw = bytearray(cfg.read_bytes())
    raw[0:4] = b"\xff\xff\xff\xff"  # what a real VF's config space says
    cfg.write_bytes(bytes(raw))
    dev = read_inventory(sim_root).devices[PciAddress.parse("0000:07:10.0")]
    assert (dev.vendor_id, dev.device_id) == ("8086", "10ed")
